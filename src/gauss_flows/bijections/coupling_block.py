"""The coupling Gaussianization block: a rotation, then two mixture-CDF couplings."""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
from flowjax.bijections import Scan
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array

from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.coupling import MixtureGaussianCDFCoupling, activation_name
from gauss_flows.bijections.rotation import HouseholderRotation

__all__ = ["CouplingGaussianizationBlock"]


class CouplingGaussianizationBlock(AbstractGaussianizationBlock):
    """Rotate, then two :class:`MixtureGaussianCDFCoupling` layers with swapped roles.

    ``first`` transforms one part of the dimensions given the other, ``second`` the other
    part given the (already transformed) first, so every dimension moves once per block.

    Args:
        rotation: The block's rotation.
        first: The coupling applied first (conditioning on the leading dimensions).
        second: The coupling applied second (conditioning on the trailing dimensions).

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import (
        ...     CouplingGaussianizationBlock, HouseholderRotation, MixtureGaussianCDFCoupling)
        >>> k1, k2, k3 = jr.split(jr.key(0), 3)
        >>> block = CouplingGaussianizationBlock(
        ...     HouseholderRotation.random(k1, n_dims=2),
        ...     MixtureGaussianCDFCoupling.random(k2, n_dims=2, n_components=3, cond_first=True),
        ...     MixtureGaussianCDFCoupling.random(k3, n_dims=2, n_components=3, cond_first=False))
        >>> z, log_det = block.transform_and_log_det(jnp.array([0.5, -1.0]))

    References:
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
    """

    rotation: HouseholderRotation
    first: MixtureGaussianCDFCoupling
    second: MixtureGaussianCDFCoupling
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    builder: ClassVar[str] = "coupling_gaussianization_flow"

    def __init__(
        self,
        rotation: HouseholderRotation,
        first: MixtureGaussianCDFCoupling,
        second: MixtureGaussianCDFCoupling,
    ):
        if not rotation.shape == first.shape == second.shape:
            raise ValueError(
                f"the block's layers must share one shape; got {rotation.shape}, "
                f"{first.shape} and {second.shape}"
            )
        self.rotation, self.first, self.second = rotation, first, second
        self.shape = rotation.shape

    @property
    def layers(
        self,
    ) -> tuple[HouseholderRotation, MixtureGaussianCDFCoupling, MixtureGaussianCDFCoupling]:
        """The block's three layers in the order they apply: rotation, first, second."""
        return (self.rotation, self.first, self.second)

    def sub_steps(self) -> tuple[AbstractBijection, ...]:
        """``(FixedRotation, first, second)``: the block's rotation, then its two couplings."""
        from gauss_flows.bijections.fixed_rotation import FixedRotation

        return FixedRotation(self.rotation.matrix), self.first, self.second

    def rotation_parts(self) -> tuple[HouseholderRotation]:
        return (self.rotation,)

    def architecture(self) -> dict[str, Any]:
        mlp = self.first.conditioner
        return {
            "n_components": int(self.first.logits.shape[-1]),
            "nn_width": int(mlp.width_size),
            "nn_depth": int(mlp.depth),
            "nn_activation": activation_name(mlp.activation),
            "input_bound": float(self.first.input_bound),
            "offset_bound": float(self.first.offset_bound),
            "log_scale_bound": float(self.first.log_scale_bound),
        }

    def transform_and_log_det(self, x, condition=None):
        log_det = 0.0
        for layer in self.layers:
            x, log_det_layer = layer.transform_and_log_det(x)
            log_det = log_det + log_det_layer
        return x, log_det

    def inverse_and_log_det(self, y, condition=None):
        log_det = 0.0
        for layer in reversed(self.layers):
            y, log_det_layer = layer.inverse_and_log_det(y)
            log_det = log_det + log_det_layer
        return y, log_det

    def stacked_transform_and_log_det(self, x: Array) -> tuple[Array, Array]:
        return Scan(self).transform_and_log_det(x)

    def stacked_inverse_and_log_det(self, z: Array) -> tuple[Array, Array]:
        return Scan(self).inverse_and_log_det(z)
