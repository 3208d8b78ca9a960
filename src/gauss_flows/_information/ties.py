"""Tied values: random tie-breaking of ranks, dequantization, and which columns look discrete.

Ranks of a column with repeated values are not defined by the data. Breaking ties by
row index (a stable sort) orders them identically in every column and so invents
dependence between independent discrete columns. Breaking them in an independent random
order per column instead is the distributional transform: the scores are those of
``F(x⁻) + U (F(x) − F(x⁻))`` with ``U`` uniform, a continuous variable from which ``x``
is recovered. Its total correlation and mutual information equal those of the discrete
(or mixed) data themselves, so the continuous estimators measure the right quantities.

The 1-D entropy estimator instead needs values: there each repeated value is spread
uniformly over its cell, the interval halfway to the neighbouring distinct values
(dequantization). Values that occur once, and so every column without ties, are left
exactly as they are.

References:
    Rüschendorf, L. (2009). On the distributional transform, Sklar's theorem, and the
    empirical copula process. Journal of Statistical Planning and Inference 139(11).
    Theis, L., van den Oord, A. & Bethge, M. (2016). A note on the evaluation of
    generative models. ICLR (uniform dequantization).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from gauss_flows._information.gaussian import scores_from_ranks

TIE_SALT = 1_000_003
"""Folded into the settings' key for the tie-breaking draws, apart from the rotations' salts."""


@jax.jit
def tie_broken_ranks(x: Float[Array, "n d"], key: PRNGKeyArray) -> Int[Array, "n d"]:
    """Ranks ``0 … n − 1`` of every column, ties broken in a random order per column.

    Each column is sorted by value and, among equal values, by an independent random
    permutation of the rows; a column without ties gets exactly its ordinary ranks.

    Args:
        x: Samples, shape ``(n, d)``.
        key: Fixes the order given to tied values.

    Returns:
        The ranks, shape ``(n, d)``; every column is a permutation of ``0 … n − 1``.

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> tie_broken_ranks(jnp.array([[2.0], [1.0], [3.0]]), jr.key(0))[:, 0].tolist()
        [1, 0, 2]
    """
    n, d = x.shape
    secondary = jax.vmap(lambda k: jr.permutation(k, n))(jr.split(key, d)).T
    order = jnp.lexsort((secondary, x), axis=0)
    return jnp.argsort(order, axis=0)


def tie_broken_scores(x: Float[Array, "n d"], key: PRNGKeyArray) -> Float[Array, "n d"]:
    """Normal scores ``Φ⁻¹((rank + 1) / (n + 1))`` of :func:`tie_broken_ranks`.

    Without ties they are bit-identical to
    :func:`~gauss_flows._information.gaussian.normal_scores`.

    Example:
        >>> import numpy as np, jax.random as jr
        >>> x = np.random.default_rng(0).integers(0, 2, (1000, 2)).astype(float)
        >>> z = np.asarray(tie_broken_scores(x, jr.key(0)))
        >>> len(np.unique(z[:, 0])) == 1000  # every row its own score
        True
    """
    return scores_from_ranks(tie_broken_ranks(x, key), x.dtype)


def dequantize(x: Float[Array, "n d"], key: PRNGKeyArray) -> Float[Array, "n d"]:
    """Spread every repeated value of each column uniformly over its cell.

    The cell of a distinct value ``v_k`` runs from halfway to ``v_{k−1}`` to halfway to
    ``v_{k+1}`` (mirrored at the two ends), so the order between distinct values is kept.
    Values that occur once stay as they are; a column without ties is returned unchanged.

    Args:
        x: Samples, shape ``(n, d)``, no constant column.
        key: Fixes the uniform draws.

    Returns:
        Samples of the same shape and dtype (a JAX array).

    Example:
        >>> import numpy as np, jax.random as jr
        >>> x = np.array([[0.0], [1.0], [1.0], [3.0]])
        >>> y = np.asarray(dequantize(x, jr.key(0)))[:, 0]
        >>> y[0] == 0.0 and y[3] == 3.0 and bool(np.all((0.5 <= y[1:3]) & (y[1:3] <= 2.0)))
        True
    """
    host = np.asarray(x)
    if not any(_has_ties(host[:, j]) for j in range(host.shape[1])):
        return x
    u = np.asarray(jr.uniform(key, host.shape, host.dtype))
    out = host.astype(np.float64)
    for j in range(host.shape[1]):
        column = out[:, j]
        values, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
        if values.size == column.size:
            continue
        mids = 0.5 * (values[1:] + values[:-1])
        lower = np.concatenate([[values[0] - (mids[0] - values[0])], mids])
        upper = np.concatenate([mids, [values[-1] + (values[-1] - mids[-1])]])
        repeated = counts[inverse] > 1
        k = inverse[repeated]
        column[repeated] = lower[k] + (upper[k] - lower[k]) * u[repeated, j]
    return jax.device_put(out.astype(host.dtype))


class DiscreteColumns(NamedTuple):
    """Columns holding a value in more rows than the entropy estimator's window."""

    columns: list[int]
    """The columns, in order."""
    distinct: int
    """Distinct values in the first of them."""
    most: int
    """Rows holding the most frequent value of the first of them."""


def discrete_columns(x: Float[Array, "n d"], spacing: int) -> DiscreteColumns | None:
    """Columns with a value in more than ``2 · spacing`` rows, or ``None`` if there are none.

    The ``m``-spacing entropy estimator spans ``2m`` neighbours; a value repeated more
    often is an atom it cannot resolve, so the column has no density the data can show.

    Example:
        >>> import numpy as np
        >>> x = np.column_stack([np.arange(100.0), np.arange(100) % 4])
        >>> discrete_columns(x, 5)
        DiscreteColumns(columns=[1], distinct=4, most=25)
    """
    host = np.asarray(x)
    found = []
    for j in range(host.shape[1]):
        _, counts = np.unique(host[:, j], return_counts=True)
        if counts.max() > 2 * spacing:
            found.append((j, counts.size, int(counts.max())))
    if not found:
        return None
    return DiscreteColumns([j for j, _, _ in found], found[0][1], found[0][2])


def tie_free(x: Float[Array, "n d"]) -> np.ndarray:
    """Boolean mask of the columns in which every value occurs once."""
    host = np.asarray(x)
    return np.array([not _has_ties(host[:, j]) for j in range(host.shape[1])], dtype=bool)


def _has_ties(column: np.ndarray) -> bool:
    s = np.sort(column)
    return bool(np.any(s[1:] == s[:-1]))
