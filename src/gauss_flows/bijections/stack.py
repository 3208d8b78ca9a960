"""The Gaussianizer of a flow: a fixed standardisation, then blocks stacked along depth.

Both flow builders (and both greedy fits) return
``Transformed(N(0, I), Invert(GaussianizationStack(...)))``. The stack holds the
standardisation and one block module (an :class:`AbstractGaussianizationBlock`) whose array
leaves carry a leading depth axis; the block runs the whole depth itself, with one
``jax.lax.scan``, so compile time does not grow with depth.

The layout is deliberately flat: a jitted training step flattens and rebuilds the
parameters and the optimiser's state on every call, and every module node costs time
there (``docs/design.md``, "A flat layout").
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import paramax
from flowjax.bijections import Chain, Scan
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike

from gauss_flows._arrays import on_single_cpu
from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.mixture_cdf import saturate

__all__ = ["GaussianizationStack", "Standardization", "stack_blocks", "stack_depth"]


def stack_blocks(blocks: Sequence[AbstractGaussianizationBlock]) -> AbstractGaussianizationBlock:
    """Stack blocks of identical structure into one block with a leading depth axis.

    Args:
        blocks: One or more blocks of the same class and sizes.

    Raises:
        ValueError: If ``blocks`` is empty.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import (GaussianizationBlock, HouseholderRotation,
        ...     MixtureCDFGaussianization, stack_blocks, stack_depth)
        >>> block = GaussianizationBlock(HouseholderRotation.random(jr.key(0), n_dims=2),
        ...     MixtureCDFGaussianization.identity(n_dims=2, n_components=3))
        >>> stack_depth(stack_blocks([block, block]))
        2
    """
    if not blocks:
        raise ValueError("a flow needs at least one block")
    arrays = [eqx.filter(b, eqx.is_array) for b in blocks]
    static = eqx.filter(blocks[0], eqx.is_array, inverse=True)
    return eqx.combine(jax.tree.map(_stack, *arrays), static)


def _stack(*arrays: Array) -> Array:
    if all(on_single_cpu(a) or isinstance(a, np.ndarray) for a in arrays):
        # Concrete CPU arrays are stacked by NumPy: nothing to compile.
        return jax.device_put(np.stack([np.asarray(a) for a in arrays]))
    return jnp.stack(arrays)


def stack_depth(blocks: AbstractBijection) -> int:
    """Number of blocks in a bijection whose array leaves carry a leading depth axis.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> from gauss_flows.bijections import stack_depth
        >>> stack_depth(layout.blocks(gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)))
        3
    """
    return int(jax.tree.leaves(eqx.filter(blocks, eqx.is_array))[0].shape[0])


class GaussianizationStack(AbstractBijection):
    r"""Standardise, then apply a stack of blocks in sequence: a flow's Gaussianizer.

    The standardisation :math:`x \mapsto (x - \mathrm{loc}) / \mathrm{scale}` is fixed
    (non-trainable), so fine-tuning leaves the user's units alone. ``blocks`` is one
    block whose array leaves have a leading depth axis (built with
    :func:`stack_blocks` or ``equinox.filter_vmap``); it applies the whole depth itself.

    Args:
        loc: Per-dimension location of the standardisation.
        scale: Per-dimension scale of the standardisation (positive).
        blocks: The stacked blocks.

    Example:
        >>> import equinox as eqx
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import (GaussianizationBlock, GaussianizationStack,
        ...     HouseholderRotation, MixtureCDFGaussianization)
        >>> def make(k):
        ...     return GaussianizationBlock(HouseholderRotation.random(k, n_dims=2),
        ...         MixtureCDFGaussianization.random(k, n_dims=2, n_components=3))
        >>> stack = GaussianizationStack(jnp.zeros(2), jnp.ones(2),
        ...     eqx.filter_vmap(make)(jr.split(jr.key(0), 4)))
        >>> stack.n_layers
        4
    """

    moments: paramax.NonTrainable
    blocks: AbstractGaussianizationBlock
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(self, loc: ArrayLike, scale: ArrayLike, blocks: AbstractGaussianizationBlock):
        _check_blocks(blocks)
        loc, scale = jnp.asarray(loc, dtype=float), jnp.asarray(scale, dtype=float)
        if loc.shape != blocks.shape or scale.shape != blocks.shape:
            raise ValueError(
                f"loc and scale must have the blocks' shape {blocks.shape}; got {loc.shape} "
                f"and {scale.shape}"
            )
        _check_moments(loc, scale)
        self.moments = paramax.NonTrainable(_shift_and_multiplier(loc, scale))
        self.blocks = blocks
        self.shape = blocks.shape

    @property
    def n_layers(self) -> int:
        """Number of stacked blocks (the flow's depth)."""
        return stack_depth(self.blocks)

    @property
    def n_blocks(self) -> int:
        """Deprecated name of :attr:`n_layers`."""
        warnings.warn(
            "GaussianizationStack.n_blocks is deprecated; use n_layers", DeprecationWarning,
            stacklevel=2,
        )
        return self.n_layers

    def architecture(self) -> tuple[str, dict[str, Any]]:
        """The builder that rebuilds this stack's structure, and its size arguments.

        Example:
            >>> import jax.random as jr
            >>> import gauss_flows as gf
            >>> from gauss_flows import layout
            >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3, n_components=4)
            >>> layout.gaussianizer(flow).architecture()
            ('gaussianization_flow', {'n_dims': 2, 'n_layers': 3, 'n_components': 4})
        """
        sizes = {"n_dims": int(self.shape[0]), "n_layers": self.n_layers}
        return self.blocks.builder, sizes | self.blocks.architecture()

    def with_blocks(self, blocks: AbstractGaussianizationBlock) -> "GaussianizationStack":
        """The same standardisation, its stored arrays unchanged, in front of other blocks.

        Raises:
            TypeError: If ``blocks`` is not an :class:`AbstractGaussianizationBlock`.
            ValueError: If ``blocks`` acts on another shape.
        """
        _check_blocks(blocks)
        if blocks.shape != self.shape:
            raise ValueError(f"the blocks act on shape {blocks.shape}, the stack on {self.shape}")
        return eqx.tree_at(lambda stack: stack.blocks, self, blocks)

    @property
    def loc(self) -> Array:
        """Per-dimension location of the standardisation."""
        shift, multiplier = paramax.unwrap(self.moments)
        return -shift / multiplier

    @property
    def scale(self) -> Array:
        """Per-dimension scale of the standardisation."""
        return 1.0 / paramax.unwrap(self.moments)[1]

    @property
    def standardizer(self) -> "Standardization":
        """The standardisation as a bijection of its own."""
        return Standardization(self.moments, self.shape)

    @property
    def is_standardizing(self) -> bool:
        """Whether the standardisation changes its input (``False`` for loc 0, scale 1)."""
        shift, multiplier = (np.asarray(a) for a in paramax.unwrap(self.moments))
        return bool(np.any(shift != 0) or np.any(multiplier != 1))

    @property
    def bijections(self) -> tuple[AbstractBijection, ...]:
        """Every sub-step of the Gaussianizer, in the order they apply, as its own bijection.

        The standardisation first (left out when it is the identity), then each block's
        :meth:`~AbstractGaussianizationBlock.sub_steps`: for a diagonal stack
        ``FixedRotation, MixtureGaussianCDF`` pairs, for a coupling stack a
        ``FixedRotation`` and two couplings per block. Composing them in order gives
        exactly this stack's map (``inverse`` of the flow's bijection). A view for
        inspection, rebuilt from the current arrays on every access: training acts on the
        stack.

        Example:
            >>> import jax, jax.numpy as jnp, jax.random as jr
            >>> import gauss_flows as gf
            >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2, n_components=3)
            >>> steps = flow.bijection.bijection.bijections
            >>> [type(step).__name__ for step in steps]
            ['FixedRotation', 'MixtureGaussianCDF', 'FixedRotation', 'MixtureGaussianCDF']
            >>> x = jnp.array([0.3, -1.2])
            >>> z = x
            >>> for step in steps:
            ...     z = step.transform(z)
            >>> bool(jnp.allclose(z, flow.bijection.inverse(x)))
            True
        """
        steps = [self.standardizer] if self.is_standardizing else []
        for k in range(self.n_layers):
            block = jax.tree.map(lambda a, k=k: a[k] if eqx.is_array(a) else a, self.blocks)
            steps.extend(block.sub_steps())
        return tuple(steps)

    @property
    def bijection(self) -> Chain:
        """One block's sub-steps as a ``Chain`` whose array leaves carry the depth axis.

        The stacked per-layer template, as flowjax's ``Scan.bijection``: slicing every
        array leaf at index ``k`` gives block ``k`` as a ``Chain`` of its
        :meth:`~AbstractGaussianizationBlock.sub_steps`, and applying the blocks in order
        after :attr:`standardizer` gives this stack's map. Every array leaf is a float
        array. A view for inspection, rebuilt on every access.

        Example:
            >>> import equinox as eqx, jax, jax.numpy as jnp, jax.random as jr
            >>> import gauss_flows as gf
            >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3, n_components=3)
            >>> template = flow.bijection.bijection.bijection
            >>> params, static = eqx.partition(template, eqx.is_inexact_array)
            >>> layers = [eqx.combine(jax.tree.map(lambda a: a[k], params), static)
            ...           for k in range(3)]
            >>> x = jnp.array([0.3, -1.2])
            >>> for layer in layers:
            ...     x = layer.transform(x)
            >>> bool(jnp.allclose(x, flow.bijection.inverse(jnp.array([0.3, -1.2]))))
            True
        """
        return eqx.filter_vmap(lambda block: Chain(block.sub_steps()))(self.blocks)

    def as_chain(self) -> Chain:
        """The same map as flowjax layers: ``Chain([standardizer, Scan(blocks)])``."""
        return Chain([self.standardizer, Scan(self.blocks)])

    def transform_and_log_det(self, x, condition=None):
        x, log_det = self.standardizer.transform_and_log_det(x)
        z, log_det_blocks = self.blocks.stacked_transform_and_log_det(x)
        return z, log_det + log_det_blocks

    def inverse_and_log_det(self, y, condition=None):
        x, log_det_blocks = self.blocks.stacked_inverse_and_log_det(y)
        x, log_det = self.standardizer.inverse_and_log_det(x)
        return x, log_det_blocks + log_det


class Standardization(AbstractBijection):
    """The fixed map ``x * multiplier + shift`` of a :class:`GaussianizationStack`.

    Standardised values saturate at ``±``:func:`~gauss_flows.bijections.mixture_cdf.saturation_point`
    (``1e18`` in float32, ``1e150`` in float64), so every finite input, however far out,
    reaches the blocks as a finite value (``x * multiplier`` alone could overflow to inf
    for inputs near the dtype's largest float).

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows import layout
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, scale=2.0)
        >>> layout.gaussianizer(flow).standardizer.transform(jnp.array([1.0, 4.0])).tolist()
        [0.5, 2.0]
    """

    moments: paramax.NonTrainable
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def transform_and_log_det(self, x, condition=None):
        shift, multiplier = paramax.unwrap(self.moments)
        return saturate(x * multiplier + shift), jnp.log(jnp.abs(multiplier)).sum()

    def inverse_and_log_det(self, y, condition=None):
        shift, multiplier = paramax.unwrap(self.moments)
        return (y - shift) / multiplier, -jnp.log(jnp.abs(multiplier)).sum()


def _check_blocks(blocks: object) -> None:
    if not isinstance(blocks, AbstractGaussianizationBlock):
        raise TypeError(
            "a GaussianizationStack's blocks must be an AbstractGaussianizationBlock; got "
            f"{type(blocks).__name__}"
        )


def _check_moments(loc: Array, scale: Array) -> None:
    """A clear error for a standardisation that would make every density NaN or infinite."""
    if isinstance(loc, jax.core.Tracer) or isinstance(scale, jax.core.Tracer):
        return  # traced (shapes only, or inside a transformation): nothing to inspect
    if not bool(jnp.all(jnp.isfinite(loc))):
        raise ValueError(f"the standardisation's loc must be finite; got {loc}")
    if not bool(jnp.all(jnp.isfinite(scale) & (scale > 0))):
        raise ValueError(f"the standardisation's scale must be finite and positive; got {scale}")


@eqx.filter_jit
def _shift_and_multiplier(loc: Array, scale: Array) -> tuple[Array, Array]:
    # One compiled call: eagerly, each array operation would be compiled on its own the
    # first time it runs.
    return -loc / scale, 1.0 / scale
