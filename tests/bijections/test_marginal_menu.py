"""Behaviour of the per-dimension (marginal) layers: defaults, fits from data, exact inverses."""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from gauss_flows import bijections as gb

D = 3


def _bimodal(n=4_000, d=1, seed=0):
    rng = np.random.default_rng(seed)
    left = rng.random((n, d)) < 0.5
    x = np.where(left, rng.normal(-2.0, 0.5, (n, d)), rng.normal(1.5, 0.8, (n, d)))
    return jnp.asarray(x)


@eqx.filter_jit
def _forward(layer, x):
    return jax.vmap(layer.transform_and_log_det)(x)


@eqx.filter_jit
def _inverse(layer, y):
    return jax.vmap(layer.inverse_and_log_det)(y)


def _perturbed(layer, key, scale=0.8):
    params, static = eqx.partition(layer, eqx.is_inexact_array)
    leaves, tree = jax.tree.flatten(params)
    keys = jr.split(key, len(leaves))
    leaves = [a + scale * jr.normal(k, a.shape, a.dtype) for a, k in zip(leaves, keys, strict=True)]
    return eqx.combine(jax.tree.unflatten(tree, leaves), static)


DEFAULTS = {
    "MixtureGaussianCDF": lambda: gb.MixtureGaussianCDF(n_components=8, shape=(D,)),
    "MixtureLogisticCDF": lambda: gb.MixtureLogisticCDF(n_components=8, shape=(D,)),
    "HistogramCDF": lambda: gb.HistogramCDF(n_bins=64, shape=(D,), method="linear"),
    "HistogramGaussianCDF": lambda: gb.HistogramGaussianCDF(n_bins=64, shape=(D,)),
    "InverseGaussCDF": lambda: gb.InverseGaussCDF(shape=(D,)),
    "RQSplineMarginal": lambda: gb.RQSplineMarginal(n_bins=8, shape=(D,)),
}
#: Layers whose data side is the unit interval (the others take any real input).
UNIT_INPUT = {"InverseGaussCDF"}
UNIT_OUTPUT = {"HistogramCDF"}


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_default_construction_is_a_valid_bijection(name):
    layer = DEFAULTS[name]()
    assert layer.shape == (D,) and layer.cond_shape is None
    x = 1.5 * jr.normal(jr.key(0), (64, D))
    if name in UNIT_INPUT:
        x = jax.scipy.special.ndtr(x)
    y, log_det = _forward(layer, x)
    assert bool(jnp.all(jnp.isfinite(y))) and bool(jnp.all(jnp.isfinite(log_det)))
    back, inv_log_det = _inverse(layer, y)
    np.testing.assert_allclose(back, x, atol=1e-9)
    np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-9)
    if name in UNIT_OUTPUT:
        assert bool(jnp.all((y > 0) & (y < 1)))
    # Every inexact leaf is a trainable float array, no int or key arrays.
    leaves = jax.tree.leaves(layer)
    assert all(eqx.is_inexact_array(a) for a in leaves if eqx.is_array(a))


def test_default_mixtures_are_close_to_the_identity():
    x = jnp.linspace(-3, 3, 61)[:, None]
    for cls in (gb.MixtureGaussianCDF, gb.MixtureLogisticCDF):
        z = _forward(cls(n_components=8, shape=(1,)), x)[0]
        inner = jnp.abs(x) <= 2
        assert float(jnp.max(jnp.abs(z - x)[inner])) < 0.05
    z = _forward(gb.MixtureGaussianCDF(n_components=1, shape=(1,)), x)[0]
    np.testing.assert_allclose(z, x, atol=1e-12)


FITS = {
    "MixtureGaussianCDF": lambda x: gb.MixtureGaussianCDF.from_data(x, n_components=2),
    "MixtureGaussianCDF[6]": lambda x: gb.MixtureGaussianCDF.from_data(x, 6),
    "HistogramGaussianCDF": lambda x: gb.HistogramGaussianCDF.from_data(x, n_bins=64),
    "RQSplineMarginal": lambda x: gb.RQSplineMarginal.from_data(x, n_bins=8),
}


@pytest.mark.parametrize("name", sorted(FITS))
def test_from_data_gaussianizes_bimodal_data(name):
    x = _bimodal(d=2)
    layer = FITS[name](x)
    assert layer.shape == (2,)
    z, log_det = _forward(layer, x)
    assert bool(jnp.all(jnp.isfinite(z))) and bool(jnp.all(jnp.isfinite(log_det)))
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.1)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=0.05)


def test_from_data_has_the_structure_of_the_constructed_layer():
    x = _bimodal(d=2)
    pairs = [
        (gb.MixtureGaussianCDF.from_data(x, 5), gb.MixtureGaussianCDF(5, (2,))),
        (gb.HistogramCDF.from_data(x, 16), gb.HistogramCDF(16, (2,))),
        (gb.HistogramGaussianCDF.from_data(x, 16), gb.HistogramGaussianCDF(16, (2,))),
        (gb.RQSplineMarginal.from_data(x, 6, 4.0), gb.RQSplineMarginal(6, (2,), 4.0)),
    ]
    for fitted, built in pairs:
        assert jax.tree.structure(fitted) == jax.tree.structure(built)
        shapes = [a.shape if eqx.is_array(a) else a for a in jax.tree.leaves(fitted)]
        assert shapes == [a.shape if eqx.is_array(a) else a for a in jax.tree.leaves(built)]
    spline = gb.RQSplineMarginal(n_bins=6, shape=(2,))
    assert spline.n_bins == 6 and spline.spline.bijection.x_pos.arr.shape == (2, 6)


def test_from_data_is_deterministic():
    x = _bimodal()
    for fit in FITS.values():
        a, b = fit(x), fit(x)
        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(np.asarray(u), np.asarray(v))


def test_spline_is_the_identity_at_init():
    spline = gb.RQSplineMarginal(n_bins=8, shape=(1,), interval=4.0)
    x = jnp.linspace(-6, 6, 301)[:, None]
    z, log_det = _forward(spline, x)
    np.testing.assert_allclose(z, x, atol=1e-12)
    np.testing.assert_allclose(log_det, 0.0, atol=1e-12)


def test_perturbed_spline_is_monotone_with_an_exact_inverse():
    spline = _perturbed(gb.RQSplineMarginal(n_bins=8, shape=(1,), interval=4.0), jr.key(3))
    xs = jnp.linspace(-5, 5, 600)[:, None]
    z = _forward(spline, xs)[0]
    assert bool(jnp.all(jnp.diff(z[:, 0]) > 0))
    assert float(jnp.max(jnp.abs(z - xs))) > 0.1  # really perturbed
    x = jr.uniform(jr.key(4), (3000, 1), minval=-5, maxval=5)
    back = _inverse(spline, _forward(spline, x)[0])[0]
    assert float(jnp.max(jnp.abs(back - x))) < 1e-12


def test_histogram_cdf_matches_the_ecdf_of_its_training_data():
    x = np.random.default_rng(1).exponential(size=(6000, 1))
    hist = gb.HistogramCDF(n_bins=64, shape=(1,), method="linear").fit(jnp.asarray(x))
    u = np.asarray(_forward(hist, jnp.asarray(x))[0])[:, 0]
    ecdf = (np.argsort(np.argsort(x[:, 0])) + 0.5) / len(x)
    assert np.max(np.abs(u - ecdf)) < 0.05
    assert np.mean(np.abs(u - ecdf)) < 0.005
    x_normal = np.random.default_rng(2).normal(size=(6000, 1))
    hist = gb.HistogramCDF.from_data(jnp.asarray(x_normal), n_bins=64)
    u = np.asarray(_forward(hist, jnp.asarray(x_normal))[0])[:, 0]
    ecdf = (np.argsort(np.argsort(x_normal[:, 0])) + 0.5) / len(x_normal)
    assert np.max(np.abs(u - ecdf)) < 0.01


def test_histogram_cdf_log_det_is_the_log_histogram_density():
    x = jnp.asarray(np.random.default_rng(3).normal(size=(5000, 1)))
    hist = gb.HistogramCDF.from_data(x, n_bins=20)
    grid = jnp.linspace(-3, 3, 101)[:, None]
    u, log_det = _forward(hist, grid)
    density = np.exp(np.asarray(log_det))
    # The density integrates to one over the bins and tails, and u is its integral.
    lo, hi = float(x.min()), float(x.max())
    fine = jnp.linspace(lo - 0.2, hi + 0.2, 20001)[:, None]
    f = np.exp(np.asarray(_forward(hist, fine)[1]))
    total = np.trapezoid(f, np.asarray(fine[:, 0]))
    assert abs(total - 1.0) < 2e-3
    assert bool(jnp.all(jnp.diff(u[:, 0]) > 0)) and np.all(density > 0)


def test_histogram_tails_are_finite_far_outside():
    hist = gb.HistogramGaussianCDF.from_data(_bimodal(d=1), n_bins=32)
    plain = gb.HistogramCDF.from_data(_bimodal(d=1), n_bins=32)
    for dtype in (jnp.float32, jnp.float64):
        far = jnp.array([[-1e4], [-1e3], [-30.0], [30.0], [1e3], [1e4]], dtype)
        for layer in (hist, plain):
            layer = jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, layer)
            y, log_det = _forward(layer, far)
            assert y.dtype == dtype
            assert bool(jnp.all(jnp.isfinite(y))) and bool(jnp.all(jnp.isfinite(log_det)))
            assert bool(jnp.all(jnp.diff(y[:, 0]) >= 0))
    z = jnp.array([[-30.0], [-8.0], [0.0], [8.0], [30.0]])
    x, _ = _inverse(hist, z)
    np.testing.assert_allclose(_forward(hist, x)[0], z, rtol=1e-9)


def test_logistic_mixture_round_trip_in_the_tails():
    layer = gb.MixtureLogisticCDF(n_components=8, shape=(1,))
    x = jnp.asarray(np.random.default_rng(4).standard_normal((4000, 1)) * 1.6)
    back = _inverse(layer, _forward(layer, x)[0])[0]
    err = jnp.abs(back - x)
    assert float(err.max()) < 1e-5
    assert float(err[jnp.abs(x) <= 5].max()) < 1e-13


def test_mixture_inverse_gradient_is_the_inverse_slope():
    layer = gb.MixtureGaussianCDF.from_data(_bimodal(n=1000), 6)
    y = jnp.array([[0.3], [-2.0]])
    x, log_dx_dz = _inverse(layer, y)
    inverse_slope = eqx.filter_jit(
        lambda b, v: jax.vmap(jax.grad(lambda w: b.inverse(w).sum()))(v)
    )
    slope = inverse_slope(layer, y)
    expected = jnp.exp(log_dx_dz)[:, None]
    np.testing.assert_allclose(slope, expected, rtol=1e-10)


JACFWD = {
    "MixtureGaussianCDF": lambda: gb.MixtureGaussianCDF.from_data(_bimodal(n=500), 3),
    "MixtureLogisticCDF": lambda: _perturbed(gb.MixtureLogisticCDF(4, (1,)), jr.key(5), 0.5),
    "HistogramCDF": lambda: gb.HistogramCDF.from_data(_bimodal(n=2000), 16),
    "HistogramGaussianCDF": lambda: gb.HistogramGaussianCDF.from_data(_bimodal(n=2000), 16),
    "InverseGaussCDF": lambda: gb.InverseGaussCDF(shape=(1,)),
    "RQSplineMarginal": lambda: _perturbed(gb.RQSplineMarginal(8, (1,), 4.0), jr.key(6)),
}


@eqx.filter_jit
def _log_det_and_jacfwd(layer, grid):
    jac = jax.vmap(lambda v: jnp.linalg.slogdet(jax.jacfwd(layer.transform)(v))[1])(grid)
    return jax.vmap(layer.transform_and_log_det)(grid)[1], jac


@pytest.mark.parametrize("name", sorted(JACFWD))
def test_log_det_matches_jacfwd_on_a_grid(name):
    layer = JACFWD[name]()
    # 200 points: none falls exactly on a spline's interval ends, where flowjax's clip
    # halves the autodiff derivative.
    grid = jnp.linspace(-5, 5, 200)[:, None]
    if name in UNIT_INPUT:
        grid = jax.scipy.special.ndtr(grid)
    log_det, jac = _log_det_and_jacfwd(layer, grid)
    np.testing.assert_allclose(log_det, jac, rtol=1e-10, atol=1e-10)


def test_deprecated_alias_warns_and_builds_the_same_layer():
    from gauss_flows.bijections import marginal

    params = gb.MixtureGaussianCDF.random(jr.key(7), n_dims=2, n_components=3)
    with pytest.warns(DeprecationWarning, match="MixtureGaussianCDF"):
        from gauss_flows.bijections.marginal import MixtureCDFGaussianization
    with pytest.warns(DeprecationWarning):
        assert gb.MixtureCDFGaussianization is MixtureCDFGaussianization
    old = MixtureCDFGaussianization(
        params.logits, params.means, params.log_scales, max_inverse_steps=50
    )
    assert type(old) is gb.MixtureGaussianCDF and isinstance(old, MixtureCDFGaussianization)
    assert old.max_inverse_steps == 50
    for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(params), strict=True):
        np.testing.assert_array_equal(a, b)
    identity = MixtureCDFGaussianization.identity(n_dims=2, n_components=3)
    assert type(identity) is gb.MixtureGaussianCDF
    assert MixtureCDFGaussianization.random(jr.key(0), n_dims=2, n_components=3).shape == (2,)
    assert "MixtureCDFGaussianization" not in gb.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "MixtureCDFGaussianization" not in dir(marginal)
        with pytest.raises(AttributeError):
            marginal.NoSuchName  # noqa: B018


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: gb.MixtureGaussianCDF(n_components=0), ValueError, "n_components"),
        (lambda: gb.MixtureGaussianCDF(shape=3), ValueError, "shape"),
        (lambda: gb.MixtureGaussianCDF(logits=jnp.zeros((2, 3))), ValueError, "all of"),
        (
            lambda: gb.MixtureGaussianCDF(
                n_components=4, logits=jnp.zeros((2, 3)), means=jnp.zeros((2, 3)),
                log_scales=jnp.zeros((2, 3)),
            ),
            ValueError,
            "disagree",
        ),
        (lambda: gb.MixtureLogisticCDF(shape=(0,)), ValueError, "shape"),
        (lambda: gb.HistogramCDF(n_bins=0), ValueError, "n_bins"),
        (lambda: gb.HistogramCDF(method="cubic"), ValueError, "method"),
        (lambda: gb.HistogramCDF(method="monotonic"), NotImplementedError, "monotonic"),
        (lambda: gb.HistogramCDF(tail_mass=0.7), ValueError, "tail_mass"),
        (lambda: gb.HistogramCDF(shape=(2,)).fit(jnp.ones((10, 3))), ValueError, "columns"),
        (lambda: gb.HistogramCDF(shape=(1,)).fit(jnp.ones((10, 1))), ValueError, "constant"),
        (lambda: gb.InverseGaussCDF(shape=(2, 2)), ValueError, "shape"),
        (lambda: gb.RQSplineMarginal(interval=-1.0), ValueError, "interval"),
        (lambda: gb.RQSplineMarginal(n_bins=2.5), ValueError, "n_bins"),
        (lambda: gb.MixtureGaussianCDF.from_data(jnp.ones(5)), ValueError, "2-D"),
    ],
)
def test_bad_arguments_name_the_problem(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_probit_clamps_outside_the_unit_interval():
    probit = gb.InverseGaussCDF(shape=(4,))
    z, log_det = probit.transform_and_log_det(jnp.array([-0.5, 0.0, 1.0, 2.0]))
    assert bool(jnp.all(jnp.isfinite(z))) and bool(jnp.isfinite(log_det))
    assert bool(z[0] == z[1]) and bool(z[2] == z[3]) and bool(z[1] < -30) and bool(z[2] > 8)
    u = jnp.array([1e-300, 1e-10, 0.3, 1 - 1e-10])
    np.testing.assert_allclose(probit.inverse(probit.transform(u)), u, rtol=1e-12)


def test_marginals_compose_in_flowjax_chains_and_flows():
    from flowjax.bijections import Chain, Invert
    from flowjax.distributions import Normal, Transformed

    x = _bimodal(n=500, d=2)
    chain = Chain([
        gb.HistogramCDF.from_data(x, n_bins=32),
        gb.InverseGaussCDF(shape=(2,)),
        gb.RQSplineMarginal(n_bins=4, shape=(2,)),
        gb.MixtureLogisticCDF(n_components=3, shape=(2,)),
    ])
    flow = Transformed(Normal(jnp.zeros(2)), Invert(chain))
    log_prob = jax.jit(jax.vmap(flow.log_prob))(x[:10])
    assert bool(jnp.all(jnp.isfinite(log_prob)))
    samples = eqx.filter_jit(flow.sample)(jr.key(0), (5,))
    assert samples.shape == (5, 2) and bool(jnp.all(jnp.isfinite(samples)))
