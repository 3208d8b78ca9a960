"""A conditional Gaussianizer: a diagonal Gaussianization stack whose marginals read a condition."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import paramax
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._validation import check_int
from gauss_flows.bijections.conditional_marginal import conditional_offsets
from gauss_flows.bijections.coupling import activation_name, conditioner_mlp
from gauss_flows.bijections.diagonal_block import (
    GaussianizationBlock,
    _degaussianize,
    _gaussianize,
)
from gauss_flows.bijections.rotation import householder_product
from gauss_flows.bijections.stack import GaussianizationStack

__all__ = ["ConditionalGaussianizationStack"]


class ConditionalGaussianizationStack(AbstractBijection):
    r"""The Gaussianizer of :math:`p(x \mid y)`: standardise, then rotate and Gaussianize each
    dimension with mixture CDFs whose parameters depend on the condition, block by block.

    Block ``k`` maps :math:`x \mapsto G_k(Q_k x \mid y)`, where :math:`Q_k` is the block's
    rotation and :math:`G_k(\cdot \mid y)` the mixture-CDF marginal map of
    :class:`~gauss_flows.bijections.ConditionalMixtureGaussianCDF`: the block's mixture
    parameters plus bounded offsets from one network per block, whose input is the
    standardised condition (the standardisation is fixed, like the data's). The
    rotations and mixture parameters live in an unconditional
    :class:`~gauss_flows.bijections.GaussianizationStack` (:attr:`stack`), so with the
    networks' output weights at zero this bijection is that stack, exactly, for every
    condition; this is how :func:`~gauss_flows.fit_rbig` writes a greedy fit as a
    conditional flow whose dependence on the condition starts at zero.

    Args:
        key: JAX random key (the networks' hidden layers).
        stack: The unconditional stack of diagonal blocks
            (:class:`~gauss_flows.bijections.GaussianizationBlock`).
        cond_loc: Per-column location of the condition's standardisation.
        cond_scale: Per-column scale of the condition's standardisation (positive).
        nn_width: Hidden width of each block's network.
        nn_depth: Hidden layers of each block's network.
        nn_activation: Hidden activation.
        output_scale: Factor on the networks' initial output weights (0: no dependence
            on the condition at initialisation).
        offset_bound: Bound of the offsets to logits and means.
        log_scale_bound: Bound of the offsets to log scales.

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> from gauss_flows.bijections import ConditionalGaussianizationStack
        >>> stack = layout.gaussianizer(gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2))
        >>> cond = ConditionalGaussianizationStack(jr.key(1), stack, jnp.zeros(1), jnp.ones(1))
        >>> x = jnp.array([0.5, -1.0])
        >>> bool(jnp.all(cond.transform(x, jnp.ones(1)) == stack.transform(x)))
        True
    """

    stack: GaussianizationStack
    condition_moments: paramax.NonTrainable
    conditioners: eqx.nn.MLP
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] = eqx.field(static=True)
    offset_bound: float = eqx.field(static=True)
    log_scale_bound: float = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        stack: GaussianizationStack,
        cond_loc: ArrayLike,
        cond_scale: ArrayLike,
        *,
        nn_width: int = 32,
        nn_depth: int = 1,
        nn_activation: Callable[[Array], Array] = jax.nn.silu,
        output_scale: float = 0.0,
        offset_bound: float = 3.0,
        log_scale_bound: float = 3.0,
    ):
        if not isinstance(stack, GaussianizationStack) or not isinstance(
            stack.blocks, GaussianizationBlock
        ):
            raise ValueError(
                "a conditional Gaussianizer is built on a GaussianizationStack of diagonal "
                "blocks (rotation + MixtureGaussianCDF); got "
                f"{type(getattr(stack, 'blocks', stack)).__name__}"
            )
        loc = jnp.asarray(cond_loc, stack.blocks.logits.dtype)
        scale = jnp.asarray(cond_scale, stack.blocks.logits.dtype)
        if loc.ndim != 1 or loc.shape != scale.shape:
            raise ValueError(
                f"cond_loc and cond_scale must be 1-D of one length; got {loc.shape}, {scale.shape}"
            )
        traced = isinstance(loc, jax.core.Tracer) or isinstance(scale, jax.core.Tracer)
        if not traced and not (
            bool(jnp.all(jnp.isfinite(loc))) and bool(jnp.all(jnp.isfinite(scale) & (scale > 0)))
        ):
            raise ValueError(
                f"cond_loc must be finite and cond_scale finite and positive; got {loc}, {scale}"
            )
        for name, value in (("offset_bound", offset_bound), ("log_scale_bound", log_scale_bound)):
            if not float(value) > 0:
                raise ValueError(f"{name} must be positive; got {value!r}")
        n_layers, d, k = stack.blocks.logits.shape
        cond_dim = int(loc.shape[0])
        make = lambda kk: conditioner_mlp(
            kk, in_size=cond_dim, out_size=3 * d * k, width=check_int("nn_width", nn_width),
            depth=check_int("nn_depth", nn_depth, least=0), activation=nn_activation,
            output_scale=output_scale,
        )
        self.conditioners = eqx.filter_vmap(make)(jr.split(key, n_layers))
        self.stack = stack
        self.condition_moments = paramax.NonTrainable((-loc / scale, 1.0 / scale))
        self.shape, self.cond_shape = stack.shape, (cond_dim,)
        self.offset_bound, self.log_scale_bound = float(offset_bound), float(log_scale_bound)

    @property
    def n_layers(self) -> int:
        """Number of blocks."""
        return self.stack.n_layers

    @property
    def cond_loc(self) -> Array:
        """Per-column location of the condition's standardisation."""
        shift, multiplier = paramax.unwrap(self.condition_moments)
        return -shift / multiplier

    @property
    def cond_scale(self) -> Array:
        """Per-column scale of the condition's standardisation."""
        return 1.0 / paramax.unwrap(self.condition_moments)[1]

    def architecture(self) -> dict[str, Any]:
        """Sizes that rebuild this bijection's structure (with :attr:`stack`'s own)."""
        return {
            "cond_dim": int(self.cond_shape[0]),
            "nn_width": int(self.conditioners.width_size),
            "nn_depth": int(self.conditioners.depth),
            "nn_activation": activation_name(self.conditioners.activation),
            "offset_bound": self.offset_bound,
            "log_scale_bound": self.log_scale_bound,
        }

    def offsets(self, condition: Array) -> tuple[Array, Array, Array]:
        """Every block's offsets ``(logits, means, log_scales)``, each ``(n_layers, d, K)``."""
        if condition is None:
            raise ValueError(f"this Gaussianizer is conditional: pass a condition of shape {self.cond_shape}")
        shift, multiplier = paramax.unwrap(self.condition_moments)
        dtype = self.stack.blocks.logits.dtype
        u = jnp.asarray(condition, dtype) * multiplier + shift
        raw = eqx.filter_vmap(lambda net: net(u))(self.conditioners)
        shape = self.stack.blocks.logits.shape[1:]
        one = lambda r: conditional_offsets(r, shape, self.offset_bound, self.log_scale_bound)
        return jax.vmap(one)(raw)

    def _blocks(self, condition: Array) -> tuple[Array, ...]:
        b = self.stack.blocks
        offsets = self.offsets(condition)
        matrices = jax.vmap(householder_product)(b.vectors, b.signs)
        params = tuple(p + o for p, o in zip((b.logits, b.means, b.log_scales), offsets))
        return (matrices, *params)

    def transform_with_intermediates(self, x: Array, condition: Array) -> tuple[Array, Array]:
        """One row through the blocks, keeping the point and cumulative log-det after each.

        Returns:
            ``(states, log_dets)`` of shapes ``(n_layers + 1, d)`` and ``(n_layers + 1,)``:
            row 0 after the standardisation, row ``b`` after block ``b``.
        """
        x, log_det = self.stack.standardizer.transform_and_log_det(x)

        def step(carry, block):
            y, total = carry
            z, block_log_det = _gaussianize(y, *block)
            out = (z, total + block_log_det)
            return out, out

        _, (zs, lds) = jax.lax.scan(step, (x, log_det), self._blocks(condition))
        return jnp.concatenate([x[None], zs]), jnp.concatenate([log_det[None], lds])

    def transform_and_log_det(self, x, condition=None):
        x, log_det = self.stack.standardizer.transform_and_log_det(x)

        def step(carry, block):
            y, total = carry
            z, block_log_det = _gaussianize(y, *block)
            return (z, total + block_log_det), None

        (z, log_det_blocks), _ = jax.lax.scan(step, (x, jnp.zeros((), x.dtype)), self._blocks(condition))
        return z, log_det + log_det_blocks

    def inverse_and_log_det(self, y, condition=None):
        steps = self.stack.blocks.max_inverse_steps

        def step(carry, block):
            z, total = carry
            x, block_log_det = _degaussianize(z, *block, steps)
            return (x, total + block_log_det), None

        (x, log_det_blocks), _ = jax.lax.scan(
            step, (y, jnp.zeros((), y.dtype)), self._blocks(condition), reverse=True
        )
        x, log_det = self.stack.standardizer.inverse_and_log_det(x)
        return x, log_det_blocks + log_det
