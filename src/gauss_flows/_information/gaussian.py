"""The Gaussian part of dependence: normal scores, correlation, and its exact bias."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from jaxtyping import Array, Float
from scipy.special import digamma


@jax.jit
def normal_scores(x: Float[Array, "n d"]) -> Float[Array, "n d"]:
    """Marginally Gaussianize every column by ranks: ``Φ⁻¹(rank / (n + 1))``.

    The map is monotone per column, so it leaves total correlation and mutual
    information unchanged while making every marginal (empirically) standard normal.
    Ties are broken by row order, which suits the continuous data inside the RBIG loop;
    the measures' input goes through
    :func:`~gauss_flows._information.ties.tie_broken_scores` instead.
    """
    return scores_from_ranks(jnp.argsort(jnp.argsort(x, axis=0), axis=0), x.dtype)


@functools.partial(jax.jit, static_argnames=("dtype",))
def scores_from_ranks(ranks: Array, dtype: jnp.dtype) -> Array:
    """Normal scores ``Φ⁻¹((rank + 1) / (n + 1))`` of ranks ``0 … n − 1`` in ``dtype``."""
    n = ranks.shape[0]
    return ndtri((ranks + 1.0).astype(dtype) / (n + 1.0))


@jax.jit
def correlation(z: Float[Array, "n d"]) -> Float[Array, "d d"]:
    """Pearson correlation matrix of the columns."""
    c = z - z.mean(axis=0)
    cov = jnp.matmul(c.T, c, precision="highest")
    s = jnp.sqrt(jnp.diagonal(cov))
    return cov / jnp.outer(s, s)


def logdet(r: Array) -> Array:
    """``log det`` of a symmetric positive-definite matrix via Cholesky."""
    chol = jnp.linalg.cholesky(r)
    return 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


@functools.lru_cache(maxsize=256)
def logdet_bias(n: int, d: int) -> float:
    """Exact bias of ``−½ log det R̂`` for the sample correlation of ``n`` Gaussian rows.

    With ``(n − 1) S ~ Wishart(Σ, n − 1)``, ``E log det S = log det Σ + Σᵢ ψ((n − i)/2)
    + d log(2/(n − 1))`` and ``E log S_ii = log Σ_ii + ψ((n − 1)/2) + log(2/(n − 1))``, so
    ``E log det R̂ − log det R = Σ_{i=1}^{d} ψ((n − i)/2) − d ψ((n − 1)/2)``. The returned
    value, ``≈ d(d − 1)/(4n)``, is what ``−½ log det R̂`` overestimates by.
    """
    if d < 2:
        return 0.0
    i = np.arange(1, d + 1)
    return float(-0.5 * (np.sum(digamma((n - i) / 2.0)) - d * digamma((n - 1) / 2.0)))


def gaussian_tc(r: Array, n: int) -> float:
    """Bias-corrected Gaussian total correlation ``−½ log det R̂ − bias`` of a correlation.

    Args:
        r: Sample correlation matrix of ``n`` rows, shape ``(d, d)``.
        n: Number of rows it was computed from.

    Returns:
        ``−½ log det r`` less its exact bias :func:`logdet_bias` under Gaussianity.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.gaussian import gaussian_tc, logdet_bias
        >>> gaussian_tc(np.eye(3), 1000) == -logdet_bias(1000, 3)
        True
    """
    return -0.5 * float(logdet(r)) - logdet_bias(n, r.shape[0])


@jax.jit
def whiten(z: Float[Array, "n d"]) -> tuple[Float[Array, "n d"], Array]:
    """Decorrelate: ``z R̂^{-1/2}`` (symmetric root) and the ``log det R̂`` removed."""
    r = correlation(z)
    vals, vecs = jnp.linalg.eigh(r)
    inv_root = (vecs / jnp.sqrt(vals)) @ vecs.T
    c = (z - z.mean(axis=0)) / jnp.std(z, axis=0)
    return jnp.matmul(c, inv_root, precision="highest"), jnp.sum(jnp.log(vals))
