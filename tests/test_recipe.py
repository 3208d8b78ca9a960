"""The recommended recipe: greedy fit, then fine-tuning early-stopped on held-out rows."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows.recipe import default_peak_lr


def moons(n, seed):
    X, _ = make_moons(n_samples=n, noise=0.08, random_state=seed)
    return X


def test_recipe_returns_a_trainable_flow_that_beats_a_gaussian():
    X = moons(800, 0)
    flow = gf.fit_density(X, steps=150, max_layers=6)
    depth = gf.flows.blocks_of(flow).bijection.bijections[1].logits.shape[0]
    cold = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=depth, n_components=8)
    assert jax.tree.structure(flow) == jax.tree.structure(cold)
    test = moons(800, 1)
    nll = -float(jnp.mean(flow.log_prob(jnp.asarray(test))))
    cov = np.cov(X.T)
    gaussian_nll = 0.5 * (2 * np.log(2 * np.pi * np.e) + np.linalg.slogdet(cov)[1])
    assert nll < gaussian_nll - 0.3


def test_recipe_is_reproducible():
    X = moons(400, 0)
    a = gf.fit_density(X, steps=50, max_layers=3, random_state=3)
    b = gf.fit_density(X, steps=50, max_layers=3, random_state=3)
    np.testing.assert_array_equal(np.asarray(a.log_prob(X)), np.asarray(b.log_prob(X)))


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
