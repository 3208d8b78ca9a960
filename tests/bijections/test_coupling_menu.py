"""The coupling layers of the tutorial-series menu: the shared coupling contract and each
layer's own behaviour (the cross-class properties run in ``test_bijection_properties``)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from flowjax.bijections import Chain, Coupling, Flip, Invert, Permute
from flowjax.distributions import Normal, Transformed

import gauss_flows.bijections as gb
from gauss_flows.bijections import coupling as coupling_module
from gauss_flows.bijections.mixture_cdf import mixture_gaussianize


def _affine(key, d, **kw):
    return gb.AffineCoupling(key, shape=(d,), nn_width=16, nn_depth=2, **kw)


def _spline(key, d, **kw):
    return gb.RQSplineCoupling(
        key, shape=(d,), n_bins=8, interval=4.0, nn_width=16, nn_depth=2, **kw
    )


def _sigmoid(key, d, **kw):
    return gb.DeepSigmoidCoupling(key, shape=(d,), nn_width=16, nn_depth=2, n_components=8, **kw)


def _mixture(key, d, **kw):
    return gb.MixtureGaussianCDFCoupling(
        key, shape=(d,), n_components=8, nn_width=16, nn_depth=2, **kw
    )


MENU = {"affine": _affine, "spline": _spline, "sigmoid": _sigmoid, "mixture": _mixture}
ROUND_TRIP_ATOL = {"affine": 1e-13, "spline": 1e-12, "sigmoid": 1e-12, "mixture": 1e-9}


@pytest.fixture(scope="module")
def layers():
    return {(name, d): make(jr.key(7), d) for name, make in MENU.items() for d in (3, 4)}


@eqx.filter_jit
def _forward_with_jacobian(layer, x):
    z, log_det = jax.vmap(layer.transform_and_log_det)(x)
    return z, log_det, jax.vmap(jax.jacfwd(layer.transform))(x)


@pytest.mark.parametrize("name", sorted(MENU))
def test_coupling_contract(layers, name):
    d = 3
    layer = layers[name, d]
    x = 1.5 * jr.normal(jr.key(1), (16, d))
    z, log_det, jac = _forward_with_jacobian(layer, x)
    passive = d // 2
    # The passive half is copied bit for bit; the active half moves (random final layer).
    assert bool(jnp.all(z[:, :passive] == x[:, :passive]))
    assert float(jnp.min(jnp.max(jnp.abs(z[:, passive:] - x[:, passive:]), axis=0))) > 1e-3
    # Lower block-triangular Jacobian with unit passive diagonal; log-det = Σ log|diag J|.
    assert bool(jnp.all(jnp.triu(jac, 1) == 0))
    diag = jnp.diagonal(jac, axis1=1, axis2=2)
    np.testing.assert_array_equal(diag[:, :passive], 1.0)
    np.testing.assert_allclose(log_det, jnp.sum(jnp.log(jnp.abs(diag)), -1), rtol=1e-10, atol=1e-12)


@eqx.filter_jit
def _there_and_back(layer, x, condition=None):
    """Forward then inverse of a batch, with one condition for all rows or one per row."""
    axis = None if condition is None or condition.ndim == 1 else 0
    z, log_det = jax.vmap(layer.transform_and_log_det, (0, axis))(x, condition)
    x_back, inverse_log_det = jax.vmap(layer.inverse_and_log_det, (0, axis))(z, condition)
    return z, log_det, x_back, inverse_log_det


@pytest.mark.parametrize("name", sorted(MENU))
def test_round_trip_and_inverse_log_det(layers, name):
    layer = layers[name, 4]
    x = jr.normal(jr.key(2), (200, 4))
    z, log_det, x_back, inverse_log_det = _there_and_back(layer, x)
    assert bool(jnp.all(z[:, :2] == x[:, :2]))  # the passive half of d = 4
    np.testing.assert_allclose(x_back, x, rtol=0, atol=ROUND_TRIP_ATOL[name])
    np.testing.assert_allclose(inverse_log_det, -log_det, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(MENU))
def test_conditioner_path_and_unconditional_layers_ignore_a_condition(layers, name):
    layer = layers[name, 3]
    mlp = layer._coupling.conditioner
    assert isinstance(mlp, eqx.nn.MLP) and all(isinstance(lin, eqx.nn.Linear) for lin in mlp.layers)
    assert mlp.in_size == 1 and float(jnp.max(jnp.abs(mlp.layers[-1].weight))) > 0
    assert layer.shape == (3,) and layer.cond_shape is None
    x = jnp.array([[0.4, -1.1, 2.0]])
    ignored = jnp.array([5.0, -3.0])
    with_condition, without = _there_and_back(layer, x, ignored), _there_and_back(layer, x)
    for a, b in zip(with_condition, without):
        np.testing.assert_array_equal(a, b)


def test_flowjax_based_layers_wrap_flowjax_coupling(layers):
    for name in ("affine", "spline", "sigmoid"):
        layer = layers[name, 4]
        assert isinstance(layer._coupling, Coupling)
        assert layer.untransformed_dim == 2
    # Per active dimension: spline n_bins widths + n_bins heights + (n_bins + 1) derivatives;
    # sum of sigmoids 1 slope + K (weights, rates, shifts); affine loc and scale.
    assert layers["spline", 4]._coupling.conditioner.out_size == 2 * (3 * 8 + 1)
    assert layers["sigmoid", 4]._coupling.conditioner.out_size == 2 * (3 * 8 + 1)
    assert layers["affine", 4]._coupling.conditioner.out_size == 2 * 2


def test_mixture_coupling_conditioner_sizes_and_zero_kernel_contract():
    layer = gb.MixtureGaussianCDFCoupling(
        jr.key(0), shape=(2,), n_components=8, nn_width=32, nn_depth=2
    )
    mlp = layer._coupling.conditioner
    assert mlp is layer.conditioner
    sizes = [(lin.weight.shape[1], lin.weight.shape[0]) for lin in mlp.layers]
    assert sizes == [(1, 32), (32, 32), (32, 24)]
    assert layer.log_scale_bound == 5.0
    # Zero final weight: the layer is the diagonal mixture-CDF map of its base.
    final = layer._coupling.conditioner.layers[-1]
    zero = eqx.tree_at(lambda l: l._coupling.conditioner.layers[-1].weight, layer, 0 * final.weight)
    x = 1.5 * jr.normal(jr.key(3), (50, 2))

    @eqx.filter_jit
    def both(layer, x):
        marginal = jax.vmap(
            lambda v: mixture_gaussianize(v[1:], layer.logits, layer.means, layer.log_scales)
        )(x)
        return jax.vmap(layer.transform_and_log_det)(x), marginal

    (z, log_det), (expected, log_dz_dx) = both(zero, x)
    np.testing.assert_array_equal(z[:, 0], x[:, 0])
    np.testing.assert_allclose(z[:, 1:], expected, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(log_det, log_dz_dx.sum(-1), rtol=1e-14, atol=1e-14)
    # With the random final weight the map depends on the passive coordinate.
    (moved, _), _ = both(layer, jnp.array([[-1.0, 0.5], [1.0, 0.5]]))
    assert abs(float(moved[0, 1] - moved[1, 1])) > 1e-3


@pytest.mark.parametrize("name", ["spline", "affine", "sigmoid", "mixture"])
def test_conditional_layer_uses_its_condition(name):
    layer = MENU[name](jr.key(4), 2, cond_dim=3)
    assert layer.cond_shape == (3,)
    assert layer._coupling.conditioner.in_size == 1 + 3
    x = jnp.array([[0.3, -0.8]])
    c1, c2 = jnp.array([1.0, 0.0, -1.0]), jnp.array([-2.0, 0.5, 1.0])
    z1, _, x1, _ = _there_and_back(layer, x, c1)
    z2 = _there_and_back(layer, x, c2)[0]
    assert z1[0, 0] == x[0, 0] and abs(float(z1[0, 1] - z2[0, 1])) > 1e-4
    np.testing.assert_allclose(x1, x, atol=1e-9)
    with pytest.raises(ValueError):
        layer.transform(x[0])  # a conditional layer needs its condition


def test_conditional_spline_chain_log_prob_and_gradients():
    k1, k2 = jr.split(jr.key(5))
    chain = Chain(
        [
            gb.RQSplineCoupling(k1, shape=(2,), n_bins=8, interval=5.0, cond_dim=1, nn_width=16),
            Permute(jnp.array([1, 0])),
            gb.RQSplineCoupling(k2, shape=(2,), n_bins=8, interval=5.0, cond_dim=1, nn_width=16),
        ]
    )
    flow = Transformed(Normal(jnp.zeros(2)), chain)
    assert flow.cond_shape == (1,)
    x = jr.normal(jr.key(6), (32, 2))
    c = jr.normal(jr.key(7), (32, 1))
    params, static = eqx.partition(flow, eqx.is_inexact_array)

    @eqx.filter_jit
    def loss_and_grads(p):
        nll = lambda p: -jnp.mean(eqx.combine(p, static).log_prob(x, c))
        return eqx.filter_value_and_grad(nll)(p)

    loss, grads = loss_and_grads(params)
    assert bool(jnp.isfinite(loss))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    z, _, x_back, _ = _there_and_back(Invert(chain), x, c)
    np.testing.assert_allclose(x_back, x, atol=1e-10)


@pytest.mark.slow
def test_deep_stacks_train_finitely_inside_invert_chain():
    """Ten couplings (mostly affine, as in the depth probe) under ``Invert(Chain)``."""
    makers = [_spline, _sigmoid, _mixture] + [_affine] * 7
    bijections = []
    for make, k in zip(makers, jr.split(jr.key(8), len(makers))):
        bijections += [make(k, 2), Flip(shape=(2,))]
    flow = Transformed(Normal(jnp.zeros(2)), Invert(Chain(bijections)))
    x = 2.0 * jr.normal(jr.key(9), (64, 2))
    params, static = eqx.partition(flow, eqx.is_inexact_array)

    @eqx.filter_jit
    def loss_grads_and_samples(p):
        nll = lambda p: -jnp.mean(jax.vmap(eqx.combine(p, static).log_prob)(x))
        loss, grads = eqx.filter_value_and_grad(nll)(p)
        return loss, grads, eqx.combine(p, static).sample(jr.key(10), (64,))

    loss, grads, samples = loss_grads_and_samples(params)
    assert bool(jnp.isfinite(loss)) and bool(jnp.all(jnp.isfinite(samples)))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def _active_map(layer, x0, xb):
    """``x1 ↦ z1`` of a 2-D coupling with the passive coordinate fixed at ``x0``."""
    x = jnp.stack([jnp.full_like(xb, x0), xb], axis=1)
    return np.asarray(_there_and_back(layer, x)[0][:, 1])


def test_affine_coupling_is_a_line_and_its_scale_is_bounded():
    layer = gb.AffineCoupling(jr.key(0), shape=(2,), nn_width=32, nn_depth=2)
    xb = np.linspace(-3, 3, 41)
    zb = _active_map(layer, 0.7, xb)
    slope, intercept = np.polyfit(xb, zb, 1)
    np.testing.assert_allclose(zb, slope * xb + intercept, atol=1e-12)
    # Even for huge passive inputs the per-coordinate scale stays in [3.4e-4, 8.0].
    far = jnp.array([[1e6, 0.0], [-1e6, 0.0]])
    log_det = _there_and_back(layer, far)[1]
    assert bool(jnp.all((np.log(3.3e-4) < log_det) & (log_det < np.log(8.01))))


def test_deep_sigmoid_coupling_call_forms_and_bending():
    by_keyword = gb.DeepSigmoidCoupling(
        jr.key(3), shape=(2,), nn_width=32, nn_depth=2, n_components=8
    )
    positional = gb.DeepSigmoidCoupling(jr.key(3), (2,), 8, nn_width=32, nn_depth=2)
    x = jnp.array([[0.7, 0.2], [-1.0, 3.0]])
    np.testing.assert_array_equal(
        _there_and_back(by_keyword, x)[0], _there_and_back(positional, x)[0]
    )
    xb = np.linspace(-3, 3, 61)
    zb = _active_map(by_keyword, 0.7, xb)
    assert bool(np.all(np.diff(zb) > 0))
    slope, intercept = np.polyfit(xb, zb, 1)
    assert float(np.max(np.abs(zb - (slope * xb + intercept)))) > 1e-2  # it bends


def test_sum_of_sigmoids_is_monotone_for_any_parameters_with_implicit_inverse_gradients():
    base = gb.SumOfSigmoids(n_components=5)
    assert base.shape == () and base.cond_shape is None
    params, static = eqx.partition(base, eqx.is_inexact_array)
    leaves, treedef = jax.tree.flatten(params)
    keys = jr.split(jr.key(11), len(leaves))
    noisy = [p + 3.0 * jr.normal(k, p.shape) for p, k in zip(leaves, keys)]
    layer = eqx.combine(jax.tree.unflatten(treedef, noisy), static)
    x = jnp.concatenate([jnp.array([-1e3]), jnp.linspace(-50, 50, 201), jnp.array([1e3])])

    @eqx.filter_jit
    def run(layer, x):
        y, log_det = jax.vmap(layer.transform_and_log_det)(x)
        # d x / d y through the solver, in reverse and forward mode.
        return (y, log_det, jax.vmap(layer.inverse)(y), jax.vmap(jax.grad(layer.inverse))(y),
                jax.vmap(jax.jacfwd(layer.inverse))(y))

    y, log_det, x_back, grad_inverse, jvp_inverse = run(layer, x)
    assert bool(jnp.all(jnp.diff(y) > 0)) and bool(jnp.all(jnp.isfinite(log_det)))
    np.testing.assert_allclose(x_back, x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_inverse, jnp.exp(-log_det), rtol=1e-10)
    np.testing.assert_allclose(jvp_inverse, jnp.exp(-log_det), rtol=1e-10)


def test_deprecated_alias_warns_and_builds_the_same_layer():
    with pytest.warns(DeprecationWarning, match="MixtureGaussianCDFCoupling"):
        old = coupling_module.MixtureCDFCoupling
    with pytest.warns(DeprecationWarning):
        assert gb.MixtureCDFCoupling is old
    mlp = coupling_module.conditioner_mlp(
        jr.key(0), in_size=1, out_size=3 * 2 * 2, width=4, depth=1
    )
    base = [jnp.full((2, 2), v) for v in (0.1, -0.2, 0.3)]
    built = old(mlp, *base, n_dims=3, log_scale_bound=1.5)
    new = gb.MixtureGaussianCDFCoupling.from_parameters(mlp, *base, n_dims=3, log_scale_bound=1.5)
    assert type(built) is gb.MixtureGaussianCDFCoupling and isinstance(built, old)
    assert jax.tree.structure(built) == jax.tree.structure(new)
    for a, b in zip(jax.tree.leaves(built), jax.tree.leaves(new)):
        np.testing.assert_array_equal(a, b)
    kwargs = dict(n_dims=3, n_components=2, nn_width=4)
    a = old.random(jr.key(1), **kwargs)
    assert eqx.tree_equal(a, gb.MixtureGaussianCDFCoupling.random(jr.key(1), **kwargs))
    a = old.from_mixture(jr.key(2), *base, n_dims=3)
    assert type(a) is gb.MixtureGaussianCDFCoupling and a.cond_shape is None
