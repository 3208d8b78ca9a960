"""Fast sorting of float arrays for the greedy fit's quantile computations."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array


def sort_floats(x: Array, axis: int = -1) -> Array:
    """``jnp.sort`` for NaN-free floats, by sorting their bit patterns as integers.

    IEEE floats order like their bit patterns read as signed integers once the
    magnitude bits of negative values are flipped. XLA on CPU sorts integers about four
    times faster than floats (its float comparison handles NaN and signed zeros), and
    sorting projections is most of the cost of scoring candidate rotations.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.fit._sort import sort_floats
        >>> sort_floats(jnp.array([0.5, -2.0, 0.25, -0.0, 3.0])).tolist()
        [-2.0, -0.0, 0.25, 0.5, 3.0]
    """
    int_type = {2: jnp.int16, 4: jnp.int32, 8: jnp.int64}[x.dtype.itemsize]
    bits = jax.lax.bitcast_convert_type(x, int_type)
    flip = jnp.iinfo(int_type).max
    keys = jnp.where(bits < 0, bits ^ flip, bits)
    ordered = jnp.sort(keys, axis=axis, stable=False)
    return jax.lax.bitcast_convert_type(jnp.where(ordered < 0, ordered ^ flip, ordered), x.dtype)


def quantiles(x: Array, levels: Array) -> Array:
    """Linear-interpolation quantiles of each column of ``x`` (as ``jnp.quantile``).

    Args:
        x: Data, shape ``(n, d)``, free of NaN.
        levels: Quantile levels in ``[0, 1]``, shape ``(q,)``.

    Returns:
        Shape ``(q, d)``.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.fit._sort import quantiles
        >>> [round(v, 6) for v in quantiles(jnp.arange(5.0)[:, None], jnp.array([0.0, 0.3, 1.0]))[:, 0].tolist()]
        [0.0, 1.2, 4.0]
    """
    ordered = sort_floats(x, axis=0)
    position = levels.astype(x.dtype) * (x.shape[0] - 1)
    below = jnp.clip(jnp.floor(position).astype(jnp.int32), 0, x.shape[0] - 1)
    above = jnp.minimum(below + 1, x.shape[0] - 1)
    frac = (position - below)[:, None]
    return ordered[below] * (1 - frac) + ordered[above] * frac
