"""The scikit-learn estimator: API conformance, model selection, strategies, units."""

from __future__ import annotations

import pickle

import equinox as eqx
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.utils import estimator_checks as checks

import gauss_flows as gf
from gauss_flows import GaussianizationDensity

# check_estimator runs every applicable check. Checks that do not apply, and why:
# * sample-weight checks are not generated: ``fit`` takes no ``sample_weight``.
# * check_array_api_input is skipped by scikit-learn itself: the estimator computes in
#   JAX, so it declares no array-API support (the check only runs with SCIPY_ARRAY_API=1).
# * classifier/regressor/cluster checks are not generated: this is a density estimator
#   and transformer.
# No check is expected to fail.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


def _fast_estimator(**params) -> GaussianizationDensity:
    return GaussianizationDensity(strategy="rbig", n_layers=1, n_components=2, **params)


@pytest.mark.slow
def test_check_estimator_passes():
    results = checks.check_estimator(
        _fast_estimator(), expected_failed_checks=EXPECTED_FAILED_CHECKS, on_skip=None
    )
    statuses = {r["check_name"]: r["status"] for r in results}
    assert "failed" not in statuses.values()
    assert statuses["check_estimators_pickle"] == "passed"
    assert statuses["check_transformer_general"] == "passed"


@pytest.mark.parametrize(
    "check",
    [
        checks.check_estimator_cloneable,
        checks.check_no_attributes_set_in_init,
        checks.check_parameters_default_constructible,
        checks.check_get_params_invariance,
        checks.check_set_params,
        checks.check_do_not_raise_errors_in_init_or_set_params,
        checks.check_estimators_unfitted,
        checks.check_transformers_unfitted,
        checks.check_fit2d_1sample,
        checks.check_fit1d,
        checks.check_complex_data,
        checks.check_estimators_empty_data_messages,
        checks.check_estimator_sparse_matrix,
        checks.check_mixin_order,
    ],
    ids=lambda c: c.__name__,
)
def test_quick_estimator_checks(check):
    """The checks that fit nothing run in the default suite; all run under ``-m slow``."""
    check(GaussianizationDensity.__name__, _fast_estimator())


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.column_stack([rng.standard_exponential(160), rng.normal(size=160)])


@pytest.fixture(scope="module")
def fitted(data) -> GaussianizationDensity:
    return GaussianizationDensity(strategy="rbig", n_layers=2, n_components=3).fit(data)


def test_grid_search_over_depth(data):
    search = GridSearchCV(
        GaussianizationDensity(strategy="rbig", n_components=3), {"n_layers": [1, 3]}, cv=2
    )
    search.fit(data)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_params_["n_layers"] in (1, 3)
    assert search.best_estimator_.n_layers_ == search.best_params_["n_layers"]


def test_methods_and_shapes(fitted, data):
    lp = fitted.score_samples(data)
    assert lp.shape == (160,) and lp.dtype == np.float64 and np.all(np.isfinite(lp))
    assert fitted.score(data) == pytest.approx(lp.mean())
    Z = fitted.transform(data)
    assert Z.shape == data.shape
    np.testing.assert_allclose(fitted.inverse_transform(Z), data, rtol=1e-6, atol=1e-8)
    draws = fitted.sample(7, random_state=3)
    assert draws.shape == (7, 2)
    np.testing.assert_array_equal(draws, fitted.sample(7, random_state=3))
    assert fitted.get_feature_names_out().tolist() == [
        "gaussianizationdensity0",
        "gaussianizationdensity1",
    ]
    assert fitted.n_features_in_ == 2 and fitted.n_layers_ == 2 and fitted.n_components_ == 3


def test_density_is_in_the_users_units(data):
    """Rescaling the data by 10 rescales the density by 10^-d: the fit standardises."""
    est = GaussianizationDensity(strategy="rbig", n_layers=2, n_components=3)
    lp = est.fit(data).score_samples(data)
    lp_scaled = est.fit(10.0 * data).score_samples(10.0 * data)
    np.testing.assert_allclose(lp_scaled, lp - 2 * np.log(10.0), atol=1e-6)


def test_pickle_and_save_round_trip(fitted, data, tmp_path):
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.score_samples(data), fitted.score_samples(data))
    gf.save(tmp_path / "est.gflow", fitted.flow_)
    assert eqx.tree_equal(gf.load(tmp_path / "est.gflow"), fitted.flow_)


def test_few_rows_cap_the_components():
    X = np.random.default_rng(1).normal(size=(10, 2))
    with pytest.warns(UserWarning, match="5 components per dimension"):
        est = GaussianizationDensity(strategy="rbig", n_layers=1, n_components=8).fit(X)
    assert est.n_components_ == 5


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"strategy": "magic"}, "strategy must be one of"),
        ({"n_layers": 0}, "n_layers"),
        ({"n_components": 2.5}, "n_components"),
        ({"peak_lr": -1.0}, "peak_lr"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_fraction": -0.1}, "val_fraction"),
        ({"patience": 0}, "patience"),
        ({"nn_depth": -1}, "nn_depth"),
        ({"steps": 0}, "steps"),
    ],
)
def test_bad_settings_are_named_at_fit(params, match, data):
    est = GaussianizationDensity(**params)  # construction never validates (scikit-learn rule)
    with pytest.raises(ValueError, match=match):
        est.fit(data)


def test_constant_column_is_named(data):
    X = data.copy()
    X[:, 1] = 4.0
    for strategy in ("rbig", "cold"):
        with pytest.raises(ValueError, match="constant column"):
            GaussianizationDensity(strategy=strategy, n_layers=1, n_components=2).fit(X)


def _trained_strategy(strategy: str, data: np.ndarray) -> GaussianizationDensity:
    est = GaussianizationDensity(
        strategy=strategy, n_layers=2, n_components=3, steps=10, peak_lr=1e-3, batch=64,
        nn_width=8,
    )
    return est.fit(data)


def test_cold_strategy_trains(data):
    est = _trained_strategy("cold", data)
    assert est.train_nll_.shape == (1,)
    assert np.all(np.isfinite(est.score_samples(data)))


@pytest.mark.slow
def test_warm_strategy_uses_the_recipe(data):
    est = _trained_strategy("warm", data)
    assert np.all(np.isfinite(est.score_samples(data)))
    greedy = GaussianizationDensity(strategy="rbig", n_layers=2, n_components=3).fit(data)
    assert est.n_layers_ == greedy.n_layers_


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["coupling_warm", "coupling_cold"])
def test_coupling_strategies_train(strategy, data):
    est = _trained_strategy(strategy, data)
    assert np.all(np.isfinite(est.score_samples(data)))
    Z = est.transform(data[:20])
    np.testing.assert_allclose(est.inverse_transform(Z), data[:20], rtol=1e-5, atol=1e-6)


def test_warm_strategy_passes_the_recipe_its_settings(data, monkeypatch):
    """One rule for val_fraction (the recipe's, [0, 1)) and one unit for patience (steps)."""
    import gauss_flows.sklearn as module

    seen = {}

    def recording_fit_density(X, **options):
        seen.update(options)
        return gf.fit_rbig(X, n_layers=1, n_components=2)

    monkeypatch.setattr(module, "fit_density", recording_fit_density)
    GaussianizationDensity(val_fraction=0.0, patience=250, random_state=4).fit(data)
    assert seen["val_fraction"] == 0.0 and seen["patience"] == 250
    assert seen["random_state"] == 4
    assert GaussianizationDensity().patience == gf.recipe.DEFAULT_PATIENCE == 1000


# ---- NumPy integers, the float mode in parallel workers, 32-bit inputs ----


def test_grid_search_over_a_numpy_range(data):
    search = GridSearchCV(
        GaussianizationDensity(strategy="rbig", n_components=np.int64(3)),
        {"n_layers": np.arange(1, 3)}, cv=2, error_score="raise",
    ).fit(data)
    assert search.best_params_["n_layers"] in (1, 2)
    assert type(search.best_estimator_.n_layers_) is int


def test_an_unpickled_copy_computes_in_the_mode_it_was_pickled_in(data):
    """What a joblib worker does: unpickle in a fresh 32-bit process, fit, score."""
    from gauss_flows._precision import float_mode, x64_enabled

    est = GaussianizationDensity(strategy="rbig", n_layers=1, n_components=2)
    sent = pickle.dumps(est)  # pickled in the tests' 64-bit mode
    expected = est.fit(data).score(data)
    with float_mode(False):  # the worker
        copy = pickle.loads(sent)
        assert copy.fit(data).score(data) == expected
        assert not x64_enabled()
        native = GaussianizationDensity(strategy="rbig", n_layers=1, n_components=2)
        assert native.fit(data).score(data) != expected  # never pickled: 32-bit
        returned = pickle.loads(pickle.dumps(copy))  # a fitted copy sent back keeps 64-bit
    assert returned.score(data) == expected


@pytest.mark.slow
def test_parallel_cross_validation_scores_equal_serial_ones(data):
    from sklearn.model_selection import cross_validate

    est = GaussianizationDensity(strategy="rbig", n_layers=2, n_components=3)
    serial = cross_validate(est, data, cv=2, n_jobs=1)["test_score"]
    parallel = cross_validate(est, data, cv=2, n_jobs=2)["test_score"]
    np.testing.assert_array_equal(parallel, serial)


def test_float32_errors_name_precision(data, fitted):
    from gauss_flows._precision import float_mode

    est = GaussianizationDensity(strategy="rbig", n_layers=1, n_components=2)
    with float_mode(False):
        with pytest.raises(ValueError, match="beyond float32's range.*jax_enable_x64"):
            est.fit(data * 1e300)
        with pytest.raises(ValueError, match="float32 cannot resolve.*centre the data"):
            GaussianizationDensity(strategy="cold", n_layers=1, n_components=2).fit(data + 1e9)
        with pytest.raises(ValueError, match="beyond float32's range"):
            fitted.transform(data[:2] * 1e300)


def test_far_out_rows_have_finite_latents_in_float32(data):
    from gauss_flows._precision import float_mode

    far = np.array([[1e30, -1e30], [-1e30, 5.0], [3e38, -3e38], [1e10, 0.0]])
    with float_mode(False):
        est = GaussianizationDensity(strategy="rbig", n_layers=2, n_components=3).fit(data)
        Z = est.transform(far)
        scores = est.score_samples(far)
        back = est.inverse_transform(np.array([[1e30, -1e30], [3e38, 0.0]]))
    assert np.all(np.isfinite(Z)) and np.all(np.isfinite(back))
    assert not np.any(np.isnan(scores)) and np.all(scores < -1e3)
