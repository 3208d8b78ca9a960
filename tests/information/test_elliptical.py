"""The elliptical-copula candidate of the information measures (Student-t dependence)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import digamma, gammaln

import gauss_flows as gf
from gauss_flows._information.elliptical import choose_elliptical
from gauss_flows._information.gaussian import normal_scores


def _student(n: int, d: int, nu: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) / np.sqrt(rng.chisquare(nu, (n, 1)) / nu)


def _student_mi(dx: int, dy: int, nu: float) -> float:
    """MI of a split Student-t with identity dispersion (Arellano-Valle et al. 2013)."""
    h = lambda d: gammaln((nu + d) / 2) - (nu + d) / 2 * digamma((nu + d) / 2)  # noqa: E731
    return float(h(0) + h(dx + dy) - h(dx) - h(dy))


def test_student_t_total_correlation_of_two_columns():
    X = _student(2000, 2, 1.0, 0)
    truth = _student_mi(1, 1, 1.0)  # two columns: TC is the MI of the halves
    assert abs(gf.total_correlation(X) - truth) <= max(0.05, 0.1 * truth)


@pytest.mark.slow
def test_student_t_mutual_information_3_3_nu_3():
    X = _student(5000, 6, 3.0, 1000)
    truth = _student_mi(3, 3, 3.0)
    estimate = gf.mutual_information(X[:, :3], X[:, 3:])
    assert abs(estimate - truth) <= max(0.05, 0.1 * truth)


def test_gaussian_dependence_keeps_the_closed_form():
    rng = np.random.default_rng(3)
    cov = np.full((6, 6), 0.5) + 0.5 * np.eye(6)
    XY = rng.multivariate_normal(np.zeros(6), cov, size=2000)
    assert choose_elliptical(np.asarray(normal_scores(XY)), gf.InformationSettings()) is None
    plain = gf.InformationSettings(elliptical_max_dims=0)
    assert gf.mutual_information(XY[:, :3], XY[:, 3:]) == gf.mutual_information(
        XY[:, :3], XY[:, 3:], settings=plain
    )
    assert gf.total_correlation(XY) == gf.total_correlation(XY, settings=plain)


def test_elliptical_max_dims_is_checked():
    with pytest.raises(ValueError, match="elliptical_max_dims"):
        gf.InformationSettings(elliptical_max_dims=-1)
