"""FFJORD flows in the library's tools: train_flow (with penalties), warm start, inspection."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from flowjax.distributions import Normal, Transformed

import gauss_flows as gf
from gauss_flows.continuous import RegularisedNLL, ode_parameters, warm_start_ffjord


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 2))
    return np.column_stack([z[:, 0], z[:, 1] + 0.8 * z[:, 0] ** 2])


def _cold(d=2):
    vf = gf.DiffeqMLP(jr.key(0), in_dim=d, hidden=(16, 16))
    return Transformed(Normal(jnp.zeros(d)), gf.FFJORD(jr.key(1), shape=(d,), vector_field=vf, rtol=1e-4, atol=1e-4))


@pytest.mark.slow
def test_train_flow_trains_an_ffjord_with_and_without_penalties(data, capsys):
    flow = _cold()
    start = -float(jnp.mean(flow.log_prob(data)))
    trained, log = gf.train_flow(flow, data, steps=40, batch=64, peak_lr=1e-2, log_every=20)
    end = -float(jnp.mean(trained.log_prob(data)))
    assert np.all(np.isfinite(log.loss)) and end < start - 0.05
    penalised, plog = gf.train_flow(flow, data, steps=40, batch=64, peak_lr=1e-2, log_every=20,
                                    loss=RegularisedNLL(kinetic=1.0, jacobian=1.0), progress=True)
    assert np.all(np.isfinite(plog.loss))
    assert "nfe=" in capsys.readouterr().err  # the progress bar counts function evaluations
    # the penalised objective is the NLL plus non-negative terms
    assert float(RegularisedNLL(kinetic=1.0, jacobian=1.0)(penalised, jnp.asarray(data))) >= \
        float(RegularisedNLL()(penalised, jnp.asarray(data)))
    kinetic = lambda f: float(jnp.mean(jax.vmap(f.bijection.inverse_and_penalties)(jnp.asarray(data))[2]))  # noqa: E731
    assert kinetic(penalised) < kinetic(trained)
    with pytest.raises(ValueError, match="loss"):
        gf.train_flow(flow, data, steps=2, loss=lambda f, x: 0.0)
    with pytest.raises(ValueError, match="kinetic"):
        RegularisedNLL(kinetic=-1.0)


def test_penalties_match_their_integrals_for_a_linear_field():
    # f(t, x) = A x with a zero-hidden-layer DiffeqMLP: |J|_F^2 = |A|_F^2 at every t.
    vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=())
    A = vf.layers[0].weight[:, 1:]
    flow = gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf, rtol=1e-9, atol=1e-9)
    _, log_det, kinetic, jacobian = flow.inverse_and_penalties(jnp.array([0.5, -0.3]))
    np.testing.assert_allclose(jacobian, jnp.sum(A**2), rtol=1e-7)
    np.testing.assert_allclose(log_det, -jnp.trace(A), rtol=1e-7)
    assert float(kinetic) > 0


@pytest.mark.slow
def test_warm_start_begins_at_the_greedy_fit_and_trains_the_ode_alone(data):
    greedy = gf.fit_rbig(data, n_layers=3, n_components=4)
    warm = warm_start_ffjord(greedy, jr.key(2), hidden=(16, 16), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(warm.log_prob(data), greedy.log_prob(data), atol=1e-10)
    spec = ode_parameters(warm)
    trained, _ = gf.train_flow(warm, data, steps=30, batch=64, peak_lr=5e-3, trainable=spec, log_every=10)
    # the greedy part is untouched, the ODE moved
    np.testing.assert_array_equal(
        jax.tree.leaves(trained.bijection.bijections[1])[0], jax.tree.leaves(warm.bijection.bijections[1])[0]
    )
    drift = trained.bijection.bijections[0].vector_field
    assert float(jnp.abs(drift.layers[-1].weight).max()) > 0  # the ODE left the identity
    lp = trained.log_prob(data)
    assert bool(jnp.all(jnp.isfinite(lp)))
    assert float(jnp.mean(lp)) > float(jnp.mean(greedy.log_prob(data))) - 0.05


def test_warm_start_is_the_greedy_fit_at_the_start(data):
    greedy = gf.fit_rbig(data, n_layers=2, n_components=3)
    warm = warm_start_ffjord(greedy, jr.key(2), hidden=(8,), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(warm.log_prob(data[:50]), greedy.log_prob(data[:50]), atol=1e-10)
    spec = ode_parameters(warm)
    assert all(jax.tree.leaves(spec.bijection.bijections[0].vector_field))
    assert not any(jax.tree.leaves(spec.bijection.bijections[1]))


def test_inspect_layers_reports_continuous_layers(data):
    cold = _cold()
    table = gf.inspect_layers(cold, data, tc_method="gaussian")
    assert len(table) == 2 and np.all(np.isfinite(table["log_det"]))
    greedy = gf.fit_rbig(data, n_layers=2, n_components=4)
    warm = warm_start_ffjord(greedy, jr.key(2), hidden=(8,))
    table = gf.inspect_layers(warm, data, tc_method="gaussian")
    assert len(table) == 1 + 1 + 2 + 1  # data, standardised, two blocks, the FFJORD
    assert table["log_det"][-1] == pytest.approx(0.0, abs=1e-12)  # the identity ODE
