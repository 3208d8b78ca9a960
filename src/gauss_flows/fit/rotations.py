"""Data-chosen and random orthogonal rotations for greedy Gaussianization blocks."""

from __future__ import annotations

import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, PRNGKeyArray

ROTATIONS = ("pca", "random")


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


def choose_rotation(kind: str, y: Array, key: PRNGKeyArray) -> Array:
    """The rotation of the given kind for data ``y`` (``key`` serves the random kind)."""
    if kind == "pca":
        return pca_rotation(y)
    if kind == "random":
        return random_rotation(key, y.shape[1], y.dtype)
    raise ValueError(f"unknown rotation {kind!r}; choose one of {ROTATIONS}")


def check_rotation(kind: str) -> None:
    """Raise a ``ValueError`` for an unknown rotation name."""
    if kind not in ROTATIONS:
        raise ValueError(f"unknown rotation {kind!r}; choose one of {ROTATIONS}")

