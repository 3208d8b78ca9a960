"""Mixture-CDF coupling layer, coupling Gaussianization flow and its greedy warm start."""

import equinox as eqx
import jax
import jax.flatten_util
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import gauss_flows as gf
from gauss_flows.bijections import MixtureGaussianCDFCoupling

DIMS = [2, 3, 5]
SMALL = dict(n_layers=2, n_components=3, nn_width=8, nn_depth=1)


def _data(n_dims: int, n: int = 300, seed: int = 0) -> np.ndarray:
    """Skewed, correlated data."""
    rng = np.random.default_rng(seed)
    z = rng.standard_exponential((n, n_dims)) + 0.3 * rng.normal(size=(n, n_dims))
    return z @ rng.normal(size=(n_dims, n_dims)) * 0.5 + z


def _random_layer(key, n_dims: int, cond_first: bool) -> MixtureGaussianCDFCoupling:
    return MixtureGaussianCDFCoupling.random(
        key, n_dims=n_dims, n_components=3, cond_first=cond_first, nn_width=8, output_scale=1.0
    )


def _gaussianizer(flow):
    return flow.bijection.bijection


@eqx.filter_jit
def _log_prob(flow, x):
    return jax.vmap(flow.log_prob)(x)


@eqx.filter_jit
def _flow_checks(gaussianizer, x):
    """Batched round trip, and one sample's log-determinant beside the Jacobian's."""
    x_back = jax.vmap(gaussianizer.inverse)(jax.vmap(gaussianizer.transform)(x))
    _, log_det = gaussianizer.transform_and_log_det(x[0])
    jac_log_det = jnp.linalg.slogdet(jax.jacobian(gaussianizer.transform)(x[0]))[1]
    return x_back, log_det, jac_log_det


def _to_float32(tree):
    return jax.tree.map(
        lambda a: a.astype(jnp.float32) if eqx.is_inexact_array(a) else a, tree
    )


def _perturb_conditioners(flow, key, scale):
    """Random output weights for every conditioner, so the couplings really couple."""
    for i, k in zip((1, 2), jr.split(key)):
        where = lambda f: _gaussianizer(f).blocks.layers[i].conditioner.layers[-1].weight
        w = where(flow)
        flow = eqx.tree_at(where, flow, w + scale * jr.normal(k, w.shape, w.dtype))
    return flow


@pytest.fixture(scope="module")
def fitted():
    """A greedy coupling fit and its random twin for every tested dimension."""
    out = {}
    for d in DIMS:
        X = _data(d)
        out[d] = (
            X,
            gf.fit_rbig_coupling(X, key=jr.key(1), random_state=0, **SMALL),
            gf.coupling_gaussianization_flow(jr.key(2), n_dims=d, **SMALL),
        )
    return out


# ---- the layer ----


@eqx.filter_jit
def _layer_checks(layer, x):
    """Forward, inverse and the log-determinant from the Jacobian, compiled once per shape."""
    z, log_det = layer.transform_and_log_det(x)
    x_back, inv_log_det = layer.inverse_and_log_det(z)
    jac_log_det = jnp.linalg.slogdet(jax.jacobian(layer.transform)(x))[1]
    return z, log_det, x_back, inv_log_det, jac_log_det


@pytest.mark.parametrize("n_dims", DIMS)
@pytest.mark.parametrize("cond_first", [True, False])
def test_layer_round_trip_and_log_det(n_dims, cond_first):
    layer = _random_layer(jr.key(n_dims), n_dims, cond_first)
    x = jr.normal(jr.key(7), (n_dims,)) * 1.5
    z, log_det, x_back, inv_log_det, jac_log_det = _layer_checks(layer, x)
    np.testing.assert_allclose(x_back, x, atol=1e-10)
    np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-10)
    np.testing.assert_allclose(log_det, jac_log_det, atol=1e-10)
    # The conditioning part passes through unchanged; the rest moves.
    split = n_dims // 2
    keep = slice(0, split) if cond_first else slice(split, None)
    moved = slice(split, None) if cond_first else slice(0, split)
    np.testing.assert_array_equal(z[keep], x[keep])
    assert not np.allclose(z[moved], x[moved])


def test_layer_with_zero_output_weights_is_the_marginal_map():
    k1, k2, k3 = jr.split(jr.key(0), 3)
    logits, means = jr.normal(k1, (3, 4)), jr.normal(k2, (3, 4))
    log_scales = -0.5 + 0.3 * jr.normal(k3, (3, 4))
    coupling = MixtureGaussianCDFCoupling.from_mixture(
        jr.key(5), logits, means, log_scales, n_dims=5, cond_first=True
    )
    marginal = gf.MixtureGaussianCDF(logits=logits, means=means, log_scales=log_scales)
    x = jr.normal(jr.key(9), (5,))
    forward = eqx.filter_jit(lambda layer, v: layer.transform_and_log_det(v))
    z, log_det = forward(coupling, x)
    z_m, log_det_m = forward(marginal, x[2:])
    np.testing.assert_array_equal(z[2:], z_m)
    np.testing.assert_array_equal(log_det, log_det_m)
    # Hidden features are random, so the output weights get a gradient at once.
    grad = eqx.filter_jit(eqx.filter_grad(lambda c: c.transform_and_log_det(x)[1]))(coupling)
    assert float(jnp.abs(grad.conditioner.layers[-1].weight).max()) > 0


def test_offsets_are_bounded():
    layer = _random_layer(jr.key(0), 4, True)
    huge = eqx.tree_at(
        lambda m: m.conditioner.layers[-1].weight, layer, layer.conditioner.layers[-1].weight * 1e6
    )
    for x_cond in (jnp.array([1e4, -1e4]), jnp.array([0.3, 2.0])):
        logits, means, log_scales = huge.mixture_params(x_cond)
        assert jnp.all(jnp.abs(log_scales - huge.log_scales) <= huge.log_scale_bound)
        assert jnp.all(jnp.abs(means - huge.means) <= huge.offset_bound)
        assert jnp.all(jnp.abs(logits - huge.logits) <= huge.offset_bound)


def test_gradients_through_inverse_match_finite_differences():
    layer = _random_layer(jr.key(3), 3, False)
    y = jnp.array([0.4, -1.2, 0.9])
    params, static = eqx.partition(layer, eqx.is_inexact_array)
    flat, unravel = jax.flatten_util.ravel_pytree(params)

    def loss(theta, v):
        x, log_det = eqx.combine(unravel(theta), static).inverse_and_log_det(v)
        return jnp.sum(jnp.sin(x)) + log_det

    g_theta, g_y = jax.jit(jax.grad(loss, argnums=(0, 1)))(flat, y)
    # Central differences in 12 random parameters and in every latent coordinate, batched.
    h = 1e-6
    idx = np.random.default_rng(0).choice(flat.size, size=12, replace=False)
    e_theta = jnp.zeros((12, flat.size)).at[np.arange(12), idx].set(h)
    e_y = h * jnp.eye(3)
    fd = jax.jit(jax.vmap(loss))
    fd_theta = (fd(flat + e_theta, jnp.tile(y, (12, 1))) - fd(flat - e_theta, jnp.tile(y, (12, 1)))) / (2 * h)
    fd_y = (fd(jnp.tile(flat, (3, 1)), y + e_y) - fd(jnp.tile(flat, (3, 1)), y - e_y)) / (2 * h)
    np.testing.assert_allclose(g_theta[idx], fd_theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g_y, fd_y, rtol=1e-5, atol=1e-7)
    assert float(jnp.abs(g_theta[idx]).max()) > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_dims=1), "n_dims >= 2"),
        (dict(n_dims=3, split=3), "split"),
        (dict(n_dims=3, input_bound=0.0), "input_bound"),
    ],
)
def test_layer_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MixtureGaussianCDFCoupling.random(jr.key(0), n_components=2, **kwargs)


def test_numpy_integer_sizes_become_plain_ints():
    """Sizes from NumPy (np.arange grids) build the same flows, with no static NumPy values."""
    import warnings

    sizes = dict(n_dims=3, n_layers=2, n_components=2, nn_width=4, nn_depth=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # equinox warns about arrays set as static
        for build in (gf.coupling_gaussianization_flow, gf.gaussianization_flow):
            chosen = {k: v for k, v in sizes.items() if k in build.__kwdefaults__ or k == "n_dims"}
            plain = build(jr.key(0), **chosen)
            numpy = build(jr.key(0), **{k: np.int64(v) for k, v in chosen.items()})
            assert jax.tree.structure(plain) == jax.tree.structure(numpy)
            for a, b in zip(jax.tree.leaves(plain), jax.tree.leaves(numpy), strict=True):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        layer = MixtureGaussianCDFCoupling.random(jr.key(0), n_dims=np.int64(3), n_components=np.int64(2))
    assert type(layer.shape[0]) is int and type(layer.split) is int
    with pytest.raises(ValueError, match="nn_width must be a positive integer"):
        gf.coupling_gaussianization_flow(jr.key(0), n_dims=3, nn_width=4.0)


def test_layer_rejects_mismatched_parameters():
    mlp = gf.bijections.coupling.conditioner_mlp(jr.key(0), in_size=1, out_size=18, width=4, depth=1)
    wrong = jnp.zeros((3, 3))  # 4 dimensions split 2 + 2: two transformed, not three
    with pytest.raises(ValueError, match="shape"):
        MixtureGaussianCDFCoupling.from_parameters(mlp, wrong, wrong, wrong, n_dims=4)
    zeros = jnp.zeros((2, 3))  # right parameters, but the MLP reads 1 input instead of 2
    with pytest.raises(ValueError, match="conditioner must map 2 inputs"):
        MixtureGaussianCDFCoupling.from_parameters(mlp, zeros, zeros, zeros, n_dims=4)


# ---- the flow and its warm start ----


@pytest.mark.parametrize("n_dims", DIMS)
def test_fit_equals_greedy_fit(fitted, n_dims):
    X, flow, _ = fitted[n_dims]
    greedy = gf.fit_rbig(X, random_state=0, n_layers=2, n_components=3)
    np.testing.assert_allclose(_log_prob(flow, X), _log_prob(greedy, X), rtol=0, atol=1e-6)


@pytest.mark.parametrize("n_dims", DIMS)
def test_fit_has_the_builders_structure(fitted, n_dims):
    _, flow, random = fitted[n_dims]
    assert jax.tree.structure(flow) == jax.tree.structure(random)
    shapes = lambda f: [leaf.shape for leaf in jax.tree.leaves(eqx.filter(f, eqx.is_array))]
    assert shapes(flow) == shapes(random)


# n_dims=3 with random flows is also covered by tests/bijections (the registry).
@pytest.mark.parametrize(
    "n_dims, which", [(2, 1), pytest.param(5, 1, marks=pytest.mark.slow), (3, 2)]
)
def test_flow_round_trip_and_log_det(fitted, n_dims, which):
    X = fitted[n_dims][0]
    x = jnp.asarray(X[:4])
    x_back, log_det, jac_log_det = _flow_checks(_gaussianizer(fitted[n_dims][which]), x)
    np.testing.assert_allclose(x_back, x, atol=1e-8)
    np.testing.assert_allclose(log_det, jac_log_det, atol=1e-8)


def test_hessian_of_log_prob_matches_finite_differences(fitted):
    """Forward over reverse mode through coupling layers whose conditioners really couple."""
    X, flow, _ = fitted[2]
    flow = _perturb_conditioners(flow, jr.key(9), 0.3)
    x = jnp.asarray(X[0])
    hessian = jax.jit(jax.hessian(flow.log_prob))(x)
    score = jax.jit(jax.grad(flow.log_prob))
    eps = 1e-5
    by_differences = jnp.stack(
        [(score(x + eps * e) - score(x - eps * e)) / (2 * eps) for e in jnp.eye(2)]
    )
    np.testing.assert_allclose(hessian, by_differences, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("n_dims", [2, pytest.param(5, marks=pytest.mark.slow)])
def test_finite_log_prob_far_in_the_tails(fitted, n_dims, dtype):
    X, flow, random = fitted[n_dims]
    std = X.std(axis=0)
    centre = X.mean(axis=0)
    far = np.stack(
        [centre + 1e4 * std, centre - 1e4 * std, centre + 1e4 * std * np.eye(n_dims)[0]]
    )
    with jax.enable_x64(dtype == jnp.float64):
        for model in (flow, random):
            model = _to_float32(model) if dtype == jnp.float32 else model
            lp = jax.jit(jax.vmap(model.log_prob))(jnp.asarray(far, dtype))
            assert lp.dtype == dtype
            assert bool(jnp.all(jnp.isfinite(lp))), lp
            assert bool(jnp.all(lp < model.log_prob(jnp.asarray(centre, dtype))))


def test_density_integrates_to_one():
    X = _data(2, n=400)
    flow = gf.fit_rbig_coupling(X, key=jr.key(0), random_state=0, **SMALL)
    # Perturb the conditioners so the coupling (not just the greedy map) is integrated.
    flow = _perturb_conditioners(flow, jr.key(3), 0.5)
    lo, hi = X.min(axis=0) - 8 * X.std(axis=0), X.max(axis=0) + 8 * X.std(axis=0)
    n = 400
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n))
    grid = jnp.asarray(np.column_stack([gx.ravel(), gy.ravel()]))
    mass = float(jnp.exp(_log_prob(flow, grid)).sum()) * np.prod((hi - lo) / (n - 1))
    assert abs(mass - 1.0) < 0.02, mass


def test_reproducible():
    X = _data(3)
    a = gf.fit_rbig_coupling(X, key=jr.key(4), random_state=1, **SMALL)
    b = gf.fit_rbig_coupling(X, key=jr.key(4), random_state=1, **SMALL)
    c = gf.coupling_gaussianization_flow(jr.key(4), n_dims=3, **SMALL)
    d = gf.coupling_gaussianization_flow(jr.key(4), n_dims=3, **SMALL)
    for one, two in ((a, b), (c, d)):
        for u, v in zip(jax.tree.leaves(one), jax.tree.leaves(two)):
            np.testing.assert_array_equal(u, v)
    other = gf.coupling_gaussianization_flow(jr.key(5), n_dims=3, **SMALL)
    assert not np.allclose(_log_prob(other, X[:5]), _log_prob(c, X[:5]))


def test_training_moves_the_conditioners_and_lowers_the_nll():
    X = _data(2, n=400)
    flow = gf.fit_rbig_coupling(X, key=jr.key(0), random_state=0, **SMALL)
    before = -float(_log_prob(flow, X).mean())
    trained, _ = gf.train_flow(flow, X, steps=50, peak_lr=3e-3, batch=128, log_every=50)
    after = -float(_log_prob(trained, X).mean())
    assert after < before
    w = _gaussianizer(trained).blocks.layers[1].conditioner.layers[-1].weight
    assert float(jnp.abs(w).max()) > 0
    # The standardiser is frozen.
    for u, v in zip(
        jax.tree.leaves(_gaussianizer(trained).moments),
        jax.tree.leaves(_gaussianizer(flow).moments),
    ):
        np.testing.assert_array_equal(u, v)


def test_repeated_components_stay_equal_under_training():
    # component_counts=(2,) writes two fitted components in four slots (slot k holds
    # component k mod 2); equal slots get equal gradients, so training keeps them equal.
    X = _data(2, n=400)
    sizes = dict(SMALL, n_components=4)
    flow = gf.fit_rbig_coupling(X, key=jr.key(0), random_state=0, component_counts=(2,), **sizes)
    greedy = gf.fit_rbig(X, random_state=0, component_counts=(2,), n_layers=2, n_components=4)
    np.testing.assert_allclose(_log_prob(flow, X), _log_prob(greedy, X), rtol=0, atol=1e-6)
    trained, _ = gf.train_flow(flow, X, steps=50, peak_lr=3e-3, batch=128, log_every=50)
    for i in (1, 2):
        layer = gf.inspect.block(trained, 0).layers[i]  # the first block's couplings
        w = layer.conditioner.layers[-1].weight
        assert float(jnp.abs(w).max()) > 0  # the conditioner did train
        x_cond = layer._parts(jnp.asarray(X[0]))[0]
        for params in layer.mixture_params(x_cond):
            np.testing.assert_allclose(params[:, :2], params[:, 2:], rtol=1e-12, atol=1e-12)
        assert not np.allclose(layer.means[:, 0], layer.means[:, 1])


@pytest.mark.parametrize(
    "X, message",
    [
        (np.ones((50, 1)) * np.arange(50)[:, None], "at least 2 dimensions"),
        (np.array([[0.0, 1.0], [np.nan, 2.0]] * 20), "NaN"),
        (np.zeros((10, 2, 2)), "2-D"),
        (np.column_stack([np.arange(50.0), np.ones(50)]), "constant"),
    ],
)
def test_fit_rejects_bad_data(X, message):
    with pytest.raises(ValueError, match=message):
        gf.fit_rbig_coupling(X, key=jr.key(0), **SMALL)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_dims=1), "at least 2 dimensions"),
        (dict(n_dims=2, n_layers=0), "n_layers"),
        (dict(n_dims=2, nn_width=0), "nn_width"),
    ],
)
def test_builder_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gf.coupling_gaussianization_flow(jr.key(0), **kwargs)
