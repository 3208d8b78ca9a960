"""ConditionalGaussianizationDensity: p(y | X) with scikit-learn's conventions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from gauss_flows import ConditionalGaussianizationDensity


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = 2.0 * X[:, 0] + (0.2 + 0.3 * np.abs(X[:, 1])) * rng.normal(size=n)
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = _data()
    return X, y, ConditionalGaussianizationDensity(strategy="rbig", n_layers=2, n_components=4).fit(X, y)


def test_shapes_of_scores_samples_and_intervals(fitted):
    X, y, est = fitted
    assert est.n_features_in_ == 2 and est.n_targets_ == 1
    assert est.score_samples(X[:5], y[:5]).shape == (5,)
    assert np.isfinite(est.score(X, y))
    assert est.sample(X[:4], random_state=0).shape == (4,)
    assert est.sample(X[:4], n_samples=3, random_state=0).shape == (4, 3)
    low, mid, high = est.predict_quantiles(X[:3], (0.1, 0.5, 0.9), n_draws=500).T
    assert np.all(low < mid) and np.all(mid < high)
    assert est.predict_interval(X[:3], coverage=0.8, n_draws=500).shape == (3, 2)


def test_several_target_columns():
    X, y = _data()
    Y = np.c_[y, -y + 0.1 * np.random.default_rng(1).normal(size=y.size)]
    est = ConditionalGaussianizationDensity(strategy="rbig", n_layers=2, n_components=4).fit(X, Y)
    assert est.n_targets_ == 2 and est.sample(X[:3], random_state=0).shape == (3, 2)
    with pytest.raises(ValueError, match="scalar target"):
        est.predict_quantiles(X[:3])


def test_named_errors(fitted):
    X, y, est = fitted
    with pytest.raises(ValueError, match="y is missing"):
        ConditionalGaussianizationDensity().fit(X, None)
    with pytest.raises(ValueError, match="rows"):
        ConditionalGaussianizationDensity(strategy="rbig", n_layers=1).fit(X[:10], y)
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ConditionalGaussianizationDensity(strategy="rbig", n_layers=1).fit(X, bad)
    with pytest.raises(ValueError, match="columns"):
        est.score_samples(X[:, :1], y)
    with pytest.raises(ValueError, match="strategy"):
        ConditionalGaussianizationDensity(strategy="nope").fit(X, y)


def test_pickle_round_trip(fitted):
    X, y, est = fitted
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.score_samples(X, y), est.score_samples(X, y))


def test_grid_search_picks_by_conditional_likelihood():
    X, y = _data(240)
    search = GridSearchCV(
        ConditionalGaussianizationDensity(strategy="rbig", n_components=4),
        {"n_layers": [1, 2]}, cv=2,
    ).fit(X, y)
    assert search.best_params_["n_layers"] in (1, 2)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
