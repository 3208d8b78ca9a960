"""The spline coupling Gaussianization block: a rotation, then one RQ-spline coupling."""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
from flowjax.bijections import Scan
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array

from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.coupling import activation_name
from gauss_flows.bijections.fixed_rotation import FixedRotation
from gauss_flows.bijections.flowjax_couplings import RQSplineCoupling
from gauss_flows.bijections.rotation import HouseholderRotation

__all__ = ["SplineCouplingBlock"]


class SplineCouplingBlock(AbstractGaussianizationBlock):
    """Rotate, then transform the trailing half of the dimensions given the leading half.

    The coupling is an :class:`RQSplineCoupling` (a monotone rational-quadratic spline per
    active dimension, its knots set by a conditioner network of the passive half). The
    trainable rotation in front of every coupling decides which directions are passive
    in the next block, the role a fixed permutation or ``Flip`` plays in a plain coupling
    flow, so one coupling per block suffices.

    Args:
        rotation: The block's rotation.
        coupling: The block's spline coupling, of the same shape.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import (HouseholderRotation, RQSplineCoupling,
        ...     SplineCouplingBlock)
        >>> block = SplineCouplingBlock(HouseholderRotation(shape=(2,)),
        ...     RQSplineCoupling(jr.key(0), shape=(2,), n_bins=4, nn_width=8, nn_depth=1))
        >>> z, log_det = block.transform_and_log_det(jnp.array([0.5, -1.0]))

    References:
        Durkan, Bekasov, Murray and Papamakarios (2019), "Neural spline flows", NeurIPS.
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
    """

    rotation: HouseholderRotation
    coupling: RQSplineCoupling
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    builder: ClassVar[str] = "coupling_gaussianization_flow"

    def __init__(self, rotation: HouseholderRotation, coupling: RQSplineCoupling):
        if rotation.shape != coupling.shape:
            raise ValueError(
                f"the rotation acts on shape {rotation.shape} but the coupling on {coupling.shape}"
            )
        if coupling.cond_shape is not None:
            raise ValueError("a Gaussianization block's coupling must be unconditional")
        self.rotation, self.coupling = rotation, coupling
        self.shape = rotation.shape

    def sub_steps(self) -> tuple[AbstractBijection, AbstractBijection]:
        """``(FixedRotation, RQSplineCoupling)``: the block's rotation, then its coupling."""
        return FixedRotation(self.rotation.matrix), self.coupling

    def rotation_parts(self) -> tuple[HouseholderRotation]:
        return (self.rotation,)

    def architecture(self) -> dict[str, Any]:
        mlp = self.coupling._coupling.conditioner
        return {
            "n_bins": int(self.coupling.n_bins),
            "interval": float(self.coupling.interval),
            "nn_width": int(mlp.width_size),
            "nn_depth": int(mlp.depth),
            "nn_activation": activation_name(mlp.activation),
        }

    def transform_and_log_det(self, x, condition=None):
        y, _ = self.rotation.transform_and_log_det(x)  # orthogonal: log-det 0
        return self.coupling.transform_and_log_det(y)

    def inverse_and_log_det(self, y, condition=None):
        x, log_det = self.coupling.inverse_and_log_det(y)
        return self.rotation.inverse(x), log_det

    def stacked_transform_and_log_det(self, x: Array) -> tuple[Array, Array]:
        return Scan(self).transform_and_log_det(x)

    def stacked_inverse_and_log_det(self, z: Array) -> tuple[Array, Array]:
        return Scan(self).inverse_and_log_det(z)
