"""The diagonal Gaussianization block: a rotation, then a mixture-CDF map per dimension."""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from flowjax.bijections import Scan
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, Int

from gauss_flows._compile_mode import native_reductions_enabled
from gauss_flows.bijections.mixture_cdf import mixture_degaussianize, mixture_gaussianize
from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.rotation import HouseholderRotation, apply_matrix, householder_product

__all__ = ["GaussianizationBlock"]


class GaussianizationBlock(AbstractGaussianizationBlock):
    r"""One block of a diagonal Gaussianization flow: rotate, then Gaussianize each dimension.

    The map is :math:`z = G(Q x)`, with ``Q`` a :class:`HouseholderRotation` and ``G`` a
    :class:`MixtureGaussianCDF`; both layers' parameters are held as fields of this
    one module (:attr:`rotation` and :attr:`marginal` rebuild the layers), which keeps the
    module tree of a deep flow small. Stacked along a leading depth axis, the rotation
    matrices of all blocks are formed at once, outside the loop over depth.

    Args:
        rotation: The block's rotation.
        marginal: The block's per-dimension mixture-CDF map, of the same dimension.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import (
        ...     GaussianizationBlock, HouseholderRotation, MixtureGaussianCDF)
        >>> block = GaussianizationBlock(
        ...     HouseholderRotation.random(jr.key(0), n_dims=2),
        ...     MixtureGaussianCDF.identity(n_dims=2, n_components=3))
        >>> z, log_det = block.transform_and_log_det(jnp.array([0.5, -1.0]))

    References:
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
    """

    vectors: Array
    signs: Int[Array, " d"]
    logits: Array
    means: Array
    log_scales: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    max_inverse_steps: int = eqx.field(static=True, default=100)
    builder: ClassVar[str] = "gaussianization_flow"

    def __init__(self, rotation: HouseholderRotation, marginal: MixtureGaussianCDF):
        if rotation.shape != marginal.shape:
            raise ValueError(
                f"the rotation acts on shape {rotation.shape} but the marginal map on "
                f"{marginal.shape}"
            )
        self.vectors, self.signs = rotation.householder_factors()
        self.logits, self.means, self.log_scales = (
            marginal.logits,
            marginal.means,
            marginal.log_scales,
        )
        self.shape = rotation.shape
        self.max_inverse_steps = marginal.max_inverse_steps

    @property
    def rotation(self) -> HouseholderRotation:
        """The block's rotation, as a layer of its own (for one block, not a stack)."""
        return HouseholderRotation(params=self.vectors[::-1], signs=self.signs)

    @property
    def marginal(self) -> MixtureGaussianCDF:
        """The block's mixture-CDF map, as a layer of its own (for one block, not a stack)."""
        return MixtureGaussianCDF(
            logits=self.logits, means=self.means, log_scales=self.log_scales,
            max_inverse_steps=self.max_inverse_steps,
        )

    def sub_steps(self) -> tuple[AbstractBijection, AbstractBijection]:
        """``(FixedRotation, MixtureGaussianCDF)``: the block's rotation, then its marginals."""
        from gauss_flows.bijections.fixed_rotation import FixedRotation

        matrix = householder_product(self.vectors, self.signs)
        return FixedRotation(matrix), self.marginal

    def rotation_parts(self) -> tuple[Array]:
        return (self.vectors,)

    def architecture(self) -> dict[str, Any]:
        return {"n_components": int(self.logits.shape[-1])}

    def transform_and_log_det(self, x, condition=None):
        matrix = householder_product(self.vectors, self.signs)
        return _gaussianize(x, matrix, self.logits, self.means, self.log_scales)

    def inverse_and_log_det(self, y, condition=None):
        matrix = householder_product(self.vectors, self.signs)
        return _degaussianize(
            y, matrix, self.logits, self.means, self.log_scales, self.max_inverse_steps
        )

    def stacked_transform_and_log_det(self, x: Array) -> tuple[Array, Array]:
        # Traced for XLA's own reduction loops (as the trainer compiles its steps), forming
        # each block's matrix inside the loop is faster; otherwise all matrices are formed
        # first, outside the loop (docs/design.md, "Compiled training steps").
        if native_reductions_enabled():
            return Scan(self).transform_and_log_det(x)
        matrices = jax.vmap(householder_product)(self.vectors, self.signs)

        def step(carry, block):
            y, log_det = carry
            z, log_det_block = _gaussianize(y, *block)
            return (z, log_det + log_det_block), None

        blocks = (matrices, self.logits, self.means, self.log_scales)
        (z, log_det), _ = jax.lax.scan(step, (x, jnp.zeros((), x.dtype)), blocks)
        return z, log_det

    def stacked_inverse_and_log_det(self, z: Array) -> tuple[Array, Array]:
        matrices = jax.vmap(householder_product)(self.vectors, self.signs)

        def step(carry, block):
            y, log_det = carry
            x, log_det_block = _degaussianize(y, *block, self.max_inverse_steps)
            return (x, log_det + log_det_block), None

        blocks = (matrices, self.logits, self.means, self.log_scales)
        (x, log_det), _ = jax.lax.scan(step, (z, jnp.zeros((), z.dtype)), blocks, reverse=True)
        return x, log_det


def _gaussianize(x, matrix, logits, means, log_scales) -> tuple[Array, Array]:
    """One diagonal block, data → latent: rotate by ``matrix``, then the mixture-CDF map."""
    z, log_dz_dy = mixture_gaussianize(apply_matrix(matrix, x), logits, means, log_scales)
    return z, log_dz_dy.sum()


def _degaussianize(z, matrix, logits, means, log_scales, max_steps) -> tuple[Array, Array]:
    """One diagonal block, latent → data: :func:`_gaussianize` undone."""
    y, log_dy_dz = mixture_degaussianize(z, logits, means, log_scales, max_steps=max_steps)
    return apply_matrix(matrix.T, y), log_dy_dz.sum()
