"""Fast sorting of float arrays for the greedy fit's quantile computations."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array


def sort_floats(x: Array, axis: int = -1) -> Array:
    """``jnp.sort`` for NaN-free floats, fast on CPU.

    On a single CPU device the sort is handed to NumPy through a callback: XLA:CPU sorts
    with a comparison loop, slower than NumPy's vectorised sort, and sorting projections
    is most of the cost of scoring candidate rotations. Elsewhere the floats' bit
    patterns are sorted as integers (:func:`_sort_float_bits`). The order is exact either
    way, signed zeros and subnormals included, and the result is differentiable (the
    tangents follow the sorting permutation).

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.fit._sort import sort_floats
        >>> sort_floats(jnp.array([0.5, -2.0, 0.25, -0.0, 3.0])).tolist()
        [-2.0, -0.0, 0.25, 0.5, 3.0]
    """
    axis = axis % x.ndim - x.ndim  # counted from the end, so batching cannot shift it
    # Only with a single CPU device: a callback inside a program split over several
    # devices can stall their collectives.
    if jax.default_backend() == "cpu" and jax.device_count() == 1:
        return _host_sort(x, axis)
    return _sort_float_bits(x, axis)


def _sort_float_bits(x: Array, axis: int) -> Array:
    """Sort floats by sorting their bit patterns as integers.

    IEEE floats order like their bit patterns read as signed integers once the
    magnitude bits of negative values are flipped; XLA sorts integers faster than floats
    (its float comparison handles NaN and signed zeros).
    """
    int_type = {2: jnp.int16, 4: jnp.int32, 8: jnp.int64}[x.dtype.itemsize]
    bits = jax.lax.bitcast_convert_type(x, int_type)
    flip = jnp.iinfo(int_type).max
    keys = jnp.where(bits < 0, bits ^ flip, bits)
    ordered = jnp.sort(keys, axis=axis, stable=False)
    return jax.lax.bitcast_convert_type(jnp.where(ordered < 0, ordered ^ flip, ordered), x.dtype)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _host_sort(x: Array, axis: int) -> Array:
    """NumPy's sort along ``axis`` (negative) of ``x``, called from compiled code."""
    return jax.pure_callback(
        functools.partial(_numpy_sort, axis=axis),
        jax.ShapeDtypeStruct(x.shape, x.dtype),
        x,
        vmap_method="expand_dims",
    )


def _numpy_keys(x: np.ndarray) -> np.ndarray:
    """Integer keys that order like the floats ``x`` (see :func:`_sort_float_bits`)."""
    bits = x.view(np.dtype(f"i{x.dtype.itemsize}"))
    return bits ^ ((bits >> (8 * x.dtype.itemsize - 1)) & np.iinfo(bits.dtype).max)


def _needs_keys(x: np.ndarray) -> bool:
    """Whether ``x`` holds zeros or subnormals.

    XLA's CPU threads, where callbacks run, treat subnormal floats as zero, so NumPy's
    float comparisons cannot order them (nor ``−0`` before ``+0``); integer keys can, at
    a higher cost.
    """
    return bool(np.any(np.abs(x) < np.finfo(x.dtype).tiny))


def _numpy_sort(x: np.ndarray, axis: int) -> np.ndarray:
    x = np.asarray(x)
    if not _needs_keys(x):
        return np.sort(x, axis=axis)
    ordered = np.sort(_numpy_keys(x), axis=axis)
    return _numpy_keys(ordered.view(x.dtype)).view(x.dtype)  # the key map is its own inverse


def _numpy_argsort(x: np.ndarray, axis: int) -> np.ndarray:
    x = np.asarray(x)
    keys = _numpy_keys(x) if _needs_keys(x) else x
    return np.argsort(keys, axis=axis).astype(np.int32)


@_host_sort.defjvp
def _host_sort_jvp(axis: int, primals: tuple[Array], tangents: tuple[Array]):
    (x,), (dx,) = primals, tangents
    order = jax.pure_callback(
        functools.partial(_numpy_argsort, axis=axis),
        jax.ShapeDtypeStruct(x.shape, jnp.int32),
        x,
        vmap_method="expand_dims",
    )
    return jnp.take_along_axis(x, order, axis=axis), jnp.take_along_axis(dx, order, axis=axis)


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
