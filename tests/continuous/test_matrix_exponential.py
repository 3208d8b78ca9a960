"""MatrixExponential: closed-form log-det t·tr(W), identity at t = 0, exact inverse."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from flowjax.bijections import Chain
from flowjax.distributions import Normal, Transformed

import gauss_flows as gf


@pytest.fixture(scope="module")
def layer():
    k1, k2 = jr.split(jr.key(0))
    return gf.MatrixExponential(k1, shape=(4,), time_bias_net=gf.TimeTanh(k2, embedding_dim=8), w_init_scale=0.3)


def test_log_det_is_t_trace_w_at_negative_and_positive_times(layer):
    x = jr.normal(jr.key(1), (4,))
    ts = jnp.linspace(-1.0, 1.0, 9)
    forward = lambda v, t: layer.transform(v, gf.pack_time_control(t))  # noqa: E731
    autodiff = jax.vmap(lambda t: jnp.linalg.slogdet(jax.jacrev(forward)(x, t))[1])(ts)
    closed = jax.vmap(lambda t: layer.transform_and_log_det(x, gf.pack_time_control(t))[1])(ts)
    np.testing.assert_allclose(closed, ts * jnp.trace(layer.W), rtol=1e-14)
    np.testing.assert_allclose(autodiff, closed, atol=1e-12)


def test_identity_at_zero_and_round_trip(layer):
    x = jr.normal(jr.key(2), (4,))
    zero = gf.pack_time_control(0.0)
    y, log_det = layer.transform_and_log_det(x, zero)
    np.testing.assert_array_equal(y, x)
    assert float(log_det) == 0.0
    c = gf.pack_time_control(0.9)
    back, inv_ld = layer.inverse_and_log_det(layer.transform(x, c), c)
    np.testing.assert_allclose(back, x, atol=1e-12)
    np.testing.assert_allclose(inv_ld, -0.9 * jnp.trace(layer.W), rtol=1e-14)


def test_trains_in_a_chain_and_needs_its_condition():
    chain = Chain([gf.MatrixExponential(k, shape=(2,), w_init_scale=0.3) for k in jr.split(jr.key(3), 2)])
    dist = Transformed(Normal(jnp.zeros(2)), chain)
    c = jnp.broadcast_to(gf.pack_time_control(1.0), (5, 1))
    grads = eqx.filter_grad(lambda d: -jnp.mean(d.log_prob(jnp.ones((5, 2)), c)))(dist)
    assert all(bool(jnp.isfinite(g).all()) for g in jax.tree.leaves(grads))
    assert dist.sample(jr.key(0), (3,), condition=gf.pack_time_control(1.0)).shape == (3, 2)
    with pytest.raises(ValueError, match="condition"):
        chain.bijections[0].transform_and_log_det(jnp.ones(2))
    with pytest.raises(ValueError, match="shape"):
        gf.MatrixExponential(jr.key(0), shape=(2, 2))
    no_bias = gf.MatrixExponential(jr.key(0), shape=(2,), use_bias=False)
    assert no_bias.b is None
    np.testing.assert_allclose(no_bias.transform(jnp.zeros(2), gf.pack_time_control(1.0)), 0.0)
