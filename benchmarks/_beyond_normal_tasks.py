"""The "Beyond Normal" mutual-information tasks, re-implemented from their closed forms.

Each task is a base distribution with known mutual information (a bivariate or split
multivariate normal, a split multivariate Student-t, additive uniform noise, a bimodal
copula) pushed through maps that change no mutual information: monotone maps of single
coordinates (Gaussian CDF, "wiggly", half-cube, asinh), a spiral (a rotation by an angle
growing with the squared radius, a diffeomorphism of each variable's space) and the
swiss-roll embedding of a scalar into the plane. The true value is that of the base.

The list is the 37-task list used with the paper's ``BENCHMARK_TASKS`` names (one-
dimensional tasks, dense and sparse multinormal, Student-t, transformed multinormal,
asinh Student-t); the samplers here are written from the definitions, not taken from
the ``bmi`` package, so the samples differ from the paper's while the truths agree.

References:
    Czyż, P., Grabowski, F., Vogt, J. E., Beerenwinkel, N. & Marx, A. (2023). Beyond
    normal: on the evaluation of mutual information estimators. NeurIPS.
    Arellano-Valle, R. B., Contreras-Reyes, J. E. & Genton, M. G. (2013). Shannon entropy
    and mutual information for multivariate skew-elliptical distributions. Scand. J. Stat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, gammaln
from scipy.stats import norm

Sampler = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Task:
    """One benchmark task: an id, a family for the plot, the truth and a sampler."""

    task_id: str
    family: str
    truth: float
    sample: Sampler


def gaussian_mi(cov: np.ndarray, dx: int) -> float:
    ld = lambda c: np.linalg.slogdet(c)[1]  # noqa: E731
    return 0.5 * (ld(cov[:dx, :dx]) + ld(cov[dx:, dx:]) - ld(cov))


def dense_cov(dx: int, dy: int, off: float = 0.5) -> np.ndarray:
    d = dx + dy
    return np.eye(d) * (1 - off) + off


def sparse_cov(dx: int, dy: int, k: int = 2, strength: float = 2.0) -> np.ndarray:
    """Latent pairs: ``Xᵢ = s Zᵢ + εᵢ``, ``Yᵢ = s Zᵢ + δᵢ`` for ``i < k``; the rest is noise."""
    a = np.zeros((dx + dy, k))
    for i in range(k):
        a[i, i] = strength
        a[dx + i, i] = strength
    return np.eye(dx + dy) + a @ a.T


def student_mi(dx: int, dy: int, df: float, dispersion: np.ndarray | None = None) -> float:
    """MI of a split multivariate Student-t: the Gaussian part of the dispersion plus a
    term of the shared scale alone (Arellano-Valle et al. 2013)."""
    g = 0.0 if dispersion is None else gaussian_mi(dispersion, dx)
    h = lambda d: gammaln((df + d) / 2) - (df + d) / 2 * digamma((df + d) / 2)  # noqa: E731
    return g + h(0) + h(dx + dy) - h(dx) - h(dy)


def _normal(cov: np.ndarray, dx: int) -> Sampler:
    chol = np.linalg.cholesky(cov)

    def sample(n, rng):
        z = rng.standard_normal((n, len(cov))) @ chol.T
        return z[:, :dx], z[:, dx:]

    return sample


def _student(dx: int, dy: int, df: float) -> Sampler:
    def sample(n, rng):
        z = rng.standard_normal((n, dx + dy)) / np.sqrt(rng.chisquare(df, (n, 1)) / df)
        return z[:, :dx], z[:, dx:]

    return sample


def _additive(eps: float) -> Sampler:
    def sample(n, rng):
        x = rng.uniform(0, 1, (n, 1))
        return x, x + rng.uniform(-eps, eps, (n, 1))

    return sample


def additive_mi(eps: float) -> float:
    """``I(X; X + N)``, ``X ~ U(0, 1)``, ``N ~ U(−ε, ε)``: ``ε − log 2ε`` or ``1/(4ε)``."""
    return eps - np.log(2 * eps) if eps <= 0.5 else 1 / (4 * eps)


def _bimodal_quantile() -> Callable[[np.ndarray], np.ndarray]:
    """Inverse CDF of the equal mixture of N(−1, 0.5²) and N(1, 0.5²), tabulated."""
    grid = np.linspace(-6, 6, 4001)
    cdf = 0.5 * (norm.cdf(grid, -1, 0.5) + norm.cdf(grid, 1, 0.5))
    return lambda u: np.interp(u, cdf, grid)


def _map(base: Sampler, fx: Callable, fy: Callable | None = None) -> Sampler:
    fy = fx if fy is None else fy

    def sample(n, rng):
        x, y = base(n, rng)
        return fx(x), fy(y)

    return sample


def wiggly(x):
    """A monotone wiggle (slope ≥ 0.16)."""
    return x + 0.4 * np.sin(x) + 0.2 * np.sin(1.7 * x + 1) + 0.03 * np.sin(3.3 * x - 2.5)


def half_cube(x):
    return np.sign(x) * np.abs(x) ** 1.5


def spiral(x, speed: float = 1 / 3, loc: float | np.ndarray = 0.0, scale: float | np.ndarray = 1.0):
    """Rotate the plane of the first two coordinates by ``speed · ‖x‖²`` radians.

    ``x`` is first standardized by the known ``loc`` and ``scale`` of its coordinates
    (a fixed affine map), so the spiral's strength does not depend on the base's scale.
    """
    x = (np.array(x, dtype=np.float64) - loc) / scale
    angle = speed * np.sum(x**2, axis=1)
    c, s = np.cos(angle), np.sin(angle)
    a, b = x[:, 0].copy(), x[:, 1].copy()
    x[:, 0], x[:, 1] = c * a - s * b, s * a + c * b
    return x


def swissroll(u):
    """Embed ``u ∈ (0, 1)`` as a curve in the plane (a swiss roll)."""
    t = 1.5 * np.pi * (1 + 2 * u[:, 0])
    return np.column_stack([t * np.cos(t), t * np.sin(t)]) / 21.0


def _tasks() -> list[Task]:
    rho = 0.75
    c2 = np.array([[1, rho], [rho, 1]])
    mi2 = gaussian_mi(c2, 1)
    normal1 = _normal(c2, 1)
    q = _bimodal_quantile()
    out = [
        Task("1v1-normal-0.75", "1-D", mi2, normal1),
        Task("normal_cdf-1v1-normal-0.75", "1-D", mi2, _map(normal1, norm.cdf)),
        Task("1v1-additive-0.1", "1-D", additive_mi(0.1), _additive(0.1)),
        Task("1v1-additive-0.75", "1-D", additive_mi(0.75), _additive(0.75)),
        Task("1v1-bimodal-0.75", "1-D", mi2, _map(normal1, lambda z: q(norm.cdf(z)))),
        Task("wiggly-1v1-normal-0.75", "1-D", mi2, _map(normal1, wiggly)),
        Task("half_cube-1v1-normal-0.75", "1-D", mi2, _map(normal1, half_cube)),
        Task("student-identity-1-1-1", "Student-t", student_mi(1, 1, 1), _student(1, 1, 1)),
        Task("asinh-student-identity-1-1-1", "Student-t", student_mi(1, 1, 1),
             _map(_student(1, 1, 1), np.arcsinh)),
        Task("swissroll_x-normal_cdf-1v1-normal-0.75", "manifold", mi2,
             _map(normal1, lambda z: swissroll(norm.cdf(z)), norm.cdf)),
    ]
    for d in (2, 3, 5, 25, 50):
        c = dense_cov(d, d)
        out.append(Task(f"multinormal-dense-{d}-{d}-0.5", "multinormal", gaussian_mi(c, d), _normal(c, d)))
    for d in (2, 3, 5):
        c = sparse_cov(d, d)
        out.append(Task(f"multinormal-sparse-{d}-{d}-2-2.0", "multinormal", gaussian_mi(c, d), _normal(c, d)))
    for d, df in ((2, 1), (2, 2), (3, 2), (3, 3), (5, 2), (5, 3)):
        out.append(Task(f"student-identity-{d}-{d}-{df}", "Student-t", student_mi(d, d, df), _student(d, d, df)))
    for d in (3, 5, 25):
        c = sparse_cov(d, d)
        out.append(Task(f"normal_cdf-multinormal-sparse-{d}-{d}-2-2.0", "transformed",
                        gaussian_mi(c, d), _map(_normal(c, d), norm.cdf)))
    c25 = sparse_cov(25, 25)
    out.append(Task("half_cube-multinormal-sparse-25-25-2-2.0", "transformed",
                    gaussian_mi(c25, 25), _map(_normal(c25, 25), half_cube)))
    for d in (3, 5, 25):
        c = sparse_cov(d, d)
        sx, sy = np.sqrt(np.diag(c)[:d]), np.sqrt(np.diag(c)[d:])
        out.append(Task(f"spiral-multinormal-sparse-{d}-{d}-2-2.0", "spiral",
                        gaussian_mi(c, d), _map(_normal(c, d), lambda x, s=sx: spiral(x, scale=s),
                                                lambda y, s=sy: spiral(y, scale=s))))
    for d in (3, 5, 25):
        c = sparse_cov(d, d)
        out.append(Task(f"spiral-normal_cdf-multinormal-sparse-{d}-{d}-2-2.0", "spiral",
                        gaussian_mi(c, d),
                        _map(_normal(c, d), lambda z, s=np.sqrt(np.diag(c)[:d]): spiral(
                            norm.cdf(z / s), loc=0.5, scale=np.sqrt(1 / 12)))))
    for d, df in ((2, 1), (3, 2), (5, 2)):
        out.append(Task(f"asinh-student-identity-{d}-{d}-{df}", "Student-t", student_mi(d, d, df),
                        _map(_student(d, d, df), np.arcsinh)))
    return out


TASKS: dict[str, Task] = {t.task_id: t for t in _tasks()}
