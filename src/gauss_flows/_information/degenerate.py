"""Data on which dependence is infinite or cannot be estimated, found before estimating.

Total correlation and mutual information are infinite when a column is a function of
others: the joint distribution then has no density. The estimators cannot measure an
infinite value (they return NaN or an arbitrary large number), so the measures refuse
such data with a ``ValueError`` that names the columns. Three cases are found exactly:

* two columns with the same, or opposite, tie-broken ranks: one is a monotone function
  of the other in the sample (identical, scaled, ``exp``-transformed columns);
* columns without ties that are linearly dependent (the rows lie on a hyperplane);
* normal scores whose correlation matrix is singular to working precision, which also
  covers too few rows for the number of columns.

Columns with ties are exempt from the linear test: broken at random, their ties spread
every repeated value, so that identical discrete columns have the finite mutual
information ``H(X)`` and are estimated as such.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from jaxtyping import Array


class Labels(NamedTuple):
    """How the columns of a measurement are named: groups ``(name, first, stop)``."""

    groups: tuple[tuple[str, int, int], ...]

    def of(self, columns: list[int]) -> str:
        """``columns 0 and 1 of X``, ``column 0 of X and column 2 of Y`` and the like.

        Example:
            >>> Labels((("X", 0, 2), ("Y", 2, 5))).of([1, 2, 4])
            'column 1 of X and columns 0 and 2 of Y'
        """
        parts = []
        for name, first, stop in self.groups:
            local = [c - first for c in columns if first <= c < stop]
            if local:
                word = "column" if len(local) == 1 else "columns"
                parts.append(f"{word} {_and(local)} of {name}")
        return _and(parts)

    def group(self, columns: list[int]) -> str | None:
        """The name of the one group holding all ``columns``, or ``None``."""
        for name, first, stop in self.groups:
            if all(first <= c < stop for c in columns):
                return name
        return None


def _and(items: list) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class Degeneracy(NamedTuple):
    """What makes the data degenerate: the columns and a phrase saying how."""

    columns: list[int]
    """The columns involved (in the joint numbering of the measurement)."""
    finding: str
    """A clause such as ``"columns 0 and 1 of X have the same ranks (...)"``."""
    exact: bool = True
    """Whether the data show the degeneracy exactly (else only to working precision)."""


def check_rows(n: int, d: int, labels: Labels, quantity: str) -> None:
    """Refuse fewer rows than ``d + 1``: the correlation of the scores would be singular.

    Raises:
        ValueError: Naming the rows, the columns and the quantity asked for.
    """
    if n <= d:
        names = [name for name, _, _ in labels.groups]
        has = f"{names[0]} has" if len(names) == 1 else f"{_and(names)} have"
        together = "" if len(names) == 1 else " together"
        raise ValueError(
            f"{has} {n} rows and {d} columns{together}: the {quantity} needs more rows than "
            f"columns (at least {d + 1}); with fewer, the correlation of the columns is singular"
        )


def monotone_pair(ranks: Array, labels: Labels) -> Degeneracy | None:
    """Two columns whose ranks are equal (or reversed) in every row, if any.

    Args:
        ranks: Tie-broken ranks, every column a permutation of ``0 … n − 1``.
        labels: The names of the columns.

    Example:
        >>> import numpy as np
        >>> ranks = np.array([[0, 2, 1], [1, 1, 0], [2, 0, 2]])
        >>> monotone_pair(ranks, Labels((("X", 0, 3),))).finding
        'columns 0 and 1 of X have opposite ranks (one is a decreasing function of the other)'
    """
    r = np.asarray(ranks)
    n, d = r.shape
    if d < 2:
        return None
    # Canonical form: flip a column whose first row sits in the upper half, so that equal
    # and reversed columns coincide; the first row of an odd n may sit at the middle, and
    # then the second row (which cannot) decides.
    flip = np.where(r[0] == n - 1 - r[0], r[1] > n - 1 - r[1], r[0] > n - 1 - r[0])
    canon = np.where(flip, n - 1 - r, r)
    _, first, inverse = np.unique(canon.T, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    for j in range(d):
        i = int(first[inverse[j]])
        if i != j:
            how = (
                "the same ranks (one is an increasing function of the other, e.g. identical)"
                if flip[i] == flip[j]
                else "opposite ranks (one is a decreasing function of the other)"
            )
            return Degeneracy([i, j], f"{labels.of([i, j])} have {how}")
    return None


def linear_dependence(x: Array, columns: np.ndarray, labels: Labels) -> Degeneracy | None:
    """A linear relation among the given columns of the raw data, if there is one.

    The columns are centred and scaled to unit variance; a relation is a singular value
    below ``s_max · max(n, d) · eps`` of the data's dtype (NumPy's rank tolerance).

    Args:
        x: The raw samples, shape ``(n, d_all)``.
        columns: Indices of the columns to test (those without ties).
        labels: The names of the columns.

    Example:
        >>> import numpy as np
        >>> x, y = np.random.default_rng(0).normal(size=(2, 50))
        >>> found = linear_dependence(np.column_stack([x, y, x - y]), np.arange(3),
        ...                           Labels((("X", 0, 3),)))
        >>> found.columns
        [0, 1, 2]
    """
    if columns.size < 2:
        return None
    host = np.asarray(x)
    eps = np.finfo(host.dtype).eps
    a = host[:, columns].astype(np.float64)
    a = (a - a.mean(axis=0)) / a.std(axis=0)
    _, s, vt = np.linalg.svd(a, full_matrices=False)
    if s[-1] > s[0] * max(a.shape) * eps:
        return None
    weights = np.abs(vt[-1])
    involved = [int(c) for c in columns[weights > 1e-6 * weights.max()]]
    return Degeneracy(
        involved,
        f"{labels.of(involved)} are linearly dependent (the rows lie on a hyperplane)",
    )


def singular_scores(r: Array, n: int, dtype: np.dtype, labels: Labels) -> Degeneracy | None:
    """Normal scores whose correlation ``r`` is singular to working precision, if so.

    The tolerance, ``n · eps``, is the rounding error of a correlation summed over ``n``
    rows; below it ``log det r`` and the whitening that follows are noise.
    """
    r = np.asarray(r, np.float64)
    d = r.shape[0]
    if d < 2:
        return None
    vals, vecs = np.linalg.eigh(r)
    if vals[0] > n * np.finfo(dtype).eps:
        return None
    off = np.abs(r - np.eye(d))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    i, j = sorted((int(i), int(j)))
    if 1.0 - off[i, j] <= d * n * np.finfo(dtype).eps:
        return Degeneracy(
            [i, j],
            f"the normal scores of {labels.of([i, j])} are perfectly correlated in "
            f"{np.dtype(dtype).name} (correlation {r[i, j]:+.9f}: almost a monotone function "
            "of each other)",
            exact=False,
        )
    weights = np.abs(vecs[:, 0])
    involved = [int(c) for c in np.flatnonzero(weights > 1e-3 * weights.max())]
    return Degeneracy(
        involved,
        f"the normal scores of {labels.of(involved)} are linearly dependent in "
        f"{np.dtype(dtype).name} (smallest eigenvalue of their correlation {vals[0]:.1e})",
        exact=False,
    )
