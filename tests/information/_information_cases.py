"""Data with closed-form information measures, shared by the information tests and benchmark.

Correlated Gaussians, optionally pushed through a different monotone map per column
(``exp``, ``x³``, the normal CDF ``Φ``, ``sinh``). The maps leave total correlation and
mutual information unchanged and shift the entropy by ``Σᵢ E log|fᵢ'(Zᵢ)|`` (exact formulas,
or Gauss–Hermite quadrature for ``sinh``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

MAPS = ("exp", "cube", "ncdf", "sinh")


def _expected_log_jacobian(name: str) -> float:
    """``E log|f'(Z)|`` for ``Z ~ N(0, 1)``."""
    if name == "exp":
        return 0.0  # log f' = z
    if name == "cube":
        # log 3 + E log Z², and E log χ²₁ = ψ(½) + log 2 = −γ − log 2
        return float(np.log(3.0) - np.euler_gamma - np.log(2.0))
    if name == "ncdf":
        return float(-0.5 - 0.5 * np.log(2 * np.pi))  # E log φ(Z)
    if name == "sinh":
        nodes, weights = np.polynomial.hermite_e.hermegauss(200)
        return float(np.sum(weights * np.logaddexp(nodes, -nodes) - weights * np.log(2.0)) / np.sqrt(2 * np.pi))
    raise ValueError(name)


def _log_jacobian(name: str, z: np.ndarray) -> np.ndarray:
    """``log|f'(z)|`` pointwise."""
    if name == "exp":
        return z
    if name == "cube":
        return np.log(3.0 * z**2)
    if name == "ncdf":
        return -0.5 * z**2 - 0.5 * np.log(2 * np.pi)
    return np.logaddexp(z, -z) - np.log(2.0)


def _apply(name: str, z: np.ndarray) -> np.ndarray:
    return {"exp": np.exp, "cube": lambda v: v**3, "ncdf": ndtr, "sinh": np.sinh}[name](z)


def random_correlation(rng: np.random.Generator, d: int) -> np.ndarray:
    """A random correlation matrix with moderate dependence."""
    a = rng.standard_normal((d, d))
    s = a @ a.T + 0.5 * d * np.eye(d)
    sd = np.sqrt(np.diag(s))
    return s / np.outer(sd, sd)


@dataclass
class Case:
    X: np.ndarray
    tc: float
    entropy: float
    mi: float
    split: int
    gaussian_entropy: float
    latent: np.ndarray
    maps: tuple[str, ...] = ()


def make_case(d: int, seed: int, *, nongaussian: bool, n: int = 2000) -> Case:
    """``n`` samples in ``d`` dimensions with the true TC, entropy and MI (first ⌊d/2⌋ | rest)."""
    rng = np.random.default_rng(1000 * d + seed)
    r = random_correlation(rng, d)
    z = rng.multivariate_normal(np.zeros(d), r, size=n)
    logdet = np.linalg.slogdet(r)[1]
    tc = -0.5 * logdet
    h = 0.5 * d * np.log(2 * np.pi * np.e) + 0.5 * logdet
    split = d // 2
    mi = -0.5 * (logdet - np.linalg.slogdet(r[:split, :split])[1] - np.linalg.slogdet(r[split:, split:])[1])
    h_gauss = float(h)
    latent = z
    if nongaussian:
        names = [MAPS[(i + seed) % len(MAPS)] for i in range(d)]
        z = np.column_stack([_apply(nm, z[:, i]) for i, nm in enumerate(names)])
        h += sum(_expected_log_jacobian(nm) for nm in names)
        return Case(z, float(tc), float(h), float(mi), split, h_gauss, latent, tuple(names))
    return Case(z, float(tc), float(h), float(mi), split, h_gauss, latent)


def gaussian_kl(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> float:
    """``KL(N(m1, s1) ‖ N(m2, s2))`` in closed form."""
    d = len(m1)
    p2 = np.linalg.inv(s2)
    dm = m2 - m1
    return float(
        0.5 * (np.trace(p2 @ s1) + dm @ p2 @ dm - d + np.linalg.slogdet(s2)[1] - np.linalg.slogdet(s1)[1])
    )


def make_kl_case(d: int, seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray, float]:
    """Samples from two correlated Gaussians with shifted means, and their true KL."""
    rng = np.random.default_rng(7000 + 10 * d + seed)
    s1, s2 = random_correlation(rng, d), random_correlation(rng, d)
    m1, m2 = np.zeros(d), 0.3 * rng.standard_normal(d)
    X = rng.multivariate_normal(m1, s1, size=n)
    Y = rng.multivariate_normal(m2, s2, size=n)
    return X, Y, gaussian_kl(m1, s1, m2, s2)


def oracle_errors(case: Case) -> tuple[float, float]:
    """Errors (TC, entropy) of a best-informed reference on the same sample.

    It knows the maps and that the latent is Gaussian: the bias-corrected Gaussian TC and
    entropy of the latent rows from their sample covariance, plus the sample mean of
    ``log|f'|``. Its error is the sample's own luck, the floor for any estimator.
    """
    from scipy.special import digamma

    n, d = case.latent.shape
    k = np.arange(1, d + 1)
    cov = np.cov(case.latent, rowvar=False).reshape(d, d)
    logdet = np.linalg.slogdet(cov)[1] - (np.sum(digamma((n - k) / 2.0)) + d * np.log(2.0 / (n - 1)))
    h = 0.5 * d * np.log(2 * np.pi * np.e) + 0.5 * logdet
    h += sum(_log_jacobian(nm, case.latent[:, i]).mean() for i, nm in enumerate(case.maps))
    sd = np.sqrt(np.diag(cov))
    log_det_r = np.linalg.slogdet(cov / np.outer(sd, sd))[1]
    tc = -0.5 * log_det_r + 0.5 * (np.sum(digamma((n - k) / 2.0)) - d * digamma((n - 1) / 2.0))
    return float(tc - case.tc), float(h - case.entropy)
