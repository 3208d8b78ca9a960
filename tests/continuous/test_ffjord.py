"""FFJORD: the integrated log-density against a finite-step check, Hutchinson, round trips."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from flowjax.distributions import Normal, Transformed

import gauss_flows as gf

D = 3


@pytest.fixture(scope="module")
def field():
    vf = gf.DiffeqMLP(jr.key(0), in_dim=D, control_dim=0, hidden=(16, 16))
    return eqx.tree_at(lambda f: f.layers[-1].weight, vf, 3.0 * vf.layers[-1].weight)


def _rk4_map(vf, x, n_steps=400):
    """The flow map over [0, 1] by n_steps classical Runge-Kutta steps."""
    h = 1.0 / n_steps

    def step(y, k):
        t = k * h
        f = lambda s, v: vf(s, v, None)  # noqa: E731
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

    return jax.lax.scan(step, x, jnp.arange(n_steps))[0]


def test_exact_log_det_matches_a_finite_step_change_of_variables(field):
    flow = gf.FFJORD(jr.key(1), shape=(D,), vector_field=field, rtol=1e-11, atol=1e-11)
    xs = jr.normal(jr.key(2), (4, D))
    y, log_det = jax.vmap(flow.transform_and_log_det)(xs)
    y_rk4 = jax.vmap(lambda x: _rk4_map(field, x))(xs)
    ld_rk4 = jax.vmap(lambda x: jnp.linalg.slogdet(jax.jacfwd(lambda v: _rk4_map(field, v))(x))[1])(xs)
    assert float(jnp.abs(log_det).min()) > 1e-2  # a non-trivial volume change
    np.testing.assert_allclose(y, y_rk4, atol=1e-8)
    np.testing.assert_allclose(log_det, ld_rk4, atol=1e-6)
    z, inv_log_det = jax.vmap(flow.inverse_and_log_det)(y)
    np.testing.assert_allclose(inv_log_det, -log_det, atol=1e-8)
    np.testing.assert_allclose(z, xs, atol=1e-8)


def test_hutchinson_log_det_is_unbiased_over_1000_probes(field):
    x = jr.normal(jr.key(3), (D,))
    exact = gf.FFJORD(jr.key(0), shape=(D,), vector_field=field, rtol=1e-8, atol=1e-8)
    reference = float(exact.transform_and_log_det(x)[1])

    def estimate(key):
        flow = gf.FFJORD(key, shape=(D,), vector_field=field, divergence_mode="hutchinson",
                         rtol=1e-8, atol=1e-8)
        return flow.transform_and_log_det(x)[1]

    estimates = jax.vmap(estimate)(jr.split(jr.key(4), 1000))
    se = float(jnp.std(estimates)) / np.sqrt(1000)
    assert se > 1e-4
    assert abs(float(jnp.mean(estimates)) - reference) < 3 * se


def test_hutchinson_probes_are_fixed_by_the_key(field):
    x = jnp.array([0.2, -0.3, 0.5])
    make = lambda k: gf.FFJORD(k, shape=(D,), vector_field=field,  # noqa: E731
                               divergence_mode="hutchinson", n_hutchinson_samples=2)
    a, b = make(jr.key(0)), make(jr.key(0))
    assert float(a.transform_and_log_det(x)[1]) == float(a.transform_and_log_det(x)[1])
    assert float(a.transform_and_log_det(x)[1]) == float(b.transform_and_log_det(x)[1])
    assert float(a.transform_and_log_det(x)[1]) != float(make(jr.key(1)).transform_and_log_det(x)[1])


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32], ids=["float64", "float32"])
def test_round_trip_at_the_default_tolerances(field, dtype):
    cast = lambda t: jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, t)  # noqa: E731
    flow = cast(gf.FFJORD(jr.key(1), shape=(D,), vector_field=field))
    x = jr.normal(jr.key(5), (64, D)).astype(dtype)
    back = eqx.filter_jit(lambda f, v: jax.vmap(f.inverse)(jax.vmap(f.transform)(v)))(flow, x)
    assert back.dtype == dtype
    tolerance = 1e-5 if dtype == jnp.float64 else 1e-3
    assert float(jnp.max(jnp.abs(back - x))) < tolerance


def test_unconditional_flow_takes_no_condition_and_controlled_flow_needs_one(field):
    flow = gf.FFJORD(jr.key(0), shape=(D,), vector_field=field)
    assert flow.cond_shape is None
    dist = Transformed(Normal(jnp.zeros(D)), flow)
    assert bool(jnp.isfinite(dist.log_prob(jnp.ones(D))))
    ctl = gf.DiffeqMLP(jr.key(1), in_dim=D, control_dim=2, hidden=(8,))
    cflow = gf.FFJORD(jr.key(0), shape=(D,), vector_field=ctl, control_dim=2)
    assert cflow.cond_shape == (3,)
    c = gf.pack_time_control(1.0, jnp.array([0.5, -0.5]))
    y, ld = cflow.transform_and_log_det(jnp.ones(D), c)
    np.testing.assert_allclose(cflow.inverse_and_log_det(y, c)[0], jnp.ones(D), atol=1e-5)
    with pytest.raises(ValueError, match="condition"):
        cflow.transform(jnp.ones(D))


def test_bad_settings_are_named(field):
    make = lambda **kw: gf.FFJORD(jr.key(0), **({"shape": (D,), "vector_field": field} | kw))  # noqa: E731
    for kw, word in [
        ({"divergence_mode": "trace"}, "divergence_mode"),
        ({"solver": "euler"}, "solver"),
        ({"adjoint": "magic"}, "adjoint"),
        ({"rtol": 0.0}, "rtol"),
        ({"atol": float("nan")}, "atol"),
        ({"n_hutchinson_samples": 0}, "n_hutchinson_samples"),
        ({"shape": (D + 1,)}, "in_dim"),
        ({"shape": (D, 1)}, "shape"),
        ({"control_dim": 1}, "control_dim"),
        ({"t_span": (1.0, 1.0)}, "t_span"),
        ({"probe_distribution": "uniform"}, "probe_distribution"),
        ({"vector_field": lambda t, x, c: x}, "AbstractVectorField"),
    ]:
        with pytest.raises(ValueError, match=word):
            make(**kw)
    flow = make()
    with pytest.raises(ValueError, match="shape"):
        flow.transform(jnp.ones(D + 1))


def test_solve_stats_count_function_evaluations(field):
    flow = gf.FFJORD(jr.key(0), shape=(D,), vector_field=field)
    stats = flow.solve_stats(jnp.ones(D))
    assert int(stats["nfe"]) == 6 * int(stats["num_steps"]) + 2
    assert int(stats["num_steps"]) >= 2
