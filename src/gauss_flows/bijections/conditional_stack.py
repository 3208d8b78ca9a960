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
from gauss_flows.bijections.mixture_cdf import mixture_degaussianize, mixture_gaussianize
from gauss_flows.bijections.coupling import activation_name, conditioner_mlp
from gauss_flows.bijections.diagonal_block import (
    GaussianizationBlock,
    _degaussianize,
    _gaussianize,
)
from gauss_flows.bijections.rotation import apply_matrix, householder_product
from gauss_flows.bijections.stack import GaussianizationStack

__all__ = ["CONDITIONAL_ARCHITECTURES", "ConditionalGaussianizationStack"]

#: The block layouts of a conditional Gaussianizer: networks of ``y`` alone, or couplings.
CONDITIONAL_ARCHITECTURES = ("diagonal", "coupling")


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

    With ``architecture="coupling"`` (two or more dimensions) each block is a conditional
    coupling block: after the rotation, the trailing dimensions' offsets come from a
    network of the standardised condition and the soft-clipped leading dimensions, then
    the leading dimensions' offsets from a second network of the condition and the
    transformed trailing ones (the order of
    :class:`~gauss_flows.bijections.CouplingGaussianizationBlock`). The networks can then
    bend one part of ``x`` by the other in a way that depends on ``y`` (a slope of
    ``x_2`` on ``x_1`` that changes with ``y``), which offsets of ``y`` alone and shared
    rotations cannot; with zero output weights the block is still the stack's block,
    exactly.

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
        architecture: ``"diagonal"`` (each block's network reads ``y``) or
            ``"coupling"`` (each block's two networks read ``y`` and one part of the
            rotated point); see :data:`CONDITIONAL_ARCHITECTURES`.
        input_bound: Soft clip ``c tanh(x / c)`` of the point's part that a coupling
            network reads (the condition is not clipped).

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
    second_conditioners: eqx.nn.MLP | None
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] = eqx.field(static=True)
    offset_bound: float = eqx.field(static=True)
    log_scale_bound: float = eqx.field(static=True)
    block_architecture: str = eqx.field(static=True)
    input_bound: float = eqx.field(static=True)

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
        architecture: str = "diagonal",
        input_bound: float = 4.0,
    ):
        if architecture not in CONDITIONAL_ARCHITECTURES:
            raise ValueError(
                f"architecture must be one of {', '.join(map(repr, CONDITIONAL_ARCHITECTURES))}; "
                f"got {architecture!r}"
            )
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
        bounds = (("offset_bound", offset_bound), ("log_scale_bound", log_scale_bound),
                  ("input_bound", input_bound))
        for name, value in bounds:
            if not float(value) > 0:
                raise ValueError(f"{name} must be positive; got {value!r}")
        n_layers, d, k = stack.blocks.logits.shape
        if architecture == "coupling" and d < 2:
            raise ValueError(f"a conditional coupling Gaussianizer needs at least 2 dimensions; got {d}")
        cond_dim = int(loc.shape[0])
        width, depth = check_int("nn_width", nn_width), check_int("nn_depth", nn_depth, least=0)
        make = lambda kk, n_in, n_out: conditioner_mlp(
            kk, in_size=cond_dim + n_in, out_size=3 * n_out * k, width=width, depth=depth,
            activation=nn_activation, output_scale=output_scale,
        )
        k_first, k_second = jr.split(key)
        split = d // 2
        if architecture == "coupling":
            first = lambda kk: make(kk, split, d - split)
            second = lambda kk: make(kk, d - split, split)
            self.conditioners = eqx.filter_vmap(first)(jr.split(k_first, n_layers))
            self.second_conditioners = eqx.filter_vmap(second)(jr.split(k_second, n_layers))
        else:
            self.conditioners = eqx.filter_vmap(lambda kk: make(kk, 0, d))(jr.split(key, n_layers))
            self.second_conditioners = None
        self.stack = stack
        self.condition_moments = paramax.NonTrainable((-loc / scale, 1.0 / scale))
        self.shape, self.cond_shape = stack.shape, (cond_dim,)
        self.offset_bound, self.log_scale_bound = float(offset_bound), float(log_scale_bound)
        self.block_architecture, self.input_bound = architecture, float(input_bound)

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
            "architecture": self.block_architecture,
            "input_bound": self.input_bound,
        }

    def offsets(self, condition: Array) -> tuple[Array, Array, Array]:
        """Every block's offsets ``(logits, means, log_scales)``, each ``(n_layers, d, K)``.

        Raises:
            ValueError: Without a condition, or for the coupling architecture (whose
                offsets depend on the point as well).
        """
        if self.block_architecture == "coupling":
            raise ValueError("a coupling Gaussianizer's offsets depend on the point too, not on y alone")
        u = self._standardised_condition(condition)
        raw = eqx.filter_vmap(lambda net: net(u))(self.conditioners)
        shape = self.stack.blocks.logits.shape[1:]
        one = lambda r: conditional_offsets(r, shape, self.offset_bound, self.log_scale_bound)
        return jax.vmap(one)(raw)

    def _standardised_condition(self, condition: Array) -> Array:
        if condition is None:
            raise ValueError(f"this Gaussianizer is conditional: pass a condition of shape {self.cond_shape}")
        shift, multiplier = paramax.unwrap(self.condition_moments)
        return jnp.asarray(condition, self.stack.blocks.logits.dtype) * multiplier + shift

    def _blocks(self, condition: Array) -> tuple[Any, ...]:
        """What the scan over depth reads per block, and the function of one block.

        Returns ``(xs, forward, inverse)``: ``forward(x, block)`` and
        ``inverse(z, block, max_steps)`` map one point through one block.
        """
        b = self.stack.blocks
        matrices = jax.vmap(householder_product)(b.vectors, b.signs)
        params = (b.logits, b.means, b.log_scales)
        if self.block_architecture == "diagonal":
            offsets = self.offsets(condition)
            params = tuple(p + o for p, o in zip(params, offsets))
            forward = lambda x, block: _gaussianize(x, *block)
            inverse = lambda z, block, max_steps: _degaussianize(z, *block, max_steps)
            return (matrices, *params), forward, inverse
        u = self._standardised_condition(condition)
        nets, static = eqx.partition((self.conditioners, self.second_conditioners), eqx.is_array)
        split, n_comp, c = self.shape[0] // 2, b.logits.shape[-1], self.input_bound

        def offsets(net, part, params_part):
            raw = net(jnp.concatenate([u, c * jnp.tanh(part / c)]))
            shape = (params_part[0].shape[0], n_comp)
            extra = conditional_offsets(raw, shape, self.offset_bound, self.log_scale_bound)
            return tuple(p + o for p, o in zip(params_part, extra))

        def parts(block):
            matrix, *mixture = block[:4]
            first, second = eqx.combine(block[4], static)
            head = tuple(p[:split] for p in mixture)
            tail = tuple(p[split:] for p in mixture)
            return matrix, first, second, head, tail

        def forward(x, block):
            matrix, first, second, head, tail = parts(block)
            v = apply_matrix(matrix, x)
            z_tail, ld_tail = mixture_gaussianize(v[split:], *offsets(first, v[:split], tail))
            z_head, ld_head = mixture_gaussianize(v[:split], *offsets(second, z_tail, head))
            return jnp.concatenate([z_head, z_tail]), ld_tail.sum() + ld_head.sum()

        def inverse(z, block, max_steps):
            matrix, first, second, head, tail = parts(block)
            z_head, z_tail = z[:split], z[split:]
            v_head, ld_head = mixture_degaussianize(
                z_head, *offsets(second, z_tail, head), max_steps=max_steps
            )
            v_tail, ld_tail = mixture_degaussianize(
                z_tail, *offsets(first, v_head, tail), max_steps=max_steps
            )
            x = apply_matrix(matrix.T, jnp.concatenate([v_head, v_tail]))
            return x, ld_head.sum() + ld_tail.sum()

        return (matrices, *params, nets), forward, inverse

    def transform_with_intermediates(self, x: Array, condition: Array) -> tuple[Array, Array]:
        """One row through the blocks, keeping the point and cumulative log-det after each.

        Returns:
            ``(states, log_dets)`` of shapes ``(n_layers + 1, d)`` and ``(n_layers + 1,)``:
            row 0 after the standardisation, row ``b`` after block ``b``.
        """
        x, log_det = self.stack.standardizer.transform_and_log_det(x)
        xs, forward, _ = self._blocks(condition)

        def step(carry, block):
            y, total = carry
            z, block_log_det = forward(y, block)
            out = (z, total + block_log_det)
            return out, out

        _, (zs, lds) = jax.lax.scan(step, (x, log_det), xs)
        return jnp.concatenate([x[None], zs]), jnp.concatenate([log_det[None], lds])

    def transform_and_log_det(self, x, condition=None):
        x, log_det = self.stack.standardizer.transform_and_log_det(x)
        xs, forward, _ = self._blocks(condition)

        def step(carry, block):
            y, total = carry
            z, block_log_det = forward(y, block)
            return (z, total + block_log_det), None

        (z, log_det_blocks), _ = jax.lax.scan(step, (x, jnp.zeros((), x.dtype)), xs)
        return z, log_det + log_det_blocks

    def inverse_and_log_det(self, y, condition=None):
        steps = self.stack.blocks.max_inverse_steps
        xs, _, inverse = self._blocks(condition)

        def step(carry, block):
            z, total = carry
            x, block_log_det = inverse(z, block, steps)
            return (x, total + block_log_det), None

        (x, log_det_blocks), _ = jax.lax.scan(
            step, (y, jnp.zeros((), y.dtype)), xs, reverse=True
        )
        x, log_det = self.stack.standardizer.inverse_and_log_det(x)
        return x, log_det_blocks + log_det
