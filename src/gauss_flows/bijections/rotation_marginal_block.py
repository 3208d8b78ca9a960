"""A Gaussianization block of any rotation layer and any per-dimension marginal layer."""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
from flowjax.bijections import Scan
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array

from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.families import (
    marginal_architecture,
    rotation_architecture,
    rotation_matrix,
)
from gauss_flows.bijections.fixed_rotation import FixedRotation

__all__ = ["RotationMarginalBlock"]


class RotationMarginalBlock(AbstractGaussianizationBlock):
    """Rotate, then Gaussianize each dimension by a layer of one of the marginal families.

    The general form of a diagonal block: the rotation is a layer of one of the rotation
    families (:class:`HouseholderRotation`, :class:`OrthogonalRotation`) and the marginal
    a layer of one of the marginal families (:class:`MixtureLogisticCDF`,
    :class:`HistogramGaussianCDF`, :class:`RQSplineMarginal`); see
    :mod:`gauss_flows.bijections.families`. A stack of such blocks runs the depth with
    flowjax's ``Scan``. The Householder rotation with a Gaussian-mixture marginal has its
    own faster block, :class:`GaussianizationBlock`.

    Args:
        rotation: The block's rotation layer.
        marginal: The block's per-dimension marginal layer, of the same shape.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import (HouseholderRotation, RQSplineMarginal,
        ...     RotationMarginalBlock)
        >>> block = RotationMarginalBlock(HouseholderRotation(shape=(2,)),
        ...     RQSplineMarginal(n_bins=4, shape=(2,)))
        >>> z, log_det = block.transform_and_log_det(jnp.array([0.5, -1.0]))

    References:
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """

    rotation: AbstractBijection
    marginal: AbstractBijection
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    builder: ClassVar[str] = "gaussianization_flow"

    def __init__(self, rotation: AbstractBijection, marginal: AbstractBijection):
        if rotation.shape != marginal.shape:
            raise ValueError(
                f"the rotation acts on shape {rotation.shape} but the marginal layer on "
                f"{marginal.shape}"
            )
        rotation_architecture(rotation)  # a clear error for a layer of no rotation family
        marginal_architecture(marginal)
        self.rotation, self.marginal = rotation, marginal
        self.shape = rotation.shape

    def sub_steps(self) -> tuple[AbstractBijection, AbstractBijection]:
        """``(FixedRotation, marginal)``: the block's rotation matrix, then its marginal layer."""
        return FixedRotation(rotation_matrix(self.rotation)), self.marginal

    def rotation_parts(self) -> tuple[AbstractBijection]:
        return (self.rotation,)

    def architecture(self) -> dict[str, Any]:
        return rotation_architecture(self.rotation) | marginal_architecture(self.marginal)

    def transform_and_log_det(self, x, condition=None):
        y, log_det_rotation = self.rotation.transform_and_log_det(x)
        z, log_det_marginal = self.marginal.transform_and_log_det(y)
        return z, log_det_rotation + log_det_marginal

    def inverse_and_log_det(self, y, condition=None):
        x, log_det_marginal = self.marginal.inverse_and_log_det(y)
        x, log_det_rotation = self.rotation.inverse_and_log_det(x)
        return x, log_det_marginal + log_det_rotation

    def stacked_transform_and_log_det(self, x: Array) -> tuple[Array, Array]:
        return Scan(self).transform_and_log_det(x)

    def stacked_inverse_and_log_det(self, z: Array) -> tuple[Array, Array]:
        return Scan(self).inverse_and_log_det(z)
