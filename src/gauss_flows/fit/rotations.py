"""Data-chosen and random orthogonal rotations for greedy Gaussianization blocks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import ndtri
from jaxtyping import Array, Float, PRNGKeyArray

from gauss_flows.fit._sort import sort_floats

ROTATIONS = ("pca", "random", "sliced", "max-sliced", "ica")

# E[log cosh ν] for ν ~ N(0, 1): the Gaussian reference of the negentropy proxy.
_GAUSSIAN_LOGCOSH = 0.37456720749


def _standardised_columns(x: Array) -> Array:
    return (x - x.mean(axis=0)) / x.std(axis=0)


def pca_rotation(y: Float[Array, "n d"]) -> Float[Array, "d d"]:
    """Rows are the principal directions of ``y``, by decreasing variance.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import pca_rotation
        >>> pca_rotation(jr.normal(jr.key(0), (100, 3))).shape
        (3, 3)
    """
    centered = y - y.mean(axis=0)
    cov = jnp.matmul(centered.T, centered, precision="highest") / y.shape[0]
    _, vectors = jnp.linalg.eigh(cov)
    return vectors[:, ::-1].T


def random_rotation(key: PRNGKeyArray, n_dims: int, dtype=float) -> Float[Array, "d d"]:
    """A Haar-distributed random orthogonal matrix (QR of a Gaussian matrix, signs fixed).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import random_rotation
        >>> random_rotation(jr.key(0), 4).shape
        (4, 4)
    """
    return haar_rotation(jr.normal(key, (n_dims, n_dims), dtype))


def haar_rotation(gaussian: Float[Array, "d d"]) -> Float[Array, "d d"]:
    """The Haar-distributed rotation made from a matrix of independent N(0, 1) draws.

    The Q factor of its QR decomposition with the signs of R's diagonal moved into Q
    (Mezzadri 2007), so the result is uniform on the orthogonal group. Taking the draws
    as an argument lets callers produce them outside compiled code.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit.rotations import haar_rotation
        >>> q = haar_rotation(np.random.default_rng(0).standard_normal((3, 3)))
        >>> bool(np.allclose(q @ q.T, np.eye(3), atol=1e-5))
        True
    """
    q, r = jnp.linalg.qr(gaussian)
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)


def marginal_negentropy(projections: Float[Array, "n d"]) -> Float[Array, " d"]:
    """Hyvärinen's negentropy proxy ``(E log cosh u − E log cosh ν)²`` of each column.

    Columns are standardised first, so the proxy sees shape only. It is zero for Gaussian
    columns and grows with skewness, multimodality and heavy or light tails.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import marginal_negentropy
        >>> marginal_negentropy(jr.exponential(jr.key(0), (500, 2))).shape
        (2,)
    """
    u = _standardised_columns(projections)
    log_cosh = jnp.abs(u) + jnp.log1p(jnp.exp(-2.0 * jnp.abs(u))) - jnp.log(2.0)
    return (log_cosh.mean(axis=0) - _GAUSSIAN_LOGCOSH) ** 2


def wasserstein_to_normal(projections: Float[Array, "n d"]) -> Float[Array, " d"]:
    """Squared 2-Wasserstein distance of each standardised column to N(0, 1).

    The sorted, standardised column is compared with the normal quantiles at
    ``(i + ½)/n``. Zero for a Gaussian column up to sampling noise; it sees every kind of
    non-Gaussianity (several modes, skew, light or heavy tails), which a single moment
    proxy such as :func:`marginal_negentropy` can miss.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import wasserstein_to_normal
        >>> wasserstein_to_normal(jr.exponential(jr.key(0), (500, 2))).shape
        (2,)
    """
    n = projections.shape[0]
    u = _standardised_columns(projections)
    levels = (jnp.arange(n, dtype=projections.dtype) + 0.5) / n
    gaps = sort_floats(u, axis=0) - ndtri(levels)[:, None]
    return jnp.mean(gaps * gaps, axis=0)


#: Rows used to score candidate rotations; the estimates need no more.
_SCORE_ROWS = 4096

#: Rows used to run ICA.
_ICA_ROWS = 4096


def _strided_rows(y: Array, most: int) -> Array:
    """At most ``most`` evenly strided rows of ``y``."""
    return y[:: -(-y.shape[0] // most)]


#: Budget, in d³ units, for the QR factorisations of one block's random candidates.
_CANDIDATE_FLOPS = 10**9


def sliced_rotation(
    key: PRNGKeyArray,
    y: Float[Array, "n d"],
    *,
    n_candidates: int = 48,
    reduce: str = "sum",
) -> Float[Array, "d d"]:
    """The candidate rotation whose projected marginals are least Gaussian.

    The candidates are the identity, the PCA rotation and ``n_candidates`` Haar-random
    rotations (fewer in high dimension: at most ``10⁹ / d³``, at least 2); each is
    scored by the 2-Wasserstein distances of its projections to the
    normal (:func:`wasserstein_to_normal`, on at most 4,096 evenly strided rows).
    ``reduce="sum"`` picks the rotation whose directions are least Gaussian in total,
    the most a block's marginal Gaussianization can gain; ``reduce="max"`` picks the
    rotation holding the single least-Gaussian direction, the max-sliced idea of
    sliced iterative Gaussianization (Dai & Seljak 2021).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import sliced_rotation
        >>> sliced_rotation(jr.key(0), jr.exponential(jr.key(1), (200, 2))).shape
        (2, 2)
    """
    d = y.shape[1]
    draws = jr.normal(key, (candidate_count(d, n_candidates), d, d), y.dtype)
    return best_sliced_rotation(y, draws, reduce=reduce)


def candidate_count(n_dims: int, n_candidates: int = 48) -> int:
    """Random candidates a sliced rotation scores in ``n_dims`` dimensions.

    Each costs a ``d × d`` QR; in high dimension a few suffice (they all look alike
    there, and the PCA candidate usually wins), so their number is capped at
    ``10⁹ / d³`` (and at least 2).
    """
    return int(min(n_candidates, max(2, _CANDIDATE_FLOPS // n_dims**3)))


def best_sliced_rotation(
    y: Float[Array, "n d"], draws: Float[Array, "c d d"], *, reduce: str = "sum"
) -> Float[Array, "d d"]:
    """:func:`sliced_rotation` with its random candidates made from Gaussian ``draws``.

    The identity, the PCA rotation and one :func:`haar_rotation` per ``d × d`` slice of
    ``draws`` are scored; the best is returned.
    """
    if reduce not in ("sum", "max"):
        raise ValueError(f'reduce must be "sum" or "max"; got {reduce!r}')
    d = y.shape[1]
    rows = _strided_rows(y, _SCORE_ROWS)
    candidates = jnp.concatenate(
        [jnp.eye(d, dtype=y.dtype)[None], pca_rotation(y)[None], jax.vmap(haar_rotation)(draws)],
        axis=0,
    )
    combine = {"sum": jnp.sum, "max": jnp.max}[reduce]
    scores = jax.vmap(
        lambda q: combine(wasserstein_to_normal(jnp.matmul(rows, q.T, precision="highest")))
    )(candidates)
    return candidates[jnp.argmax(scores)]


def ica_rotation(
    y: Float[Array, "n d"], *, n_steps: int = 100, tol: float = 1e-4
) -> Float[Array, "d d"]:
    """An orthogonal ICA rotation: symmetric FastICA with the log-cosh contrast.

    Starting from the PCA rotation, each step applies Hyvärinen's fixed-point update
    ``W ← E[g(Wy) yᵀ] − diag(E g'(Wy)) W`` (``g = tanh``) to the centred data and
    projects ``W`` back onto the orthogonal matrices (``W ← U Vᵀ`` from its SVD), so the
    rotation stays orthogonal and the block keeps its exact structure. Rows are the
    independent directions. On whitened data this is FastICA itself; on correlated data
    it is the orthogonal rotation that FastICA's iteration settles on.

    The iteration stops when no direction moves by more than ``tol``
    (``max |1 − |⟨wᵢ_new, wᵢ_old⟩|| < tol``, FastICA's test) or after ``n_steps`` steps.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import ica_rotation
        >>> ica_rotation(jr.uniform(jr.key(0), (500, 2))).shape
        (2, 2)
    """
    return fastica_iterations(y, n_steps=n_steps, tol=tol)[0]


def fastica_iterations(y: Array, *, n_steps: int, tol: float) -> tuple[Array, Array]:
    """:func:`ica_rotation` and the number of fixed-point steps it took."""
    rows = _strided_rows(y - y.mean(axis=0), _ICA_ROWS)

    def orthogonalise(w):
        u, _, vt = jnp.linalg.svd(w)
        return u @ vt

    def step(carry):
        i, w, _ = carry
        s = jnp.matmul(rows, w.T, precision="highest")
        g = jnp.tanh(s)
        update = jnp.matmul(g.T, rows, precision="highest") / rows.shape[0]
        new = orthogonalise(update - jnp.mean(1.0 - g * g, axis=0)[:, None] * w)
        change = jnp.max(jnp.abs(1.0 - jnp.abs(jnp.sum(new * w, axis=1))))
        return i + 1, new, change

    def going_on(carry):
        i, _, change = carry
        return (i < n_steps) & (change >= tol)

    start = (jnp.asarray(0), pca_rotation(y), jnp.asarray(jnp.inf, y.dtype))
    steps, w, _ = jax.lax.while_loop(going_on, step, start)
    return w, steps


def draws_needed(kind: str, n_dims: int) -> int:
    """How many ``d × d`` matrices of Gaussian draws :func:`choose_rotation` takes."""
    if kind == "random":
        return 1
    if kind in ("sliced", "max-sliced"):
        return candidate_count(n_dims)
    return 0


def choose_rotation(kind: str, y: Array, draws: Array | None) -> Array:
    """The rotation of the given kind for data ``y``.

    ``draws`` holds :func:`draws_needed` matrices of N(0, 1) draws for the random kinds
    (``None`` for the others).
    """
    if kind == "pca":
        return pca_rotation(y)
    if kind == "random":
        return haar_rotation(draws[0])
    if kind == "sliced":
        return best_sliced_rotation(y, draws)
    if kind == "max-sliced":
        return best_sliced_rotation(y, draws, reduce="max")
    if kind == "ica":
        return ica_rotation(y)
    raise ValueError(f"unknown rotation {kind!r}; choose one of {ROTATIONS}")


def check_rotation(kind: str) -> None:
    """Raise a ``ValueError`` for an unknown rotation name."""
    if kind not in ROTATIONS:
        raise ValueError(f"unknown rotation {kind!r}; choose one of {ROTATIONS}")

