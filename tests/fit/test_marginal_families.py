"""Greedy fits with every marginal family: each a good density, each its trainable twin."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows import io
from gauss_flows.fit import HistogramFit, KDEFit, MixtureFit, SplineFit, as_marginal_fit


def moons(n=1500, seed=0):
    X, _ = make_moons(n_samples=n, noise=0.08, random_state=seed)
    return X


def mean_nll(flow, X):
    return -float(jnp.mean(flow.log_prob(jnp.asarray(X))))


FAMILIES = {
    "mixture": ("mixture", {"n_components": 4}),
    "kde": ("mixture", {"n_components": 33}),
    "histogram": ("histogram", {"n_bins": 24}),
    "spline": ("spline", {"n_bins": 16}),
}
VALUES = {
    "mixture": MixtureFit(),
    "kde": KDEFit(),
    "histogram": HistogramFit(n_bins=24),
    "spline": SplineFit(),
}


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_fits_moons_and_is_its_twins_structure(family):
    X, X_test = moons(), moons(seed=1)
    flow = gf.fit_rbig(X, n_layers=6, n_components=4, marginal=VALUES[family])
    gaussian = -float(jnp.mean(jax.scipy.stats.multivariate_normal.logpdf(
        X_test, X.mean(0), np.cov(X.T))))
    nll = mean_nll(flow, X_test)
    assert np.isfinite(nll) and nll < gaussian - 0.4  # far better than one Gaussian
    twin_family, sizes = FAMILIES[family]
    twin = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=6, marginal=twin_family, **sizes)
    assert jax.tree.structure(flow) == jax.tree.structure(twin)
    # The greedy fit saves and loads under its twin's builder, bit for bit.
    loaded = io.from_bytes(io.to_bytes(flow))
    np.testing.assert_array_equal(flow.log_prob(X_test[:50]), loaded.log_prob(X_test[:50]))


def test_family_names_are_the_default_values():
    assert as_marginal_fit("histogram") == HistogramFit()
    assert as_marginal_fit(None) == MixtureFit()
    with pytest.raises(ValueError, match="unknown marginal family 'parzen'"):
        gf.fit_rbig(moons(), n_layers=1, marginal="parzen")
    with pytest.raises(TypeError, match="marginal must be"):
        gf.fit_rbig(moons(), n_layers=1, marginal=3)


def test_histogram_rbig_stops_by_its_own_noise_gain():
    # The depth rule's tolerance counts the histogram's bins, not mixture components.
    flow = gf.fit_rbig(
        moons(), n_layers=None, marginal=HistogramFit(n_bins=24), max_layers=40, val_fraction=0
    )
    assert 2 <= flow.bijection.bijection.n_layers < 40


def test_marginal_fit_settings_are_checked():
    with pytest.raises(ValueError, match="n_bins"):
        SplineFit(n_bins=1)
    with pytest.raises(ValueError, match="tail_weight"):
        KDEFit(tail_weight=1.5)
    with pytest.raises(ValueError, match="pseudo_count"):
        HistogramFit(pseudo_count=0.0)


def test_fit_rbig_accepts_already_standardised_data_without_a_standardisation():
    X = moons()
    Z = (X - X.mean(0)) / X.std(0)
    flow = gf.fit_rbig(Z, n_layers=3, n_components=4)
    stack = flow.bijection.bijection
    assert not stack.is_standardizing
    np.testing.assert_array_equal(stack.loc, 0.0)
    raw = gf.fit_rbig(X, n_layers=3, n_components=4).bijection.bijection
    assert raw.is_standardizing


def test_coupling_fit_needs_a_mixture_family():
    with pytest.raises(ValueError, match="mixture or KDE marginal"):
        gf.fit_rbig_coupling(moons(), n_layers=1, marginal="histogram")
    flow = gf.fit_rbig_coupling(moons(), n_layers=2, marginal=KDEFit(n_kernels=8))
    assert np.isfinite(mean_nll(flow, moons(seed=1)))
