"""Standard errors and intervals of the information measures, and never-negative estimates.

The coverage check (20 repetitions, the stated 95 % intervals must hold the truth at least
17 times) is slow; the default run checks the result type, the options and the cuts at 0.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import gauss_flows as gf

N = 1000
RHO = 0.6
MI = -0.5 * math.log(1 - RHO**2)


def _pair(seed: int, n: int = N) -> np.ndarray:
    cov = [[1.0, RHO], [RHO, 1.0]]
    return np.random.default_rng(seed).multivariate_normal([0, 0], cov, size=n)


def test_estimate_type_and_plain_float_default():
    xy = _pair(0)
    plain = gf.mutual_information(xy[:, 0], xy[:, 1])
    assert isinstance(plain, float)
    est = gf.mutual_information(xy[:, 0], xy[:, 1], uncertainty=gf.Uncertainty(n_resamples=8))
    assert isinstance(est, gf.Estimate)
    assert est.value == plain and float(est) == plain
    # The stated error is of the size of the Gaussian delta method's (ρ/√n for the MI).
    assert 0.4 * RHO / math.sqrt(N) < est.stderr < 2.5 * RHO / math.sqrt(N)
    low, high = est.interval
    assert low < est.value < high and est.level == 0.95
    assert high - low == pytest.approx(2 * 1.959964 * est.stderr, rel=1e-6)


@pytest.mark.slow
def test_every_sample_measure_takes_uncertainty():
    xy = _pair(1, 600)
    u = gf.Uncertainty(n_resamples=4)
    x, y = xy[:, :1], xy[:, 1:]
    results = {
        "entropy": gf.entropy(xy, uncertainty=u),
        "total_correlation": gf.total_correlation(xy, uncertainty=u),
        "kl_divergence": gf.kl_divergence(xy, xy[::-1] + 0.3, method="gaussian", uncertainty=u),
        "negentropy": gf.negentropy(xy, uncertainty=u),
        "jensen_shannon_divergence": gf.jensen_shannon_divergence(x, y + 1.0, uncertainty=u),
        "conditional_mutual_information": gf.conditional_mutual_information(
            x, y, x + y + np.random.default_rng(2).normal(size=(600, 1)), uncertainty=u
        ),
    }
    for name, est in results.items():
        assert isinstance(est, gf.Estimate), name
        assert np.all(np.asarray(est.stderr) > 0), name
        assert np.all(est.covers(est.value)), name
    assert results["negentropy"].value.shape == (2,)
    assert results["entropy"].covers(gf.gaussian_entropy([[1, RHO], [RHO, 1]]))


def test_uncertainty_options_are_checked():
    with pytest.raises(ValueError, match="n_resamples"):
        gf.Uncertainty(n_resamples=1)
    with pytest.raises(ValueError, match="fraction"):
        gf.Uncertainty(fraction=1.0)
    with pytest.raises(ValueError, match="level"):
        gf.Uncertainty(level=0.0)
    with pytest.raises(TypeError, match="Uncertainty"):
        gf.total_correlation(_pair(0), uncertainty=0.95)
    with pytest.raises(ValueError, match="subsample"):
        gf.total_correlation(_pair(0), uncertainty=gf.Uncertainty(fraction=0.01))


def test_estimates_are_never_negative():
    """Independent data: raw estimates scatter around 0; the measures cut them at 0."""
    values = []
    for seed in range(4):
        X = np.random.default_rng(10 + seed).normal(size=(N, 2))
        values += [
            gf.total_correlation(X),
            gf.mutual_information(X[:, 0], X[:, 1]),
            gf.kl_divergence(X, np.random.default_rng(seed).normal(size=(N, 2)), method="gaussian"),
        ]
    assert min(values) >= 0.0 and max(values) < 0.03
    assert min(values) == 0.0  # some raw estimates fell below 0 and were cut
    est = gf.total_correlation(X, uncertainty=gf.Uncertainty(n_resamples=5))
    assert est.interval[0] >= 0.0 and est.covers(0.0)


def test_near_deterministic_dependence_warns_with_a_large_finite_value():
    rng = np.random.default_rng(3)
    x = rng.normal(size=N)
    y = x + 1e-3 * rng.normal(size=N)  # truth ½ log(1 + 10⁶) = 6.9 nats = log n
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mi = gf.mutual_information(x, y)
    assert any(issubclass(w.category, gf.UnresolvedDependenceWarning) for w in caught)
    assert "near-deterministic" in str(caught[0].message)
    assert math.isfinite(mi) and mi > math.log(N)
    with pytest.raises(ValueError, match="same ranks"):
        gf.mutual_information(x, 2 * x)  # exactly deterministic: refused


@pytest.mark.slow
@pytest.mark.parametrize("warped", [False, True])
def test_stated_intervals_cover_the_truth(warped: bool):
    """20 repetitions at n = 1000: the 95 % intervals hold the truth at least 17 times."""
    hits_mi, hits_tc = 0, 0
    u = gf.Uncertainty(n_resamples=20)
    cov = np.array([[1, 0.6, 0.2], [0.6, 1, 0.4], [0.2, 0.4, 1]])
    tc = gf.gaussian_total_correlation(cov)
    for rep in range(20):
        X = np.random.default_rng(100 + rep).multivariate_normal(np.zeros(3), cov, size=N)
        if warped:
            X = np.column_stack([np.exp(X[:, 0]), X[:, 1] ** 3, np.tanh(X[:, 2])])
        est = gf.mutual_information(X[:, 0], X[:, 1], uncertainty=u)
        hits_mi += est.covers(gf.gaussian_mutual_information(cov[:2, :2], 1))
        hits_tc += gf.total_correlation(X, uncertainty=u).covers(tc)
    print(f"\ncoverage (warped={warped}): MI {hits_mi}/20, TC {hits_tc}/20")
    assert hits_mi >= 17 and hits_tc >= 17
