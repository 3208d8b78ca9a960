"""Intermediates and per-block diagnostics, for diagonal, coupling, greedy and trained flows."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows.inspect import COLUMNS, block, n_layers


@pytest.fixture(scope="module")
def moons() -> np.ndarray:
    X, _ = make_moons(n_samples=3000, noise=0.08, random_state=0)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _flows(X):
    return {
        "greedy": gf.fit_rbig(X, n_layers=3, n_components=4),
        "random": gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3, n_components=4),
        "coupling": gf.coupling_gaussianization_flow(jr.key(1), n_dims=2, n_layers=2, n_components=4),
        "greedy_coupling": gf.fit_rbig_coupling(X, key=jr.key(2), n_layers=2, n_components=4),
    }


@pytest.mark.parametrize("kind", ["greedy", "random", "coupling", "greedy_coupling"])
def test_intermediates_match_the_flow(kind):
    X = np.random.default_rng(0).standard_exponential((200, 2))
    flow = _flows(X)[kind]
    states, log_dets = gf.forward_with_intermediates(flow, X)
    L = n_layers(flow)
    assert states.shape == (L + 1, 200, 2) and log_dets.shape == (L + 1, 200)
    # The last state and cumulative log-det reproduce the density exactly.
    log_p = flow.base_dist.log_prob(states[-1]) + log_dets[-1]
    np.testing.assert_allclose(log_p, flow.log_prob(X), rtol=1e-10, atol=1e-10)
    # Each state is the previous one through that block alone.
    for b in range(L):
        z, ld = jax.vmap(block(flow, b).transform_and_log_det)(states[b])
        np.testing.assert_allclose(z, states[b + 1], atol=1e-10)
        np.testing.assert_allclose(log_dets[b] + ld, log_dets[b + 1], atol=1e-10)


def _check_falls_to_normal(table, label):
    print(f"\n{label}\n{table}")
    J = table["nongaussianity"]
    assert J[-1] < 0.1 * J[0], "non-Gaussianity must fall with depth"
    # Falling with depth: each half of the stack ends lower than it started.
    half = len(J) // 2
    assert J[half] < J[0] and J[-1] < J[half]
    assert table["mean_error"][-1] < 0.05
    assert table["cov_error"][-1] < 0.1
    assert table["ks"][-1] < 0.03


@pytest.mark.slow
def test_inspection_on_moons_greedy_and_trained(moons):
    greedy = gf.fit_rbig(moons, n_layers=8, n_components=8)
    _check_falls_to_normal(gf.inspect_layers(greedy, moons), "greedy fit")
    trained, log = gf.train_flow(greedy, moons, steps=300, peak_lr=1e-3)
    assert log.loss[-1] < log.loss[0]
    _check_falls_to_normal(gf.inspect_layers(trained, moons), "greedy fit + 300 training steps")


def test_table_is_data_and_prints():
    X = np.random.default_rng(0).standard_exponential((300, 2))
    table = gf.inspect_layers(gf.fit_rbig(X, n_layers=2, n_components=4), X, tc_method="gaussian")
    data = table.as_dict()
    assert tuple(data) == COLUMNS and len(table) == 3
    assert data["block"].tolist() == [0, 1, 2]
    assert np.isnan(data["information_reduction"][0])
    np.testing.assert_allclose(
        data["information_reduction"][1:], -np.diff(data["nongaussianity"]), atol=1e-12
    )
    text = str(table)
    assert all(c in text for c in COLUMNS) and len(text.splitlines()) == 4
    assert set(table.describe()) == set(COLUMNS)
    with pytest.raises(KeyError, match="columns are"):
        table["nope"]


def test_to_pandas_when_available():
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).standard_exponential((300, 2))
    frame = gf.inspect_layers(gf.fit_rbig(X, n_layers=2, n_components=4), X, tc_method="gaussian").to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3


def test_bad_input():
    X = np.random.default_rng(0).normal(size=(100, 2))
    flow = gf.fit_rbig(X, n_layers=2, n_components=4)
    with pytest.raises(ValueError, match="NaN"):
        gf.forward_with_intermediates(flow, np.where(X > 2, np.nan, X))
    with pytest.raises(ValueError, match="3 columns"):
        gf.inspect_layers(flow, np.ones((100, 3)))
    with pytest.raises(ValueError, match="rows"):
        gf.inspect_layers(flow, X[:5])
    with pytest.raises(ValueError, match="tc_method"):
        gf.inspect_layers(flow, X, tc_method="exact")
    with pytest.raises(TypeError, match="Transformed"):
        gf.forward_with_intermediates(jnp.eye(2), X)
    with pytest.raises(TypeError, match="Gaussianization flow"):
        gf.inspect_layers(flow.base_dist, X)
    with pytest.raises(ValueError, match="out of range"):
        block(flow, 5)


def test_n_blocks_is_a_deprecated_alias():
    flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3)
    with pytest.warns(DeprecationWarning, match="n_layers"):
        assert gf.inspect.n_blocks(flow) == n_layers(flow) == gf.layout.n_layers(flow) == 3


def test_rbig_tc_column_is_total_correlation():
    """The "rbig" column is total_correlation of each state, with the same settings."""
    X = np.random.default_rng(1).standard_exponential((300, 2))
    flow = gf.fit_rbig(X, n_layers=2, n_components=4)
    table = gf.inspect_layers(flow, X, spacing=4, random_state=3)
    states = gf.forward_with_intermediates(flow, X).states
    settings = gf.InformationSettings(spacing=4, random_state=3)
    expected = [gf.total_correlation(np.asarray(z), settings=settings) for z in states]
    np.testing.assert_array_equal(table["total_correlation"], expected)
