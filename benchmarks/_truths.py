"""Densities whose log-density is known exactly: samplers and true log-densities.

Each :class:`Truth` draws rows (``sample(n, seed)``) and evaluates the exact log-density
of its generating process (``log_prob(X)``), so a model's held-out NLL minus the truth's
is a Monte Carlo estimate of its KL divergence from the truth (plus nothing: the truth's
own NLL is the entropy estimate on the same rows).

- ``moons``: scikit-learn's ``make_moons`` process: the arc parameter evenly spread over
  each half circle, Gaussian noise of standard deviation ``noise``. Its density is the
  noise kernel averaged over the arcs, computed by quadrature (4,096 nodes per arc; the
  sampler's evenly spaced arc points make the sample's law that average up to the spacing
  of ``n / 2`` points).
- ``mixture``: a 2-D mixture of five anisotropic Gaussians (closed form).
- ``funnel``: Neal's funnel in 2-D, ``v ~ N(0, 1.5²)``, ``x | v ~ N(0, e^v)`` (closed form).
- ``rings``: three concentric rings, radius ``R_k + 0.08 ε``, uniform angle (the density of
  the polar map; radii below zero have probability under 1e-30).
- ``checkerboard``: uniform on the eight dark squares of a 4 x 4 board on [-2, 2]², plus
  Gaussian noise of standard deviation 0.05 (a product of normal-CDF differences per square).

References:
    Neal, R. M. (2003). Slice sampling. Annals of Statistics (the funnel).
    Grathwohl, W. et al. (2019). FFJORD (2-D toy densities: rings, checkerboard).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, log_ndtr
from scipy.stats import multivariate_normal


@dataclass(frozen=True)
class Truth:
    """A data-generating process with an exact log-density."""

    name: str
    description: str
    sample: Callable[[int, int], np.ndarray]
    log_prob: Callable[[np.ndarray], np.ndarray]


# ------------------------------------------------------------------------ moons

MOONS_NOISE = 0.08  # the seed notebook's make_moons noise
_ARC_NODES = 4096


def _moons_sample(n: int, seed: int, noise: float = MOONS_NOISE) -> np.ndarray:
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=noise, random_state=seed)[0]


def _moons_log_prob(X: np.ndarray, noise: float = MOONS_NOISE) -> np.ndarray:
    theta = (np.arange(_ARC_NODES) + 0.5) * np.pi / _ARC_NODES
    outer = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    inner = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
    centres = np.concatenate([outer, inner])  # each moon holds half the mass
    out = np.empty(len(X))
    for start in range(0, len(X), 512):
        x = X[start:start + 512]
        sq = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        out[start:start + 512] = logsumexp(-sq / (2 * noise**2), axis=1)
    return out - np.log(len(centres)) - np.log(2 * np.pi * noise**2)


# ------------------------------------------------------------------------ mixture

_MIX_MEANS = np.array([[-2.0, -1.0], [0.0, 2.0], [2.5, 0.5], [0.5, -2.0], [-2.0, 2.0]])
_MIX_WEIGHTS = np.array([0.3, 0.2, 0.2, 0.15, 0.15])


def _mix_covariances() -> np.ndarray:
    covs = []
    for k, (a, b) in enumerate([(0.6, 0.15), (0.8, 0.1), (0.3, 0.3), (0.9, 0.2), (0.4, 0.1)]):
        angle = 0.7 * k
        R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        covs.append(R @ np.diag([a**2, b**2]) @ R.T)
    return np.array(covs)


def _mix_sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(_MIX_WEIGHTS), size=n, p=_MIX_WEIGHTS)
    chol = np.linalg.cholesky(_mix_covariances())
    return _MIX_MEANS[labels] + np.einsum("nij,nj->ni", chol[labels], rng.standard_normal((n, 2)))


def _mix_log_prob(X: np.ndarray) -> np.ndarray:
    covs = _mix_covariances()
    parts = [np.log(w) + multivariate_normal(m, c).logpdf(X)
             for w, m, c in zip(_MIX_WEIGHTS, _MIX_MEANS, covs)]
    return logsumexp(np.stack(parts), axis=0)


# ------------------------------------------------------------------------ funnel

_FUNNEL_SCALE = 1.5


def _funnel_sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = _FUNNEL_SCALE * rng.standard_normal(n)
    x = np.exp(v / 2) * rng.standard_normal(n)
    return np.stack([v, x], axis=1)


def _normal_logpdf(x, scale):
    return -0.5 * (x / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)


def _funnel_log_prob(X: np.ndarray) -> np.ndarray:
    v, x = X[:, 0], X[:, 1]
    return _normal_logpdf(v, _FUNNEL_SCALE) + _normal_logpdf(x, np.exp(v / 2))


# ------------------------------------------------------------------------ rings

_RING_RADII = np.array([1.0, 2.0, 3.0])
_RING_WEIGHTS = _RING_RADII / _RING_RADII.sum()  # mass grows with the circumference
_RING_WIDTH = 0.08


def _rings_sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    r = _RING_RADII[rng.choice(3, size=n, p=_RING_WEIGHTS)] + _RING_WIDTH * rng.standard_normal(n)
    angle = rng.uniform(0.0, 2 * np.pi, n)
    return np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1)


def _rings_log_prob(X: np.ndarray) -> np.ndarray:
    r = np.hypot(X[:, 0], X[:, 1])
    radial = logsumexp(np.log(_RING_WEIGHTS)[:, None] + _normal_logpdf(r[None, :] - _RING_RADII[:, None], _RING_WIDTH), axis=0)
    return radial - np.log(2 * np.pi * r)


# ------------------------------------------------------------------------ checkerboard

_BOARD_NOISE = 0.05
# Lower-left corners of the dark squares of a 4 x 4 board on [-2, 2]^2.
_SQUARES = np.array([(i, j) for i in range(-2, 2) for j in range(-2, 2) if (i + j) % 2 == 0], float)


def _board_sample(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    corners = _SQUARES[rng.integers(len(_SQUARES), size=n)]
    return corners + rng.uniform(size=(n, 2)) + _BOARD_NOISE * rng.standard_normal((n, 2))


def _log_interval(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """log(Φ((a + 1 − x)/σ) − Φ((a − x)/σ)), computed stably in either tail."""
    hi, lo = (a + 1 - x) / _BOARD_NOISE, (a - x) / _BOARD_NOISE
    # Φ(hi) − Φ(lo) = Φ(−lo) − Φ(−hi); use the side where the CDFs are small.
    flip = lo > 0
    hi_, lo_ = np.where(flip, -lo, hi), np.where(flip, -hi, lo)
    return log_ndtr(hi_) + np.log1p(-np.exp(log_ndtr(lo_) - log_ndtr(hi_)))


def _board_log_prob(X: np.ndarray) -> np.ndarray:
    per_square = (_log_interval(X[:, None, 0], _SQUARES[None, :, 0])
                  + _log_interval(X[:, None, 1], _SQUARES[None, :, 1]))
    return logsumexp(per_square, axis=1) - np.log(len(_SQUARES))


TRUTHS: dict[str, Truth] = {
    t.name: t for t in (
        Truth("moons", f"make_moons(noise={MOONS_NOISE}), the seed's process", _moons_sample,
              _moons_log_prob),
        Truth("mixture", "five anisotropic 2-D Gaussians", _mix_sample, _mix_log_prob),
        Truth("funnel", f"Neal's funnel, v ~ N(0, {_FUNNEL_SCALE}²), x | v ~ N(0, e^v)",
              _funnel_sample, _funnel_log_prob),
        Truth("rings", f"three rings, radii 1, 2, 3, width {_RING_WIDTH}", _rings_sample,
              _rings_log_prob),
        Truth("checkerboard", f"4 x 4 checkerboard, dark squares, noise {_BOARD_NOISE}",
              _board_sample, _board_log_prob),
    )
}
