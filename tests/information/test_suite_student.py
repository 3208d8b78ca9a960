"""The information suite on multivariate Student-t data against closed-form truths.

Heavy-tailed (elliptical) dependence is what the rank-RBIG remainder alone misses; every
measure of the suite must follow :func:`gauss_flows.total_correlation` onto the
elliptical-copula path and land within ``0.03 + 2 %`` of the truth (issue 29's bar for
TC and MI). One sample: ν = 3, d = 4, a random correlation as dispersion, n = 2000.
The truths are ``_student_truths``' closed forms (Monte Carlo for Jensen–Shannon). The
conditional-MI and DTC checks, each over 20 s, are marked slow.
"""

from __future__ import annotations

import numpy as np
import pytest

import gauss_flows as gf

from _student_truths import (
    conditional_mutual_information,
    dispersion,
    dual_total_correlation,
    interaction_information,
    jensen_shannon_divergence,
    o_information,
    pairwise_mutual_information,
    sample,
    total_correlation,
)

NU = 3.0
D = 4
SIGMA = dispersion(D, 0)


def _close(value: float, truth: float) -> bool:
    return abs(value - truth) <= 0.03 + 0.02 * abs(truth)


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return sample(2000, SIGMA, NU, 100 * D)


def test_truths_are_consistent():
    # Chain rule and the two-column special cases of the closed forms.
    x, y, z = [0], [1], [2, 3]
    i_x_yz = total_correlation(SIGMA, NU, [0, 1, 2, 3]) - total_correlation(SIGMA, NU, [1, 2, 3])
    i_x_z = total_correlation(SIGMA, NU, [0, 2, 3]) - total_correlation(SIGMA, NU, [2, 3])
    assert i_x_yz == pytest.approx(i_x_z + conditional_mutual_information(SIGMA, NU, x, y, z))
    two = SIGMA[:2, :2]
    assert dual_total_correlation(two, NU) == pytest.approx(total_correlation(two, NU))
    assert o_information(SIGMA, NU) == pytest.approx(
        total_correlation(SIGMA, NU) - dual_total_correlation(SIGMA, NU)
    )


@pytest.mark.slow
def test_conditional_and_interaction_information(X):
    x, y, z = X[:, :1], X[:, 1:2], X[:, 2:]
    cmi = gf.conditional_mutual_information(x, y, z)
    assert cmi >= 0
    assert _close(cmi, conditional_mutual_information(SIGMA, NU, [0], [1], [2, 3]))
    ii = gf.interaction_information(x, y, z)
    assert _close(ii, interaction_information(SIGMA, NU, [0], [1], [2, 3]))


@pytest.mark.slow
def test_dual_total_correlation_and_o_information(X):
    dtc = gf.dual_total_correlation(X)
    assert dtc >= 0 and _close(dtc, dual_total_correlation(SIGMA, NU))
    assert _close(gf.o_information(X), o_information(SIGMA, NU))


def test_pairwise_matrix(X):
    M = gf.pairwise_mutual_information(X)
    truth = pairwise_mutual_information(SIGMA, NU)
    off = ~np.eye(D, dtype=bool)
    assert np.all(M[off] >= 0) and np.allclose(M, M.T)
    errors = np.abs(M[off] - truth[off])
    # Reached on this sample (largest error 0.028); over the benchmark's six samples
    # (benchmarks/results/information_suite_student.md) single pairs miss by up to 0.067
    # while the mean error over pairs stays at most 0.027.
    assert np.all(errors <= 0.03 + 0.02 * truth[off])
    assert errors.mean() <= 0.02


def test_information_reduction_follows_total_correlation(X):
    r = gf.information_reduction(X)
    assert r.radial > 0.05  # the elliptical candidate is chosen and removes the shared scale
    assert r.total == pytest.approx(gf.total_correlation(X), abs=1e-9)
    assert _close(r.total, total_correlation(SIGMA, NU))


def test_jensen_shannon_divergence(X):
    sigma_q = dispersion(D, 100)
    Y = sample(2000, sigma_q, NU, 100 * D + 50, loc=0.5)
    truth = jensen_shannon_divergence(SIGMA, sigma_q, NU, 0.5, n=200_000)
    assert _close(gf.jensen_shannon_divergence(X, Y), truth)
