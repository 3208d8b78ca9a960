"""The sub-step views of a stack: a flat list of layers and a per-layer stacked template."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import gauss_flows as gf

X = 1.3 * jr.normal(jr.key(5), (64, 3)) + jnp.array([1.0, -2.0, 0.5])


def _flows():
    return {
        "fit_rbig": gf.fit_rbig(X, n_layers=3, n_components=3),
        "gaussianization_flow": gf.gaussianization_flow(jr.key(0), n_dims=3, n_layers=3, n_components=3),
        "histogram": gf.fit_rbig(X, n_layers=2, marginal=gf.HistogramFit(n_bins=8)),
        "orthogonal spline": gf.gaussianization_flow(
            jr.key(0), n_dims=3, n_layers=2, rotation="orthogonal", marginal="spline", n_bins=4
        ),
        "coupling": gf.fit_rbig_coupling(X, jr.key(1), n_layers=2, n_components=3),
        "spline coupling": gf.coupling_gaussianization_flow(
            jr.key(0), n_dims=3, n_layers=2, n_bins=4, nn_width=8
        ),
    }


FLOWS = _flows()
# The builder's flow shares its structure with the greedy fit's; the Cayley-spline flow
# shares its block with the histogram fit's. Both run in the slow set.
CASES = [
    pytest.param(name, marks=pytest.mark.slow)
    if name in ("gaussianization_flow", "orthogonal spline")
    else name
    for name in FLOWS
]


def _apply(layers, x):
    for layer in layers:
        x = jax.vmap(layer.transform)(x)
    return x


@pytest.mark.parametrize("name", CASES)
def test_sub_steps_compose_to_the_gaussianizer(name):
    flow = FLOWS[name]
    stack = flow.bijection.bijection
    expected = jax.vmap(flow.bijection.inverse)(X)
    np.testing.assert_allclose(_apply(stack.bijections, X), expected, rtol=1e-10, atol=1e-10)
    names = [type(b).__name__ for b in stack.bijections]
    steps = names[1:] if stack.is_standardizing else names
    assert steps[0] == "FixedRotation" and names.count("FixedRotation") == stack.n_layers
    assert (names[0] == "Standardization") == stack.is_standardizing


@pytest.mark.parametrize("name", CASES)
def test_template_unrolls_to_the_blocks(name):
    flow = FLOWS[name]
    stack = flow.bijection.bijection
    template = stack.bijection
    params, static = eqx.partition(template, eqx.is_inexact_array)
    assert all(eqx.is_inexact_array(a) for a in jax.tree.leaves(template) if eqx.is_array(a))
    layers = [eqx.combine(jax.tree.map(lambda a, k=k: a[k], params), static)
              for k in range(stack.n_layers)]
    standardised = jax.vmap(stack.standardizer.transform)(X)
    expected = jax.vmap(flow.bijection.inverse)(X)
    np.testing.assert_allclose(_apply(layers, standardised), expected, rtol=1e-10, atol=1e-10)


def test_fit_rbig_of_standardised_data_is_rotation_marginal_pairs():
    Z = (X - X.mean(0)) / X.std(0)
    steps = gf.fit_rbig(Z, n_layers=4, n_components=3).bijection.bijection.bijections
    assert [type(b).__name__ for b in steps] == ["FixedRotation", "MixtureGaussianCDF"] * 4
