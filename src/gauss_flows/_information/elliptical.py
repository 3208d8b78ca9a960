"""The elliptical-copula candidate: radial Gaussianization of Student-t-marginal scores.

Heavy-tailed dependence such as that of a multivariate Student-t with identity
dispersion is purely radial (one shared scale); marginal Gaussianization and rotations
expose almost none of it per block, so the rank-RBIG remainder
(:mod:`~gauss_flows._information.remainder`) stops early. An elliptical copula is instead
removed in one step by *radial Gaussianization* (Lyu & Simoncelli 2009):

1. map every column of the normal scores ``z`` to Student-t(ν) marginals,
   ``v = F_ν⁻¹(Φ(z))`` (a monotone map per column: no change of total correlation),
   for each ν of :data:`DEGREES_OF_FREEDOM` (``None``: keep the Gaussian marginals);
2. whiten with the dispersion ``P = sin(π τ / 2)`` of Kendall's τ, exact for every
   elliptical copula and finite even where the covariance is not (ν ≤ 2);
3. map the radius ``r = |y|`` through ``g(r) = F_χ_d⁻¹(F_r(r))``, ``F_r`` a Gaussian
   kernel estimate on ``log r``; the log-determinant is
   ``log g'(r) + (d − 1) log(g(r)/r)``.

The composite map is a bijection with a known log-determinant, so it is a density model
``q`` of ``z``, and ``TC(z) = Σᵢ H(zᵢ) − H(z) = E log q(z) − E log N(z) + KL(p ‖ q)``
(the marginals of ``z`` are standard normal). The first term is measured on held-out
rows (two folds: fitted on one half, evaluated on the other, so the fit's optimism does
not enter), the second is the rank-RBIG remainder of the radially Gaussianized data.
The candidate is used only where its held-out log-likelihood beats that of the Gaussian
copula ``N(0, R)`` by more than ``threshold`` standard errors, so Gaussian dependence keeps
the exact bias-corrected closed form.

References:
    Lyu, S. & Simoncelli, E. P. (2009). Nonlinear extraction of independent components
    of natural images using radial Gaussianization. Neural Computation 21(6).
    Lindskog, F., McNeil, A. & Schmock, U. (2003). Kendall's tau for elliptical
    distributions. Credit Risk, Physica-Verlag.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special, stats

from gauss_flows._information.remainder import Remainder, remainder_of_scores
from gauss_flows._information.settings import InformationSettings

DEGREES_OF_FREEDOM: tuple[float | None, ...] = (1.0, 2.0, 3.0, 5.0, 10.0, 30.0, None)
"""Student-t marginals tried for the elliptical candidate (``None``: Gaussian marginals)."""

FOLDS = 2
"""Folds of the held-out log-likelihood."""

KERNEL_CENTRES = 256
"""Quantiles of ``log r`` that stand for the rows in the radial kernel estimate."""

_SALT = 101


class Elliptical(NamedTuple):
    """The elliptical candidate chosen for a set of normal scores."""

    nu: float | None
    """Degrees of freedom of the Student-t marginals (``None``: Gaussian marginals)."""
    gain: float
    """Held-out log-likelihood gain over the Gaussian copula (nats per row)."""
    stderr: float
    """Its standard error."""
    heldout: float
    """Held-out log-likelihood ratio of the candidate against ``N(0, I)`` (nats per row)."""


def _kendall_dispersion(z: np.ndarray) -> np.ndarray:
    """``sin(π τ / 2)`` of the pairwise Kendall's τ, made positive definite."""
    d = z.shape[1]
    p = np.eye(d)
    for i in range(d):
        for j in range(i + 1, d):
            p[i, j] = p[j, i] = np.sin(0.5 * np.pi * stats.kendalltau(z[:, i], z[:, j])[0])
    vals, vecs = np.linalg.eigh(p)
    return (vecs * np.maximum(vals, 1e-6)) @ vecs.T


def _marginals(z: np.ndarray, nu: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Student-t(ν) scores of ``z`` and the log-derivative of the map, summed per row."""
    if nu is None:
        return z, np.zeros(z.shape[0])
    v = stats.t.ppf(special.ndtr(z), nu)
    return v, np.sum(stats.norm.logpdf(z) - stats.t.logpdf(v, nu), axis=1)


def _radial(
    v_fit: np.ndarray, p: np.ndarray, v: np.ndarray, log_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-density of the model fitted on ``v_fit`` (dispersion ``p``) at ``v``, and ``U``.

    ``U`` is the radially Gaussianized ``v``: standard normal where the model holds.
    """
    d = v.shape[1]
    vals, vecs = np.linalg.eigh(p)
    inv_root = (vecs / np.sqrt(vals)) @ vecs.T
    log_r = np.log(np.linalg.norm(v_fit @ inv_root, axis=1))
    h = 1.06 * np.std(log_r) * log_r.size ** -0.2
    # The kernel estimate's centres: KERNEL_CENTRES quantiles of log r, far closer
    # together than the bandwidth, so the estimate is that of all rows at a fraction
    # of the cost.
    m = min(KERNEL_CENTRES, log_r.size)
    centres = np.quantile(log_r, (np.arange(m) + 0.5) / m)
    y = v @ inv_root
    r = np.linalg.norm(y, axis=1)
    t = (np.log(r)[:, None] - centres[None, :]) / h
    log_m = np.log(centres.size)
    log_pdf = special.logsumexp(-0.5 * t**2, axis=1) - log_m - np.log(h * np.sqrt(2 * np.pi))
    log_cdf = special.logsumexp(special.log_ndtr(t), axis=1) - log_m
    log_sf = special.logsumexp(special.log_ndtr(-t), axis=1) - log_m
    lower = log_cdf < np.log(0.5)
    g = np.where(
        lower,
        stats.chi.ppf(np.exp(np.minimum(log_cdf, 0.0)), d),
        stats.chi.isf(np.exp(np.minimum(log_sf, 0.0)), d),
    )
    g = np.clip(g, 1e-300, None)
    log_g_prime = log_pdf - np.log(r) - stats.chi.logpdf(g, d)
    log_q = (
        -0.5 * d * np.log(2 * np.pi)
        - 0.5 * g**2
        + log_g_prime
        + (d - 1) * (np.log(g) - np.log(r))
        - 0.5 * np.sum(np.log(vals))
        + log_t
    )
    return log_q, y * (g / r)[:, None]


def _folds(n: int, settings: InformationSettings) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train and test rows of each fold; the same for every column subset of one sample,
    so the fold noise of the total correlations a mutual information combines cancels."""
    rng = np.random.default_rng([settings.random_state, _SALT])
    parts = np.array_split(rng.permutation(n), FOLDS)
    return [
        (np.concatenate([q for j, q in enumerate(parts) if j != k]), te)
        for k, te in enumerate(parts)
    ]


def _heldout(z: np.ndarray, nus, settings: InformationSettings) -> dict:
    """Held-out per-row log-likelihood ratio against ``N(0, I)`` of each candidate."""
    n, d = z.shape
    log_n = np.sum(stats.norm.logpdf(z), axis=1)
    out = {key: np.empty(n) for key in ("gaussian", *nus)}
    marginals = {nu: _marginals(z, nu) for nu in nus}
    for train, test in _folds(n, settings):
        r = np.corrcoef(z[train], rowvar=False).reshape(d, d)
        chol = np.linalg.cholesky(r)
        sol = np.linalg.solve(chol, z[test].T)
        out["gaussian"][test] = (
            -0.5 * np.sum(sol**2, axis=0) - np.log(np.diag(chol)).sum()
            - 0.5 * d * np.log(2 * np.pi) - log_n[test]
        )
        p = _kendall_dispersion(z[train])
        for nu, (v, log_t) in marginals.items():
            out[nu][test] = _radial(v[train], p, v[test], log_t[test])[0] - log_n[test]
    return out


def choose_elliptical(z, settings: InformationSettings) -> Elliptical | None:
    """The elliptical candidate for scores ``z``, or ``None`` if it does not beat ``N(0, R)``.

    The candidate with the highest held-out log-likelihood is kept if its gain over the
    Gaussian copula exceeds ``settings.threshold`` standard errors (paired over rows).
    Only for ``2 ≤ d ≤ settings.elliptical_max_dims`` columns.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.elliptical import choose_elliptical
        >>> from gauss_flows.information import InformationSettings
        >>> z = np.random.default_rng(0).normal(size=(1000, 3))
        >>> choose_elliptical(z, InformationSettings()) is None
        True
    """
    z = np.asarray(z, np.float64)
    n, d = z.shape
    if d < 2 or d > settings.elliptical_max_dims:
        return None
    ll = _heldout(z, DEGREES_OF_FREEDOM, settings)
    best = max(DEGREES_OF_FREEDOM, key=lambda nu: ll[nu].mean())
    diff = ll[best] - ll["gaussian"]
    gain, stderr = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n))
    if not gain > settings.threshold * stderr:
        return None
    return Elliptical(best, gain, stderr, float(ll[best].mean()))


def elliptical_parts(
    z,
    nu: float | None,
    settings: InformationSettings,
    salt: int = 0,
    heldout: float | None = None,
) -> tuple[float, Remainder]:
    """The two parts of :func:`elliptical_total_correlation`: radial and remainder.

    The radial part is the held-out ``E log q(z) − E log N(z)`` plus ``½ d (1 − mean z²)``
    (the part of ``Σᵢ H(zᵢ) + E log N(z)`` the finite sample leaves); the second is the
    rank-RBIG :class:`~gauss_flows._information.remainder.Remainder` of the radially
    Gaussianized rows, whose layers :func:`~gauss_flows.information_reduction` reports.
    ``z`` must have at least two columns.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.elliptical import elliptical_parts
        >>> from gauss_flows.information import InformationSettings
        >>> z = np.random.default_rng(0).normal(size=(1000, 2))
        >>> radial, rest = elliptical_parts(z, None, InformationSettings())
        >>> abs(radial) < 0.05 and rest.value >= 0
        True
    """
    radial, u = radially_gaussianized(z, nu, settings, heldout)
    return radial, remainder_of_scores(u, settings, _SALT + salt)


def radially_gaussianized(
    z, nu: float | None, settings: InformationSettings, heldout: float | None = None
) -> tuple[float, np.ndarray]:
    """The radial part of :func:`elliptical_parts` and the radially Gaussianized rows.

    The rows ``u`` are what the rank-RBIG remainder is measured on (standard normal where
    the elliptical model holds).

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.elliptical import radially_gaussianized
        >>> from gauss_flows.information import InformationSettings
        >>> z = np.random.default_rng(0).normal(size=(1000, 2))
        >>> radial, u = radially_gaussianized(z, None, InformationSettings())
        >>> u.shape, bool(abs(radial) < 0.05)
        ((1000, 2), True)
    """
    z = np.asarray(z, np.float64)
    n, d = z.shape
    if heldout is None:
        heldout = float(_heldout(z, (nu,), settings)[nu].mean())
    v, log_t = _marginals(z, nu)
    _, u = _radial(v, _kendall_dispersion(z), v, log_t)
    return heldout + 0.5 * d * (1.0 - np.mean(z**2)), u


def elliptical_total_correlation(
    z,
    nu: float | None,
    settings: InformationSettings,
    salt: int = 0,
    heldout: float | None = None,
) -> float:
    """Total correlation of scores ``z`` under the elliptical model with marginals ``nu``.

    The held-out ``E log q(z) − E log N(z)`` (with ``½ d (1 − mean z²)``, the part of
    ``Σᵢ H(zᵢ) + E log N(z)`` the finite sample leaves) plus the rank-RBIG remainder of
    the radially Gaussianized rows (:func:`elliptical_parts`). ``heldout``, if given, is
    that log-likelihood ratio already measured (:attr:`Elliptical.heldout`). ``salt``
    keys the remainder's rotations.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.elliptical import elliptical_total_correlation
        >>> from gauss_flows.information import InformationSettings
        >>> z = np.random.default_rng(0).normal(size=(1000, 2))
        >>> abs(elliptical_total_correlation(z, None, InformationSettings())) < 0.05
        True
    """
    if np.shape(z)[1] < 2:
        return 0.0
    radial, rest = elliptical_parts(z, nu, settings, salt, heldout)
    return float(radial + rest.value)
