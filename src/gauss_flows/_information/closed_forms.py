"""Information measures of Gaussian distributions in closed form, in nats.

These are the truths the sample-based estimators are checked against, and the Gaussian
part every estimator computes first (:mod:`gauss_flows.information`).

References:
    Cover, T. M. & Thomas, J. A. (2006). Elements of Information Theory, 2nd ed., ch. 8.
    Wiley.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike

__all__ = [
    "gaussian_conditional_mutual_information",
    "gaussian_entropy",
    "gaussian_kl_divergence",
    "gaussian_mutual_information",
    "gaussian_total_correlation",
]


def _covariance(cov: ArrayLike, name: str = "cov") -> np.ndarray:
    """``cov`` as a symmetric positive-definite float64 matrix, or a ``ValueError``."""
    c = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"{name} must be a square matrix; got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{name} holds NaN or inf")
    if not np.allclose(c, c.T, rtol=1e-10, atol=1e-12 * np.abs(c).max()):
        raise ValueError(f"{name} must be symmetric")
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"{name} is not positive definite: the Gaussian has no density (its measures are "
            "infinite)"
        ) from None
    return c


def _logdet(c: np.ndarray) -> float:
    return float(np.linalg.slogdet(c)[1]) if c.size else 0.0


def gaussian_entropy(cov: ArrayLike) -> float:
    """Differential entropy ``½ log det(2πe Σ)`` of a Gaussian with covariance ``Σ``.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> round(gf.gaussian_entropy(np.eye(2)), 4)  # log(2πe)
        2.8379

    References:
        Cover & Thomas (2006), Theorem 8.4.1.
    """
    c = _covariance(cov)
    return float(0.5 * (c.shape[0] * np.log(2 * np.pi * np.e) + _logdet(c)))


def gaussian_total_correlation(cov: ArrayLike) -> float:
    """Total correlation ``½ (Σᵢ log Σᵢᵢ − log det Σ)`` of a Gaussian (``−½ log det R``).

    Example:
        >>> import gauss_flows as gf
        >>> round(gf.gaussian_total_correlation([[1, 0.8], [0.8, 1]]), 4)  # −½ log 0.36
        0.5108
    """
    c = _covariance(cov)
    return float(0.5 * (np.sum(np.log(np.diag(c))) - _logdet(c)))


def _split(c: np.ndarray, dims: tuple[int, ...]) -> list[np.ndarray]:
    """Index arrays of consecutive groups of ``dims`` columns (which must fill ``c``)."""
    dims = tuple(int(d) for d in dims)
    if any(d < 1 for d in dims) or sum(dims) != c.shape[0]:
        raise ValueError(
            f"the group sizes {dims} must be positive and add up to the {c.shape[0]} columns of cov"
        )
    edges = np.cumsum((0, *dims))
    return [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]


def _block_logdet(c: np.ndarray, *groups: np.ndarray) -> float:
    idx = np.concatenate(groups) if groups else np.arange(0)
    return _logdet(c[np.ix_(idx, idx)])


def gaussian_mutual_information(cov: ArrayLike, d_x: int) -> float:
    """``I(X; Y) = ½ (log det Σ_XX + log det Σ_YY − log det Σ)`` of a joint Gaussian.

    Args:
        cov: Covariance of ``(X, Y)``, with ``X`` the first ``d_x`` coordinates.
        d_x: Dimension of ``X``.

    Example:
        >>> import gauss_flows as gf
        >>> round(gf.gaussian_mutual_information([[1, 0.6], [0.6, 1]], 1), 4)  # −½ log 0.64
        0.2231
    """
    c = _covariance(cov)
    x, y = _split(c, (d_x, c.shape[0] - d_x))
    return float(0.5 * (_block_logdet(c, x) + _block_logdet(c, y) - _logdet(c)))


def gaussian_conditional_mutual_information(cov: ArrayLike, dims: tuple[int, int, int]) -> float:
    """``I(X; Y | Z) = ½ (log det Σ_XZ + log det Σ_YZ − log det Σ − log det Σ_Z)``.

    Args:
        cov: Covariance of ``(X, Y, Z)``, in that order.
        dims: The dimensions ``(d_x, d_y, d_z)``.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> gf.gaussian_conditional_mutual_information(np.eye(3), (1, 1, 1))
        0.0
    """
    c = _covariance(cov)
    x, y, z = _split(c, dims)
    return float(
        0.5 * (_block_logdet(c, x, z) + _block_logdet(c, y, z) - _logdet(c) - _block_logdet(c, z))
    )


def gaussian_kl_divergence(
    mean_p: ArrayLike, cov_p: ArrayLike, mean_q: ArrayLike, cov_q: ArrayLike
) -> float:
    """``KL(N(μ_p, Σ_p) ‖ N(μ_q, Σ_q))``.

    Equal to ``½ [tr(Σ_q⁻¹ Σ_p) + (μ_q − μ_p)ᵀ Σ_q⁻¹ (μ_q − μ_p) − d + log det Σ_q − log det Σ_p]``.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> gf.gaussian_kl_divergence([0.5, 0.5], np.eye(2), [0, 0], np.eye(2))
        0.25
    """
    cp, cq = _covariance(cov_p, "cov_p"), _covariance(cov_q, "cov_q")
    mp = np.atleast_1d(np.asarray(mean_p, np.float64))
    mq = np.atleast_1d(np.asarray(mean_q, np.float64))
    d = cp.shape[0]
    if cq.shape[0] != d or mp.shape != (d,) or mq.shape != (d,):
        raise ValueError(
            f"the means and covariances must share one dimension; got means {mp.shape} and "
            f"{mq.shape}, covariances {cp.shape} and {cq.shape}"
        )
    delta = mq - mp
    sol = np.linalg.solve(cq, np.column_stack([cp, delta]))
    return float(0.5 * (np.trace(sol[:, :d]) + delta @ sol[:, d] - d + _logdet(cq) - _logdet(cp)))
