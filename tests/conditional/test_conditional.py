"""Conditional Gaussianization: the greedy start, training on pairs, errors, files, bases."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from flowjax.bijections import Permute
from flowjax.distributions import Normal

import gauss_flows as gf
from gauss_flows import layout


def _pairs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    Y = rng.uniform(-1.0, 1.0, (n, 1))
    X = np.c_[Y[:, 0] + 0.3 * rng.standard_normal(n), (1 + Y[:, 0] ** 2) * rng.standard_normal(n)]
    return X, Y


@pytest.fixture(scope="module")
def fitted():
    X, Y = _pairs()
    return X, Y, gf.fit_rbig(X, n_layers=3, n_components=4), gf.fit_rbig(
        X, condition=Y, n_layers=3, n_components=4, dependence="zero"
    )


def test_greedy_start_equals_the_unconditional_fit(fitted):
    X, Y, plain, conditional = fitted
    assert conditional.cond_shape == (1,) and layout.is_conditional_flow(conditional)
    far = np.r_[Y, [[50.0], [-50.0]]]
    X2 = np.r_[X, X[:2]]
    diff = conditional.log_prob(X2, condition=far) - plain.log_prob(X2)
    assert float(jnp.max(jnp.abs(diff))) <= 1e-12


@pytest.mark.parametrize("architecture", ["diagonal", "coupling"])
def test_regression_start_fits_the_dependence_before_any_gradient(fitted, architecture):
    X, Y, plain, _ = fitted
    start = gf.fit_rbig(X, condition=Y, n_layers=3, n_components=4, architecture=architecture)
    Xv, Yv = _pairs(2000, seed=1)
    nll = lambda f, *c: -float(jnp.mean(f.log_prob(Xv, *c)))
    # The pairs' x depends on y in its mean and its scale: the start reads both.
    assert nll(start, Yv) < nll(plain) - 0.3
    far = start.log_prob(X[:2], condition=np.array([[50.0], [-50.0]]))
    assert bool(jnp.all(jnp.isfinite(far)))
    assert layout.conditional_gaussianizer(start).block_architecture == architecture


def test_regression_start_keeps_blocks_that_gain_nothing_unconditional():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 2)) ** 3
    Y = np.sign(rng.standard_normal((400, 1)))  # independent of X
    plain = gf.fit_rbig(X, n_layers=2, n_components=3)
    start = gf.fit_rbig(X, condition=Y, n_layers=2, n_components=3)
    Xv, Yv = rng.standard_normal((2000, 2)) ** 3, np.sign(rng.standard_normal((2000, 1)))
    gap = float(jnp.mean(plain.log_prob(Xv)) - jnp.mean(start.log_prob(Xv, condition=Yv)))
    assert abs(gap) < 0.05


def test_unknown_dependence_is_named(fitted):
    X, Y, _, _ = fitted
    with pytest.raises(ValueError, match="dependence must be"):
        gf.fit_rbig(X, condition=Y, n_layers=1, dependence="linear")


@pytest.mark.slow
def test_the_condition_networks_get_gradients_at_the_start(fitted):
    import equinox as eqx

    X, Y, _, conditional = fitted
    grads = eqx.filter_grad(lambda f: -jnp.mean(f.log_prob(X, condition=Y)))(conditional)
    final = layout.conditional_gaussianizer(grads).conditioners.layers[-1].weight
    assert float(jnp.max(jnp.abs(final))) > 0


@pytest.mark.slow
def test_training_on_pairs_beats_the_unconditional_fit_on_held_out_pairs(fitted):
    X, Y, plain, conditional = fitted
    Xv, Yv = _pairs(200, seed=1)
    trained, log = gf.train_flow(
        conditional, X, condition=Y, steps=150, batch=128, peak_lr=3e-3,
        val_data=(Xv, Yv), patience=100, log_every=25,
    )
    held = log.monitored["val_data"]
    assert held[0] == pytest.approx(-float(plain.log_prob(Xv).mean()), abs=1e-9)
    assert -float(trained.log_prob(Xv, condition=Yv).mean()) < held[0] - 0.05


@pytest.mark.parametrize(
    "condition, message",
    [
        (None, "pass condition="),
        (np.zeros((5, 1)), "rows"),
        (np.zeros((300, 2)), "columns"),
        (np.full((300, 1), np.nan), "NaN"),
        (np.zeros((300, 1, 1)), "1-D or 2-D"),
    ],
)
def test_bad_conditions_get_named_errors(fitted, condition, message):
    X, _, _, conditional = fitted
    with pytest.raises(ValueError, match=message):
        gf.train_flow(conditional, X, condition=condition, steps=1)


def test_bad_fit_conditions_and_unconditional_flows(fitted):
    X, Y, plain, _ = fitted
    with pytest.raises(ValueError, match="rows"):
        gf.fit_rbig(X, condition=Y[:10], n_layers=1)
    with pytest.raises(ValueError, match="inf"):
        gf.fit_rbig(X, condition=np.full_like(Y, np.inf), n_layers=1)
    with pytest.raises(ValueError, match="unconditional"):
        gf.train_flow(plain, X, condition=Y, steps=1)
    with pytest.raises(ValueError, match="pair"):
        gf.train_flow(gf.fit_rbig(X, condition=Y, n_layers=1), X, condition=Y, steps=1, val_data=X)


def test_save_and_load_round_trip(fitted, tmp_path):
    X, Y, _, conditional = fitted
    path = tmp_path / "cond.gflow"
    gf.save(path, conditional)
    loaded = gf.load(path)
    assert gf.read_header(path)["builder"] == "conditional_gaussianization_flow"
    np.testing.assert_array_equal(
        loaded.log_prob(X, condition=Y), conditional.log_prob(X, condition=Y)
    )


def test_sampling_follows_the_condition(fitted):
    X, Y, _, conditional = fitted
    samples = conditional.sample(jr.key(0), (4,), condition=Y[:3])
    assert samples.shape == (4, 3, 2) and bool(jnp.all(jnp.isfinite(samples)))


def test_cold_builder_has_the_greedy_structure(fitted):
    import equinox as eqx

    X, Y, _, conditional = fitted
    cold = gf.conditional_gaussianization_flow(
        jr.key(0), n_dims=2, cond_dim=1, n_layers=3, n_components=4
    )
    shapes = lambda f: [a.shape for a in jax.tree.leaves(eqx.filter(f, eqx.is_array))]
    assert jax.tree.structure(cold) == jax.tree.structure(conditional)
    assert shapes(cold) == shapes(conditional)


def test_conditional_diag_gaussian_matches_its_formula():
    base = gf.ConditionalDiagGaussian(jr.key(0), event_shape=(2,), cond_shape=(3,))
    c, x = jnp.array([0.5, -1.0, 2.0]), jnp.array([0.3, -0.7])
    loc, log_scale = base.loc_and_log_scale(c)
    expected = jax.scipy.stats.norm.logpdf(x, loc, jnp.exp(log_scale)).sum()
    np.testing.assert_allclose(base.log_prob(x, condition=c), expected, rtol=1e-12)
    standard = gf.ConditionalDiagGaussian(
        jr.key(0), event_shape=(2,), cond_shape=(3,), output_scale=0.0
    )
    np.testing.assert_allclose(
        standard.log_prob(x, condition=c), Normal(jnp.zeros(2)).log_prob(x), rtol=1e-14
    )
    draws = jax.vmap(lambda k: base.sample(k, condition=c))(jr.split(jr.key(1), 4000))
    np.testing.assert_allclose(draws.mean(0), loc, atol=0.1 * float(jnp.exp(log_scale).max()))
    with pytest.raises(ValueError, match="event_shape"):
        gf.ConditionalDiagGaussian(jr.key(0), event_shape=(2, 2), cond_shape=(1,))


def test_survae_flow_log_prob_is_the_change_of_variables():
    layers = [
        gf.RQSplineCoupling(jr.key(0), shape=(2,), n_bins=4, interval=3.0, cond_dim=1, nn_width=8),
        Permute(jnp.array([1, 0])),
        gf.RQSplineCoupling(jr.key(1), shape=(2,), n_bins=4, interval=3.0, nn_width=8),
    ]
    base = gf.ConditionalDiagGaussian(jr.key(2), event_shape=(2,), cond_shape=(1,), nn_width=8)
    flow = gf.SurVAEFlow(base, layers)
    assert flow.data_shape == (2,) and flow.cond_shape == (1,)
    c, x = jnp.array([0.4]), jnp.array([0.2, -0.5])

    def inverse(v):
        for t in reversed(layers):
            v = t.inverse(v, c if t.cond_shape is not None else None)
        return v

    log_det = jnp.linalg.slogdet(jax.jacobian(inverse)(x))[1]
    expected = base.log_prob(inverse(x), condition=c) + log_det
    np.testing.assert_allclose(flow.log_prob(x, jr.key(0), condition=c), expected, rtol=1e-10)
    sample = flow.sample(jr.key(3), condition=c)
    assert sample.shape == (2,)
    with pytest.raises(ValueError, match="pass a condition"):
        flow.sample(jr.key(3))
    # An unconditional flow ignores the condition it is handed.
    plain = gf.SurVAEFlow(Normal(jnp.zeros(2)), layers[1:])
    np.testing.assert_allclose(
        plain.log_prob(x, jr.key(0), condition=c), plain.log_prob(x, jr.key(0))
    )


@pytest.mark.slow
def test_conditional_entropy_of_a_gaussian_conditional():
    # X = Y + 0.5 eps: H(X | Y) = 0.5 log(2 pi e 0.25).
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(2000, 1))
    X = Y + 0.5 * rng.normal(size=(2000, 1))
    flow = gf.fit_rbig(X, condition=Y, n_layers=2, n_components=4)
    flow, _ = gf.train_flow(flow, X, condition=Y, steps=300, batch=256, peak_lr=3e-3)
    truth = 0.5 * np.log(2 * np.pi * np.e * 0.25)
    held_X = Y + 0.5 * rng.normal(size=(2000, 1))
    assert gf.conditional_entropy(flow, Y, held_X) == pytest.approx(truth, abs=0.1)
    assert gf.conditional_entropy(flow, Y) == pytest.approx(truth, abs=0.1)
    with pytest.raises(ValueError, match="conditional flow"):
        gf.conditional_entropy(gf.fit_rbig(X, n_layers=1), Y)


def test_inspection_of_a_conditional_flow(fitted):
    X, Y, plain, conditional = fitted
    states = gf.forward_with_intermediates(conditional, X, condition=Y)
    np.testing.assert_allclose(
        states.states, gf.forward_with_intermediates(plain, X).states, atol=1e-12
    )
    table = gf.inspect_layers(conditional, X, condition=Y, tc_method="gaussian")
    assert len(table) == 4
    with pytest.raises(ValueError, match="condition"):
        gf.forward_with_intermediates(conditional, X)


@pytest.fixture(scope="module")
def coupled():
    X, Y = _pairs()
    return X, Y, gf.fit_rbig(X, n_layers=2, n_components=3), gf.fit_rbig(
        X, condition=Y, n_layers=2, n_components=3, architecture="coupling", dependence="zero"
    )


def test_coupling_greedy_start_equals_the_unconditional_fit(coupled):
    X, Y, plain, conditional = coupled
    far = np.r_[Y, [[50.0], [-50.0]]]
    X2 = np.r_[X, X[:2]]
    diff = conditional.log_prob(X2, condition=far) - plain.log_prob(X2)
    assert float(jnp.max(jnp.abs(diff))) <= 1e-12


def test_coupling_blocks_save_load_and_rebuild_cold(coupled, tmp_path):
    import equinox as eqx

    X, Y, _, conditional = coupled
    path = tmp_path / "coupled.gflow"
    gf.save(path, conditional)
    assert gf.read_header(path)["arguments"]["architecture"] == "coupling"
    np.testing.assert_array_equal(
        gf.load(path).log_prob(X, condition=Y), conditional.log_prob(X, condition=Y)
    )
    cold = gf.conditional_gaussianization_flow(
        jr.key(0), n_dims=2, cond_dim=1, n_layers=2, n_components=3, architecture="coupling"
    )
    shapes = lambda f: [a.shape for a in jax.tree.leaves(eqx.filter(f, eqx.is_array))]
    assert jax.tree.structure(cold) == jax.tree.structure(conditional)
    assert shapes(cold) == shapes(conditional)


def test_coupling_needs_a_condition_and_two_columns():
    X, Y = _pairs(100)
    with pytest.raises(ValueError, match="conditional fits"):
        gf.fit_rbig(X, n_layers=1, architecture="coupling")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        gf.fit_rbig(X[:, :1], condition=Y, n_layers=1, architecture="coupling")
    with pytest.raises(ValueError, match="architecture must be"):
        gf.fit_rbig(X, condition=Y, n_layers=1, architecture="dense")
