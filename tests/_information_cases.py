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
    if nongaussian:
        names = [MAPS[(i + seed) % len(MAPS)] for i in range(d)]
        z = np.column_stack([_apply(nm, z[:, i]) for i, nm in enumerate(names)])
        h += sum(_expected_log_jacobian(nm) for nm in names)
    return Case(z, float(tc), float(h), float(mi), split)
