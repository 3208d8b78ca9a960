"""Row-wise evaluation of a flow on host data: compiled once per chunk size, run in chunks.

The scikit-learn estimator and the command line evaluate flows on arrays of any number
of rows. Every function here pads the rows (with copies of the first row) to one of a few
fixed sizes, powers of two from :data:`MIN_ROWS` up to :data:`CHUNK_ROWS`, and runs a
compiled function on them, so a new number of rows rarely means a new compilation. Rows
never interact, so the padding does not change the results.

Example:
    >>> import jax.random as jr
    >>> import numpy as np
    >>> import gauss_flows as gf
    >>> from gauss_flows._rows import log_density
    >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
    >>> log_density(flow, np.zeros((3, 2))).shape
    (3,)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows import layout
from gauss_flows._validation import X64_HINT

__all__ = [
    "CHUNK_ROWS",
    "MIN_ROWS",
    "compute_dtype",
    "draw",
    "from_latent",
    "log_density",
    "map_rows",
    "to_latent",
]

#: Most rows evaluated by one compiled call.
CHUNK_ROWS = 1 << 15

#: Fewest rows a compiled call is given (smaller inputs are padded to it).
MIN_ROWS = 512


def compute_dtype(dtype: np.dtype | type = np.float64) -> np.dtype:
    """The floating dtype JAX computes in for data of ``dtype``.

    ``float64`` only for 64-bit data with JAX's 64-bit mode on; ``float32`` otherwise.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._rows import compute_dtype
        >>> compute_dtype(np.float32)
        dtype('float32')
    """
    if np.dtype(dtype) == np.float64 and jax.config.jax_enable_x64:
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def map_rows(fn: Callable[[Any, Array], Array], flow: Any, X: ArrayLike) -> np.ndarray:
    """``fn(flow, rows)`` over all rows of ``X``, in padded chunks of fixed sizes.

    Args:
        fn: A compiled function of a flow and a batch of rows, returning one result row
            per input row.
        flow: The flow.
        X: Rows, shape ``(n_rows, ...)``, at least one row.

    Returns:
        The results of all rows, stacked, as a NumPy array.

    Example:
        >>> import jax.random as jr
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows._rows import map_rows
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2)
        >>> map_rows(lambda f, rows: rows.sum(axis=1), flow, np.ones((5, 2))).tolist()
        [2.0, 2.0, 2.0, 2.0, 2.0]
    """
    X = np.asarray(X)
    X = jnp.asarray(X, dtype=compute_dtype(X.dtype))
    out = []
    for start in range(0, X.shape[0], CHUNK_ROWS):
        chunk = X[start : start + CHUNK_ROWS]
        n = chunk.shape[0]
        size = max(MIN_ROWS, 1 << (n - 1).bit_length())
        padding = jnp.broadcast_to(chunk[:1], (size - n, *chunk.shape[1:]))
        out.append(np.asarray(fn(flow, jnp.concatenate([chunk, padding])))[:n])
    return np.concatenate(out)


@eqx.filter_jit
def _log_prob(flow: Any, X: Array) -> Array:
    return flow.log_prob(X)


_to_latent = eqx.filter_jit(layout.to_latent)
_from_latent = eqx.filter_jit(layout.from_latent)


def log_density(flow: Any, X: ArrayLike) -> np.ndarray:
    """``flow.log_prob`` of every row of ``X``, in the dtype JAX computes in.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=1)
        >>> X = jr.normal(jr.key(1), (3, 2))
        >>> from gauss_flows._rows import log_density
        >>> bool(abs(log_density(flow, X) - flow.log_prob(X)).max() < 1e-5)
        True
    """
    return map_rows(_log_prob, flow, X)


def to_latent(flow: Any, X: ArrayLike) -> np.ndarray:
    """Data rows mapped to the Gaussian latent (:func:`gauss_flows.layout.to_latent`).

    Far-out rows saturate (:class:`~gauss_flows.bijections.Standardization`, and the
    mixture maps, :func:`~gauss_flows.bijections.mixture_cdf.saturate`), so finite rows
    map to finite latents.

    Raises:
        ValueError: If a finite row's latent is not finite nonetheless (a layer without
            saturation overflowed), naming the rows, rather than returning NaN.

    Example:
        >>> import numpy as np
        >>> from jax.random import key
        >>> from gauss_flows import _rows, gaussianization_flow
        >>> _rows.to_latent(gaussianization_flow(key(0), n_dims=2), np.zeros((3, 2))).shape
        (3, 2)
    """
    return _finite_rows(map_rows(_to_latent, flow, X), X, "latent")


def from_latent(flow: Any, Z: ArrayLike) -> np.ndarray:
    """Latent rows mapped back to data (:func:`gauss_flows.layout.from_latent`).

    Raises:
        ValueError: If a finite latent row maps to a non-finite data row, naming the rows.

    Example:
        >>> import numpy as np
        >>> from gauss_flows import _rows, fit_rbig
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> flow = fit_rbig(X, n_layers=2, n_components=2)
        >>> bool(np.allclose(_rows.from_latent(flow, _rows.to_latent(flow, X)), X, atol=1e-5))
        True
    """
    return _finite_rows(map_rows(_from_latent, flow, Z), Z, "data row")


def _finite_rows(out: np.ndarray, given: ArrayLike, what: str) -> np.ndarray:
    """``out``, the images of the rows ``given``; a ``ValueError`` where a finite row's is not
    finite."""
    spoilt = ~np.all(np.isfinite(out), axis=1) & np.all(np.isfinite(np.asarray(given)), axis=1)
    if np.any(spoilt):
        rows = np.flatnonzero(spoilt)
        raise ValueError(
            f"the {what} of {rows.size} finite row(s) (first row {rows[0]}) is not finite in "
            f"{out.dtype}: the rows are too far out for it; rescale them, or {X64_HINT}"
        )
    return out


def draw(flow: Any, key: PRNGKeyArray, n: int) -> np.ndarray:
    """``n`` rows from a flow: base normal draws pushed through the inverse Gaussianizer.

    The same distribution as ``flow.sample(key, (n,))``; it reuses the compiled
    :func:`from_latent` instead of compiling sampling anew.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows._rows import draw
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> draw(flow, jr.key(1), 3).shape
        (3, 2)
    """
    Z = np.asarray(jr.normal(key, (n, *flow.shape)))
    return from_latent(flow, Z)
