"""Packed time conditions, the TimeTanh gate and the DiffeqMLP vector field."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

import gauss_flows as gf


def test_pack_time_control_shapes_and_values():
    assert gf.pack_time_control(0.25).tolist() == [0.25]
    assert gf.pack_time_control(1.0, jnp.array([2.0, 3.0])).tolist() == [1.0, 2.0, 3.0]
    assert gf.pack_time_control(jnp.zeros(4)).shape == (4, 1)
    assert gf.pack_time_control(jnp.zeros((4, 1)), jnp.ones((4, 2))).shape == (4, 3)
    traced = jax.vmap(lambda t: gf.pack_time_control(t, jnp.ones(2)))(jnp.arange(3.0))
    np.testing.assert_array_equal(traced[:, 0], jnp.arange(3.0))
    with pytest.raises(ValueError, match="control"):
        gf.pack_time_control(0.0, 1.0)


def test_time_tanh_is_zero_at_zero_for_any_parameters():
    gate = gf.TimeTanh(jr.key(0), embedding_dim=8)
    noisy = jax.tree.map(lambda a: a + jr.normal(jr.key(1), a.shape), gate)
    for g in (gate, noisy):
        assert float(g(0.0)) == 0.0 and float(g(jnp.zeros(1))) == 0.0
        assert float(g(0.8)) != 0.0
    assert bool(jnp.isfinite(jax.grad(lambda m: m(0.5))(gate).weights).all())


def test_diffeq_mlp_inputs_controls_and_leaves():
    vf = gf.DiffeqMLP(jr.key(0), in_dim=3, control_dim=0, hidden=(8, 6))
    assert vf.layers[0].in_features == 4 and vf(0.1, jnp.ones(3), None).shape == (3,)
    # an autonomous field ignores a condition passed to it
    np.testing.assert_array_equal(vf(0.1, jnp.ones(3), jnp.ones(5)), vf(0.1, jnp.ones(3), None))
    ctl = gf.DiffeqMLP(jr.key(1), in_dim=3, control_dim=2, hidden=(8,), activation=jax.nn.tanh)
    assert ctl.layers[0].in_features == 2 + 3 + 2
    c = gf.pack_time_control(0.5, jnp.array([1.0, -1.0]))
    assert ctl(0.2, jnp.ones(3), c).shape == (3,)
    with pytest.raises(ValueError, match="needs a condition"):
        ctl(0.2, jnp.ones(3), None)
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        ctl(0.2, jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match="point of shape"):
        vf(0.0, jnp.ones(2), None)
    # only float arrays: an optimiser can be initialised on every array leaf
    assert all(jnp.issubdtype(a.dtype, jnp.floating) for a in jax.tree.leaves(eqx.filter(ctl, eqx.is_array)))
    zero = gf.DiffeqMLP(jr.key(2), in_dim=3, zero_output=True)
    assert float(jnp.abs(zero(0.4, jnp.ones(3), None)).max()) == 0.0
