"""Both builders, the random flow and the greedy fit: the same object, a valid density."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from sklearn.datasets import make_moons

from _trees import cast

import gauss_flows as gf
from gauss_flows.layout import to_latent as latent


def moons(n=600, seed=0):
    X, _ = make_moons(n_samples=n, noise=0.08, random_state=seed)
    return jnp.asarray((X - X.mean(0)) / X.std(0))


@pytest.fixture(scope="module")
def flows():
    X = moons()
    return {
        "random": gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=3, n_components=4),
        "greedy": gf.fit_rbig(X, n_layers=3, n_components=4, random_state=0),
    }


BUILDERS = ["random", "greedy"]


def test_same_structure_and_leaf_shapes(flows):
    cold, warm = flows["random"], flows["greedy"]
    assert jax.tree.structure(cold) == jax.tree.structure(warm)
    shapes = lambda f: [np.shape(leaf) for leaf in jax.tree.leaves(f)]
    assert shapes(cold) == shapes(warm)
    assert type(cold.bijection).__name__ == type(warm.bijection).__name__ == "Invert"


@pytest.mark.parametrize("name", BUILDERS)
def test_round_trip(name, flows):
    flow = flows[name]
    x = moons(40, seed=3)
    g = flow.bijection  # Invert(G): transform = latent → data
    z = jax.vmap(g.inverse)(x)
    np.testing.assert_allclose(jax.vmap(g.transform)(z), x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", BUILDERS)
def test_log_prob_matches_jacobian(name, flows):
    flow = flows[name]
    gaussianize = flow.bijection.inverse

    @jax.jit
    def both(x):
        z = gaussianize(x)
        expected = jax.scipy.stats.norm.logpdf(z).sum()
        return flow.log_prob(x), expected + jnp.linalg.slogdet(jax.jacobian(gaussianize)(x))[1]

    for x in moons(4, seed=5):
        got, expected = both(x)
        np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize("name", [pytest.param("random", marks=pytest.mark.slow), "greedy"])
def test_hessian_of_log_prob_matches_finite_differences(name, flows):
    """Forward over reverse mode (``jax.hessian``) through the layers, one sample and vmapped."""
    flow = flows[name]
    xs = moons(3, seed=7)
    hessians = jax.jit(jax.vmap(jax.hessian(flow.log_prob)))(xs)
    score = jax.jit(jax.grad(flow.log_prob))
    eps = 1e-5
    for x, hessian in zip(xs, hessians):
        by_differences = jnp.stack(
            [(score(x + eps * e) - score(x - eps * e)) / (2 * eps) for e in jnp.eye(2)]
        )
        np.testing.assert_allclose(hessian, by_differences, rtol=1e-5, atol=1e-6)
    single = jax.jit(jax.hessian(flow.log_prob))(xs[0])  # unbatched: the per-sample code path
    np.testing.assert_allclose(single, hessians[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", BUILDERS)
def test_density_integrates_to_one(name, flows):
    flow = flows[name]
    edge, n = 9.0, 361
    g = jnp.linspace(-edge, edge, n)
    gx, gy = jnp.meshgrid(g, g)
    pts = jnp.stack([gx.ravel(), gy.ravel()], axis=1)
    dens = jnp.exp(jax.jit(jax.vmap(flow.log_prob))(pts))
    cell = (g[1] - g[0]) ** 2
    np.testing.assert_allclose(float(dens.sum() * cell), 1.0, atol=5e-3)


@pytest.mark.parametrize("name", BUILDERS)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_finite_log_prob_far_outside_data(name, dtype, flows):
    # 1e4 standard deviations outside the (standardised) data.
    with jax.enable_x64(dtype == jnp.float64):
        flow = cast(flows[name], dtype)
        far = jnp.array([[1e4, 0.0], [-1e4, 1e4], [0.0, -1e4], [3e3, -7e3], [1e2, 1e2]], dtype)
        lp = flow.log_prob(far)
        assert lp.dtype == dtype
        assert bool(jnp.all(jnp.isfinite(lp))), lp
        assert bool(jnp.all(lp < flow.log_prob(jnp.zeros(2, dtype))))


@pytest.mark.parametrize("name", BUILDERS)
def test_sampling_and_batch_log_prob(name, flows):
    flow = flows[name]
    samples = flow.sample(jr.key(1), (500,))
    assert samples.shape == (500, 2) and bool(jnp.all(jnp.isfinite(samples)))
    lp = flow.log_prob(samples)
    assert lp.shape == (500,) and bool(jnp.all(jnp.isfinite(lp)))
    np.testing.assert_allclose(lp, jax.vmap(flow.log_prob)(samples), rtol=1e-12)


def test_sampling_float32_is_finite_and_round_trips(flows):
    with jax.enable_x64(False):
        flow = cast(flows["greedy"], jnp.float32)
        samples = flow.sample(jr.key(2), (300,))
        assert samples.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(samples)))
        z = jax.vmap(flow.bijection.inverse)(samples)
        back = jax.vmap(flow.bijection.transform)(z)
        np.testing.assert_allclose(back, samples, rtol=1e-4, atol=1e-4)


def test_greedy_latent_is_standard_normal():
    X = moons(2000)
    flow = gf.fit_rbig(X, n_layers=8, n_components=8, random_state=0)
    z = latent(flow, X)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(jnp.cov(z.T), jnp.eye(2), atol=0.1)


def test_builder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_dims"):
        gf.gaussianization_flow(jr.key(0), n_dims=0)
    with pytest.raises(ValueError, match="n_layers"):
        gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=-1)
    with pytest.raises(ValueError, match="n_components"):
        gf.gaussianization_flow(jr.key(0), n_dims=2, n_components=2.5)
