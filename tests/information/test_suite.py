"""The rest of the information suite against Gaussian closed forms (n = 1500).

The d = 4 and pairwise-matrix checks compile loops of their own and are marked slow.

Every measure of :mod:`gauss_flows.information_suite` is a signed sum of total
correlations; on Gaussian data (pushed through monotone maps, which change none of them)
each must match its closed form from :mod:`gauss_flows._information.closed_forms`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gauss_flows as gf

N = 1500
TOL = 0.05
COV = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])


def _gaussian(seed: int = 0, cov: np.ndarray = COV, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(np.zeros(len(cov)), cov, size=n)


def _warped(X: np.ndarray) -> np.ndarray:
    """Monotone maps of every column: none of the dependence measures changes."""
    return np.column_stack([np.exp(X[:, 0]), X[:, 1] ** 3, np.arctan(X[:, 2])])


def _minor(c: np.ndarray, i: int) -> np.ndarray:
    return np.delete(np.delete(c, i, 0), i, 1)


def _dtc(c: np.ndarray) -> float:
    d = len(c)
    h = sum(gf.gaussian_entropy(_minor(c, i)) for i in range(d))
    return h - (d - 1) * gf.gaussian_entropy(c)


def test_closed_forms_agree_with_each_other():
    c = COV
    # I(X; Y) of a bivariate Gaussian: −½ log(1 − ρ²)
    assert gf.gaussian_mutual_information(c[:2, :2], 1) == pytest.approx(-0.5 * math.log(0.64))
    # I(X; YZ) = I(X; Z) + I(X; Y | Z) (chain rule)
    chain = gf.gaussian_mutual_information(c[np.ix_([0, 2], [0, 2])], 1) + (
        gf.gaussian_conditional_mutual_information(c, (1, 1, 1))
    )
    assert gf.gaussian_mutual_information(c, 1) == pytest.approx(chain, abs=1e-12)
    # TC = Σ H_i − H
    tc = sum(gf.gaussian_entropy(c[[i]][:, [i]]) for i in range(3)) - gf.gaussian_entropy(c)
    assert gf.gaussian_total_correlation(c) == pytest.approx(tc, abs=1e-12)
    # KL of a Gaussian against itself and a known shift
    assert gf.gaussian_kl_divergence(np.zeros(3), c, np.zeros(3), c) == pytest.approx(0, abs=1e-12)
    assert gf.gaussian_kl_divergence([1.0], [[1.0]], [0.0], [[1.0]]) == pytest.approx(0.5)


def test_closed_forms_refuse_bad_covariances():
    with pytest.raises(ValueError, match="positive definite"):
        gf.gaussian_entropy([[1.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="square"):
        gf.gaussian_total_correlation(np.ones((2, 3)))
    with pytest.raises(ValueError, match="group sizes"):
        gf.gaussian_conditional_mutual_information(COV, (1, 1, 2))
    with pytest.raises(ValueError, match="one dimension"):
        gf.gaussian_kl_divergence([0.0, 0.0], COV, [0.0, 0.0, 0.0], COV)


def test_conditional_and_interaction_information():
    X = _warped(_gaussian())
    cmi = gf.gaussian_conditional_mutual_information(COV, (1, 1, 1))
    ii = gf.gaussian_mutual_information(COV[:2, :2], 1) - cmi
    assert gf.conditional_mutual_information(X[:, 0], X[:, 1], X[:, 2]) == pytest.approx(cmi, abs=TOL)
    got = gf.interaction_information(X[:, 0], X[:, 1], X[:, 2])
    assert got == pytest.approx(ii, abs=TOL)
    # For three scalar variables the co-information is the O-information.
    assert gf.o_information(X) == pytest.approx(got, abs=1e-9)


@pytest.mark.slow
def test_dual_total_correlation_and_o_information_d4():
    c = np.array([[1, 0.5, 0.2, 0.0], [0.5, 1, 0.4, 0.1], [0.2, 0.4, 1, 0.6], [0.0, 0.1, 0.6, 1]])
    X = _gaussian(1, c)
    dtc = _dtc(c)
    assert gf.dual_total_correlation(X) == pytest.approx(dtc, abs=TOL)
    assert gf.o_information(X) == pytest.approx(gf.gaussian_total_correlation(c) - dtc, abs=TOL)


def test_synergy_is_negative_and_redundancy_positive():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, N))
    assert gf.interaction_information(x, y, x + y + 0.5 * rng.normal(size=N)) < -0.2
    z = rng.normal(size=(N, 1))
    assert gf.o_information(z + 0.5 * rng.normal(size=(N, 3))) > 0.2


def test_jensen_shannon_divergence():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(N, 1))
    far = rng.normal(size=(N, 1)) + 12.0
    assert gf.jensen_shannon_divergence(X, rng.normal(size=(N, 1))) < 0.02
    # Disjoint supports: the upper bound log 2.
    assert gf.jensen_shannon_divergence(X, far) == pytest.approx(math.log(2), abs=0.03)
    # A shift by 1: JS by quadrature.
    t = np.linspace(-9, 10, 20001)
    p, q = np.exp(-t**2 / 2), np.exp(-(t - 1) ** 2 / 2)
    p, q = p / np.trapezoid(p, t), q / np.trapezoid(q, t)
    m = 0.5 * (p + q)
    js = 0.5 * np.trapezoid(p * np.log(p / m), t) + 0.5 * np.trapezoid(q * np.log(q / m), t)
    got = gf.jensen_shannon_divergence(X, rng.normal(size=(N, 1)) + 1.0)
    assert got == pytest.approx(js, abs=0.03)
    with pytest.raises(ValueError, match="same number of columns"):
        gf.jensen_shannon_divergence(X, rng.normal(size=(N, 2)))


def test_negentropy_closed_forms():
    rng = np.random.default_rng(5)
    n = 5000
    X = np.column_stack([rng.normal(size=n), rng.uniform(size=n), rng.laplace(size=n)])
    truth = [0.0, 0.5 * math.log(2 * math.pi * math.e / 12), 0.5 * math.log(2 * math.pi * math.e * 2) - (1 + math.log(2))]
    got = gf.negentropy(X)
    assert got.shape == (3,) and np.all(got >= 0)
    np.testing.assert_allclose(got, truth, atol=0.02)


def test_information_reduction_sums_to_total_correlation():
    x = np.random.default_rng(6).normal(size=N)
    X = np.column_stack([x, x**2 + 0.3 * np.random.default_rng(7).normal(size=N)])
    rank_rbig = gf.InformationSettings(elliptical_max_dims=0)
    r = gf.information_reduction(X, settings=rank_rbig)
    assert r.counted > 0 and r.layers[0] > 0.1  # the first layer removes most
    assert r.radial == 0.0
    assert r.total == pytest.approx(gf.total_correlation(X, settings=rank_rbig), abs=1e-9)
    assert r.cumulative[0] == r.gaussian and r.cumulative.shape == (1 + r.layers.size,)
    # With the defaults it decomposes the default estimate, whichever path that takes.
    r = gf.information_reduction(X)
    assert r.total == pytest.approx(gf.total_correlation(X), abs=1e-9)
    assert r.cumulative[0] == pytest.approx(r.gaussian + r.radial, abs=1e-12)


@pytest.mark.slow
def test_pairwise_matrix_matches_pair_calls():
    c = np.array([[1, 0.6, 0, 0], [0.6, 1, 0.3, 0], [0, 0.3, 1, 0], [0, 0, 0, 1]])
    X = _gaussian(8, c)
    X[:, 3] = X[:, 2] ** 2 + 0.5 * np.random.default_rng(9).normal(size=N)  # non-Gaussian pair
    M = gf.pairwise_mutual_information(X)
    assert M.shape == (4, 4) and np.all(np.isinf(np.diag(M))) and np.allclose(M, M.T)
    off = ~np.eye(4, dtype=bool)
    assert np.all(M[off] >= 0)
    assert M[0, 1] == pytest.approx(gf.gaussian_mutual_information(c[:2, :2], 1), abs=TOL)
    assert M[2, 3] > 0.3  # dependence without correlation, found by the remainder
    assert gf.pairwise_mutual_information(X, method="gaussian")[2, 3] < 0.05
    # The same pairs one call each (other rotations: the remainder's noise is ~0.05).
    assert M[0, 1] == pytest.approx(gf.mutual_information(X[:, 0], X[:, 1]), abs=0.03)
    assert M[2, 3] == pytest.approx(gf.mutual_information(X[:, 2], X[:, 3]), abs=0.1)
    with pytest.raises(ValueError, match="method"):
        gf.pairwise_mutual_information(X, method="knn")


def test_suite_refuses_bad_input():
    X = _gaussian()
    with pytest.raises(ValueError, match="paired"):
        gf.conditional_mutual_information(X[:, 0], X[:-1, 1], X[:, 2])
    with pytest.raises(ValueError, match="at least 3 columns"):
        gf.o_information(X[:, :2])
    with pytest.raises(ValueError, match="at least 2 columns"):
        gf.dual_total_correlation(X[:, :1])
    with pytest.raises(ValueError, match="linearly dependent|ranks"):
        gf.conditional_mutual_information(X[:, 0], X[:, 1], X[:, 0] * 2.0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gf.interaction_information(bad[:, 0], bad[:, 1], bad[:, 2])
