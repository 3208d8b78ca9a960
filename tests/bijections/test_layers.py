"""Property tests for every Gaussianization layer: round trip, log-det, tails, gradients."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from _trees import cast

from gauss_flows.bijections import (
    HouseholderRotation,
    MixtureGaussianCDF,
    householder_decomposition,
    householder_product,
)
from gauss_flows.bijections.mixture_cdf import (
    log_ndtri,
    mixture_degaussianize,
    mixture_gaussianize,
)
from gauss_flows._compile_mode import native_reductions


def _marginal(key, d=3, k=5, dtype=jnp.float64):
    return cast(MixtureGaussianCDF.random(key, n_dims=d, n_components=k), dtype)


def _layers(dtype=jnp.float64):
    return {
        "marginal": _marginal(jr.key(0), dtype=dtype),
        "rotation": cast(HouseholderRotation.random(jr.key(1), n_dims=3), dtype),
    }


LAYERS = ["marginal", "rotation"]


@pytest.mark.parametrize("name", LAYERS)
def test_round_trip_float32(name):
    layer = _layers(jnp.float32)[name]
    x = (jr.normal(jr.key(2), (50, 3)) * 2.0).astype(jnp.float32)
    back = jax.vmap(layer.inverse)(jax.vmap(layer.transform)(x))
    assert back.dtype == jnp.float32
    np.testing.assert_allclose(back, x, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_marginal_finite_far_in_tails(dtype):
    layer = _marginal(jr.key(4), dtype=dtype)
    x = jnp.array([[-1e4, 1e4, 0.0], [1e4, -1e4, 1e3], [-3e3, 5e2, -1e4]], dtype)
    z, log_det = jax.vmap(layer.transform_and_log_det)(x)
    assert z.dtype == dtype
    assert bool(jnp.all(jnp.isfinite(z))) and bool(jnp.all(jnp.isfinite(log_det)))
    # Monotone and sign-correct far out: huge negative inputs give negative latents.
    assert bool(jnp.all(jnp.sign(z[:, :2]) == jnp.sign(x[:, :2])))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_marginal_saturates_beyond_every_component(dtype):
    """Inputs whose squared distances overflow (1e30 in float32) map finite and monotone."""
    from gauss_flows.bijections.mixture_cdf import saturation_point

    layer = _marginal(jr.key(4), dtype=dtype)
    big = float(jnp.finfo(dtype).max) / 2
    scales = jnp.array([-big, -1e30, -1e20, -1e3, 0.0, 1e3, 1e20, 1e30, big], dtype)
    x = jnp.stack([scales] * 3, axis=1)

    @eqx.filter_jit
    def both_ways(layer, x):
        z, log_det = jax.vmap(layer.transform_and_log_det)(x)
        return z, log_det, jax.vmap(layer.inverse)(jnp.concatenate([z, x]))

    z, log_det, back = both_ways(layer, x)  # x itself as latents: beyond the saturation
    assert bool(jnp.all(jnp.isfinite(z))) and bool(jnp.all(jnp.isfinite(log_det)))
    assert bool(jnp.all(jnp.diff(z, axis=0) >= 0))  # flat only where it saturates
    assert bool(jnp.all(jnp.abs(z) <= 2 * saturation_point(dtype)))
    assert bool(jnp.all(jnp.isfinite(back)))


def test_marginal_is_monotone_increasing():
    layer = _marginal(jr.key(5))
    x = jnp.linspace(-30, 30, 2001)
    z = jax.vmap(layer.transform)(jnp.stack([x, x, x], axis=1))
    assert bool(jnp.all(jnp.diff(z, axis=0) > 0))


def test_identity_marginal_is_identity():
    layer = MixtureGaussianCDF.identity(n_dims=2, n_components=3)
    x = jnp.array([-7.0, 3.2])
    z, log_det = layer.transform_and_log_det(x)
    np.testing.assert_allclose(z, x, rtol=1e-10)
    np.testing.assert_allclose(log_det, 0.0, atol=1e-10)


def test_log_ndtri_inverts_log_ndtr_deep_in_tail():
    z = jnp.array([-1e4, -300.0, -38.0, -9.0, -1.0, 0.0])
    log_p = jax.scipy.special.log_ndtr(z)
    np.testing.assert_allclose(log_ndtri(log_p), z, rtol=1e-10)
    grad = jax.vmap(jax.grad(log_ndtri))(log_p)
    expected = jnp.exp(log_p - jax.scipy.stats.norm.logpdf(z))
    np.testing.assert_allclose(grad[1:], expected[1:], rtol=1e-6)
    np.testing.assert_allclose(grad[0], 1e-4, rtol=1e-6)  # Mills ratio ≈ 1/|z|


def test_inverse_gradients_match_finite_differences():
    layer = _marginal(jr.key(6), d=2, k=4)
    params = (layer.logits, layer.means, layer.log_scales)
    z = jnp.array([0.7, -1.3])

    @jax.jit
    def f(z, logits, means, log_scales):
        x, log_det = mixture_degaussianize(z, logits, means, log_scales)
        return jnp.sum(jnp.sin(x)) + log_det.sum()

    grads = jax.grad(f, argnums=(0, 1, 2, 3))(z, *params)
    eps = 1e-6
    args = [z, *params]
    for i, g in enumerate(grads):
        flat = args[i].ravel()
        for j in range(0, flat.size, max(1, flat.size // 4)):
            bump = jnp.zeros_like(flat).at[j].set(eps).reshape(args[i].shape)
            up = list(args); up[i] = args[i] + bump
            down = list(args); down[i] = args[i] - bump
            fd = (f(*up) - f(*down)) / (2 * eps)
            np.testing.assert_allclose(g.ravel()[j], fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("native", [False, True], ids=["contractions", "native reductions"])
def test_forward_gradients_match_finite_differences(native):
    """Both written forms of the map's derivative (see ``native_reductions``), batched as a
    training step batches them: gradients in x and the shared parameters, tails included."""
    layer = _marginal(jr.key(7), d=2, k=4)
    params = (layer.logits, layer.means, layer.log_scales)
    x = jnp.array([[0.3, -1.1], [2.5, 0.4], [-30.0, 12.0], [-3.0, 40.0]])
    weights = jnp.array([0.7, -1.3])

    def f(x, logits, means, log_scales):
        z, log_dz_dx = jax.vmap(lambda row: mixture_gaussianize(row, logits, means, log_scales))(x)
        return jnp.sum(jnp.sin(z) * weights) + jnp.sum(log_dz_dx)

    with native_reductions(native):
        grads = jax.jit(jax.grad(f, argnums=(0, 1, 2, 3)))(x, *params)
    with native_reductions(not native):
        other = jax.jit(jax.grad(f, argnums=(0, 1, 2, 3)))(x, *params)
    for g, h in zip(grads, other, strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    args = [x, *params]
    for i, g in enumerate(grads):
        flat = args[i].ravel()
        for j in range(flat.size):
            bump = jnp.zeros_like(flat).at[j].set(eps).reshape(args[i].shape)
            up = list(args); up[i] = args[i] + bump
            down = list(args); down[i] = args[i] - bump
            fd = (f(*up) - f(*down)) / (2 * eps)
            np.testing.assert_allclose(g.ravel()[j], fd, rtol=1e-5, atol=1e-6)


def test_householder_decomposition_is_exact():
    for d in (1, 2, 3, 7, 40):  # 40: above the unrolled sizes, the compact (UT) product
        q, _ = np.linalg.qr(np.random.default_rng(d).normal(size=(d, d)))
        rot = HouseholderRotation.from_matrix(q)
        np.testing.assert_allclose(rot.matrix, q, atol=1e-12)
        vectors, signs = householder_decomposition(q)
        np.testing.assert_allclose(householder_product(vectors, signs), q, atol=1e-12)



def test_compact_householder_product_equals_the_reflections_in_turn():
    """Above the unrolled sizes the product is formed as I − U T⁻¹ Uᵀ; it must equal
    applying the reflections one by one, and stay orthogonal, for arbitrary vectors."""
    d = 40
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(d, d))
    signs = np.where(rng.normal(size=d) > 0, 1, -1).astype(np.int32)
    expected = np.eye(d)
    for v in vectors:
        u = v / np.linalg.norm(v)
        expected = expected - 2.0 * np.outer(expected @ u, u)
    expected = expected * signs
    q = np.asarray(householder_product(jnp.asarray(vectors), jnp.asarray(signs)))
    np.testing.assert_allclose(q, expected, atol=1e-12)
    np.testing.assert_allclose(q.T @ q, np.eye(d), atol=1e-12)

def test_rotation_rejects_non_orthogonal_matrix():
    with pytest.raises(ValueError, match="not orthogonal"):
        HouseholderRotation.from_matrix(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        HouseholderRotation.from_matrix(np.ones((2, 3)))


def test_rotation_signs_are_not_trainable():
    rot = HouseholderRotation.random(jr.key(0), n_dims=4)
    params, _ = eqx.partition(rot, eqx.is_inexact_array)
    assert params.signs is None and params.params is not None


@pytest.mark.parametrize("d", [1, 2, 3, 7, 40])
def test_host_householder_decomposition_rebuilds_the_matrix(d):
    from gauss_flows.bijections.rotation import householder_decomposition_host

    rng = np.random.default_rng(d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    for matrix in (q, -q, np.eye(d)[rng.permutation(d)], np.eye(d)):
        vectors, signs = householder_decomposition_host(matrix)
        assert vectors.shape == (d, d) and signs.dtype == np.int32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(
            np.asarray(householder_product(jnp.asarray(vectors), jnp.asarray(signs))), matrix,
            atol=1e-12,
        )
