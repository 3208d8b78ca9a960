"""Data-chosen and random orthogonal rotations for greedy Gaussianization blocks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

ROTATIONS = ("pca", "random", "sliced")

# E[log cosh ν] for ν ~ N(0, 1): the Gaussian reference of the negentropy proxy.
_GAUSSIAN_LOGCOSH = 0.37456720749


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
    q, r = jnp.linalg.qr(jr.normal(key, (n_dims, n_dims), dtype))
    return q * jnp.where(jnp.diagonal(r) < 0, -1.0, 1.0)


def marginal_negentropy(projections: Float[Array, "n d"]) -> Float[Array, " d"]:
    """Hyvärinen's negentropy proxy ``(E log cosh u − E log cosh ν)²`` of each column.

    Columns are standardised first, so the proxy sees shape only. It is zero for Gaussian
    columns and grows with skewness, multimodality and heavy or light tails.
    """
    u = (projections - projections.mean(axis=0)) / projections.std(axis=0)
    log_cosh = jnp.abs(u) + jnp.log1p(jnp.exp(-2.0 * jnp.abs(u))) - jnp.log(2.0)
    return (log_cosh.mean(axis=0) - _GAUSSIAN_LOGCOSH) ** 2


def sliced_rotation(
    key: PRNGKeyArray, y: Float[Array, "n d"], *, n_candidates: int = 32
) -> Float[Array, "d d"]:
    """The candidate rotation whose projected marginals are least Gaussian.

    The candidates are the identity, the PCA rotation and ``n_candidates`` Haar-random
    rotations; each is scored by the summed negentropy proxy of its projections
    (:func:`marginal_negentropy`). Picking the most non-Gaussian slices lets the next
    marginal Gaussianization remove the most information, the idea behind the
    max-sliced directions of sliced iterative Gaussianization (Dai & Seljak 2021).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import sliced_rotation
        >>> sliced_rotation(jr.key(0), jr.exponential(jr.key(1), (200, 2))).shape
        (2, 2)
    """
    d = y.shape[1]
    keys = jr.split(key, n_candidates)
    random = jax.vmap(lambda k: random_rotation(k, d, y.dtype))(keys)
    candidates = jnp.concatenate(
        [jnp.eye(d, dtype=y.dtype)[None], pca_rotation(y)[None], random], axis=0
    )
    scores = jax.vmap(
        lambda q: marginal_negentropy(jnp.matmul(y, q.T, precision="highest")).sum()
    )(candidates)
    return candidates[jnp.argmax(scores)]


def choose_rotation(kind: str, y: Array, key: PRNGKeyArray) -> Array:
    """The rotation of the given kind for data ``y`` (``key`` serves the random kinds)."""
    if kind == "pca":
        return pca_rotation(y)
    if kind == "random":
        return random_rotation(key, y.shape[1], y.dtype)
    if kind == "sliced":
        return sliced_rotation(key, y)
    raise ValueError(f"unknown rotation {kind!r}; choose one of {ROTATIONS}")


def check_rotation(kind: str) -> None:
    """Raise a ``ValueError`` for an unknown rotation name."""
    if kind not in ROTATIONS:
        raise ValueError(f"unknown rotation {kind!r}; choose one of {ROTATIONS}")

