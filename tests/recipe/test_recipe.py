"""The recommended recipe: greedy fit, then fine-tuning early-stopped on held-out rows."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows.recipe import default_noise_level, default_peak_lr
from gauss_flows.train import train_flow


def moons(n, seed):
    X, _ = make_moons(n_samples=n, noise=0.08, random_state=seed)
    return X


def depth_of(flow):
    return gf.layout.n_layers(flow)


@pytest.mark.parametrize(
    "architecture, builder",
    [
        ("diagonal", gf.gaussianization_flow),
        # "auto" on 2 columns takes the same coupling path as "coupling".
        pytest.param("coupling", gf.coupling_gaussianization_flow, marks=pytest.mark.slow),
        ("auto", gf.coupling_gaussianization_flow),
    ],
)
def test_recipe_returns_a_trainable_flow_that_beats_a_gaussian(architecture, builder):
    X = moons(800, 0)
    flow = gf.fit_density(X, steps=150, max_layers=4, architecture=architecture)
    cold = builder(jr.key(0), n_dims=2, n_layers=depth_of(flow), n_components=8)
    assert jax.tree.structure(flow) == jax.tree.structure(cold)
    assert jax.tree.map(jnp.shape, flow) == jax.tree.map(jnp.shape, cold)
    test = moons(800, 1)
    nll = -float(jnp.mean(flow.log_prob(jnp.asarray(test))))
    cov = np.cov(X.T)
    gaussian_nll = 0.5 * (2 * np.log(2 * np.pi * np.e) + np.linalg.slogdet(cov)[1])
    assert nll < gaussian_nll - 0.3


@pytest.mark.slow
def test_recipe_is_reproducible():
    X = moons(400, 0)
    a = gf.fit_density(X, steps=50, max_layers=3, random_state=3)
    b = gf.fit_density(X, steps=50, max_layers=3, random_state=3)
    np.testing.assert_array_equal(np.asarray(a.log_prob(X)), np.asarray(b.log_prob(X)))


@pytest.mark.parametrize(
    "n_dims, builder",
    [
        pytest.param(1, gf.gaussianization_flow, marks=pytest.mark.slow),  # no coupling in 1-D
        (2, gf.coupling_gaussianization_flow),  # 150 rows per column
        (8, gf.gaussianization_flow),  # 37.5 rows per column: too few for conditioners
    ],
)
def test_auto_architecture_follows_rows_per_column(n_dims, builder):
    X = np.random.default_rng(0).standard_exponential((300, n_dims))
    flow = gf.fit_density(X, steps=25, n_layers=1, n_components=2, noise=0.0)
    cold = builder(jr.key(0), n_dims=n_dims, n_layers=1, n_components=2)
    assert jax.tree.structure(flow) == jax.tree.structure(cold)


@pytest.mark.slow
def test_auto_noise_keeps_the_better_held_out_fit():
    # Noise-free and noisy fine-tuning from the same greedy start; "auto" returns one
    # of the two, the one with the lower NLL on the rows the recipe holds out.
    X = moons(1000, 0)
    options = dict(max_layers=3, random_state=2, architecture="diagonal")
    order = np.random.default_rng(2).permutation(1000)
    X_val = X[np.sort(order[:100])]
    # "auto" shares its budget of 100 steps between the two runs.
    fits = [
        gf.fit_density(X, noise=level, steps=50, **options)
        for level in (0.0, default_noise_level(900))
    ]
    chosen = gf.fit_density(X, noise="auto", steps=100, **options)
    held_out = [-float(jnp.mean(f.log_prob(X_val))) for f in fits]
    expected = fits[int(np.argmin(held_out))]
    np.testing.assert_allclose(chosen.log_prob(X[:50]), expected.log_prob(X[:50]), rtol=1e-6)
    assert held_out[0] != held_out[1]


@pytest.mark.parametrize(
    "steps, runs",
    [
        pytest.param(300, [150, 150], marks=pytest.mark.slow),
        pytest.param(301, [150, 150], marks=pytest.mark.slow),
        (1, [1]),
    ],
)
def test_steps_bound_all_fine_tuning_runs_together(monkeypatch, steps, runs):
    import gauss_flows.recipe as recipe

    seen = []

    def recording_train_flow(flow, X, *, steps, **options):
        seen.append((steps, float(np.max(options["noise"]))))
        return train_flow(flow, X, steps=steps, **options)

    monkeypatch.setattr(recipe, "train_flow", recording_train_flow)
    gf.fit_density(moons(600, 0), steps=steps, max_layers=2, architecture="diagonal")
    assert [s for s, _ in seen] == runs
    assert seen[0][1] == 0.0  # the noise-free run always comes first


def test_default_learning_rate_rises_for_short_budgets():
    assert default_peak_lr(3000) == pytest.approx(1e-3)
    assert default_peak_lr(30000) == pytest.approx(1e-3)
    assert default_peak_lr(750) == pytest.approx(2e-3)
    assert default_peak_lr(10) == pytest.approx(3e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(val_fraction=1.0), "val_fraction"),
        (dict(val_fraction=-0.1), "val_fraction"),
        (dict(steps=0), "steps"),
        (dict(steps=2.5), "steps"),
        (dict(architecture="deep"), "architecture"),
        (dict(noise="some"), "noise"),
        (dict(noise=-1.0), "noise"),
        (dict(train_rotations="yes"), "train_rotations"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gf.fit_density(moons(200, 0), **kwargs)


def test_bad_data_is_named():
    X = moons(200, 0)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        gf.fit_density(X, steps=10)


def test_fine_tuning_plan_shares_the_step_budget():
    from gauss_flows.recipe import MIN_VAL_ROWS, fine_tuning_runs, held_out_rows

    assert held_out_rows(3000) == 300
    assert held_out_rows(10 * MIN_VAL_ROWS) == MIN_VAL_ROWS
    assert held_out_rows(10 * MIN_VAL_ROWS - 10) == 0  # too few rows to hold out
    assert held_out_rows(3000, val_fraction=0.0) == 0
    runs = fine_tuning_runs(3000, steps=3001)
    assert [steps for _, steps in runs] == [1500, 1500]
    assert runs[0][0] == 0.0 and runs[1][0] > 0.0
    assert fine_tuning_runs(3000, steps=1) == [(0.0, 1)]
    assert fine_tuning_runs(400, steps=3000) == [(0.0, 3000)]  # nothing held out: noise-free
    assert fine_tuning_runs(3000, steps=200, noise=0.05) == [(0.05, 200)]
    with pytest.raises(ValueError, match="val_fraction"):
        held_out_rows(3000, val_fraction=1.0)


def test_frozen_rotations_stay_the_greedy_ones():
    """``train_rotations=False`` fine-tunes the marginal maps only and hands back the
    builder's plain structure; ``True`` moves the rotations too."""
    X = moons(1500, 0)
    kw = dict(architecture="diagonal", n_layers=3, n_components=4, noise=0.0)
    frozen_short = gf.fit_density(X, steps=25, train_rotations=False, **kw)
    frozen_long = gf.fit_density(X, steps=100, train_rotations=False, **kw)
    trained_long = gf.fit_density(X, steps=100, train_rotations=True, **kw)

    def rotation(flow):
        return gf.layout.blocks(flow).vectors

    def marginal(flow):
        return gf.layout.blocks(flow).means

    np.testing.assert_array_equal(rotation(frozen_short), rotation(frozen_long))
    assert not np.array_equal(marginal(frozen_short), marginal(frozen_long))
    assert not np.array_equal(rotation(frozen_long), rotation(trained_long))
    assert jax.tree.structure(frozen_long) == jax.tree.structure(trained_long)


def test_patience_counts_gradient_steps(monkeypatch):
    """fit_density hands its patience, in gradient steps, to train_flow unchanged."""
    import gauss_flows.recipe as recipe

    seen = []

    def recording_train_flow(flow, X, **options):
        seen.append(options["patience"])
        return train_flow(flow, X, **options)

    monkeypatch.setattr(recipe, "train_flow", recording_train_flow)
    X = moons(600, 0)
    gf.fit_density(X, steps=50, max_layers=2, architecture="diagonal", noise=0.0)
    gf.fit_density(X, steps=50, max_layers=2, architecture="diagonal", noise=0.0, patience=50)
    assert seen == [recipe.DEFAULT_PATIENCE, 50] and recipe.DEFAULT_PATIENCE == 1000


def test_val_fraction_rule_is_shared():
    from gauss_flows.recipe import check_val_fraction, held_out_rows

    assert check_val_fraction(0.0) == 0.0 and held_out_rows(3000, val_fraction=0.0) == 0
    for bad in (1.0, -0.1, "0.1", True):
        with pytest.raises(ValueError, match="val_fraction"):
            check_val_fraction(bad)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(patience=0), "patience"),
        (dict(batch=2.0), "batch"),
        (dict(n_components=0), "n_components"),
        (dict(peak_lr=0.0), "peak_lr"),
        (dict(time_budget=-1.0), "time_budget"),
    ],
)
def test_settings_are_checked_before_fitting(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gf.fit_density(moons(200, 0), **kwargs)
