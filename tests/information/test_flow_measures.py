"""Information measures of fitted flows by Monte Carlo, against Gaussian closed forms.

A correlated Gaussian written as a flowjax ``Transformed`` (standard normal through a
triangular affine map) has every measure in closed form; its estimates' intervals must
hold the truth. A greedy fit of Gaussian data must measure close to the data's truth.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flowjax.bijections import TriangularAffine
from flowjax.distributions import Normal, Transformed

import gauss_flows as gf

COV = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])


def _gaussian_flow(cov: np.ndarray = COV, loc: float = 0.0) -> Transformed:
    chol = jnp.asarray(np.linalg.cholesky(cov))
    return Transformed(Normal(jnp.zeros(len(cov))), TriangularAffine(jnp.full(len(cov), loc), chol))


def test_entropy_and_kl_cover_the_closed_forms():
    p = _gaussian_flow()
    h = gf.flow_entropy(p, n_samples=20000)
    assert h.covers(gf.gaussian_entropy(COV)) and 0 < h.stderr < 0.02
    q = _gaussian_flow(np.eye(3), 0.5)
    kl = gf.flow_kl_divergence(p, q, n_samples=20000)
    truth = gf.gaussian_kl_divergence(np.zeros(3), COV, np.full(3, 0.5), np.eye(3))
    assert kl.covers(truth) and kl.value >= 0
    same = gf.flow_kl_divergence(p, p, n_samples=2000)
    assert same.value == pytest.approx(0.0, abs=1e-12) and same.interval[1] < 1e-12


def test_total_correlation_and_mutual_information():
    p = _gaussian_flow()
    tc = gf.flow_total_correlation(p, n_samples=10000, n_batches=5)
    assert tc.value == pytest.approx(gf.gaussian_total_correlation(COV), abs=max(0.02, 3 * tc.stderr))
    pair = COV[:2, :2]
    mi = gf.flow_mutual_information(_gaussian_flow(pair), 1, n_samples=10000, n_batches=5)
    truth = gf.gaussian_mutual_information(pair, 1)
    assert mi.value == pytest.approx(truth, abs=max(0.02, 3 * mi.stderr))
    assert 0 < mi.stderr < 0.03


@pytest.mark.slow
def test_mutual_information_between_blocks():
    """Blocks of two columns: their total correlations come from the flow's samples."""
    cov = np.eye(4) + 0.4 * (np.ones((4, 4)) - np.eye(4))
    mi = gf.flow_mutual_information(_gaussian_flow(cov), 2, n_samples=20000)
    assert mi.value == pytest.approx(gf.gaussian_mutual_information(cov, 2), abs=max(0.03, 3 * mi.stderr))


def test_bad_flows_and_options():
    with pytest.raises(TypeError, match="flowjax distribution"):
        gf.flow_entropy(np.zeros(3))
    with pytest.raises(ValueError, match="same dimension"):
        gf.flow_kl_divergence(Normal(jnp.zeros(2)), Normal(jnp.zeros(3)))
    with pytest.raises(ValueError, match="d_x"):
        gf.flow_mutual_information(Normal(jnp.zeros(2)), 2)
    with pytest.raises(ValueError, match="n_samples"):
        gf.flow_entropy(Normal(jnp.zeros(2)), n_samples=5)
    with pytest.raises(ValueError, match="level"):
        gf.flow_entropy(Normal(jnp.zeros(2)), level=1.5)
