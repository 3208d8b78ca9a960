"""The trainer: the seed's loop, compiled; validation, early stopping, bad input."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf


@pytest.fixture(scope="module")
def data():
    X, _ = make_moons(n_samples=600, noise=0.08, random_state=0)
    return jnp.asarray((X - X.mean(0)) / X.std(0))


@pytest.fixture(scope="module")
def flow(data):
    return gf.fit_rbig(data, n_layers=2, n_components=4)


def seed_loop(flow, X, *, steps, peak_lr, clip_norm=1.0, batch=512, seed=1, warmup=0.3):
    """The seed notebook's training loop, verbatim apart from taking X and the warm-up
    fraction (the seed's 0.3 by default) as arguments."""
    params, static = eqx.partition(flow, eqx.is_inexact_array)
    schedule = optax.cosine_onecycle_schedule(
        transition_steps=steps, peak_value=peak_lr, pct_start=warmup
    )
    opt = optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(schedule))
    state = opt.init(params)

    @eqx.filter_jit
    def step(params, state, xb):
        loss, grads = eqx.filter_value_and_grad(
            lambda p: -jnp.mean(jax.vmap(eqx.combine(p, static).log_prob)(xb)))(params)
        updates, state = opt.update(grads, state)
        return eqx.apply_updates(params, updates), state, loss

    key, traj = jr.key(seed), []
    for i in range(steps):
        key, sk = jr.split(key)
        idx = jr.randint(sk, (batch,), 0, X.shape[0])
        params, state, loss = step(params, state, X[idx])
        if i % 25 == 0:
            traj.append(float(loss))
    return eqx.combine(params, static), np.array(traj)


def test_matches_the_seed_loop(flow, data):
    ours, traj = gf.train_flow(flow, data, steps=60, peak_lr=1e-3, batch=128)
    theirs, ref = seed_loop(flow, data, steps=60, peak_lr=1e-3, batch=128)
    assert traj.shape == (3,)
    np.testing.assert_allclose(traj, ref, rtol=1e-8)
    np.testing.assert_allclose(ours.log_prob(data[:20]), theirs.log_prob(data[:20]), rtol=1e-8)


@pytest.mark.parametrize("warmup", [0.0, 0.05])
def test_warmup_matches_the_seed_loop_with_that_schedule(flow, data, warmup):
    _, traj = gf.train_flow(flow, data, steps=100, peak_lr=1e-3, batch=128, warmup=warmup)
    _, ref = seed_loop(flow, data, steps=100, peak_lr=1e-3, batch=128, warmup=warmup)
    _, seed_default = seed_loop(flow, data, steps=100, peak_lr=1e-3, batch=128)
    np.testing.assert_allclose(traj, ref, rtol=1e-8)
    # The first record is the loss before any update; later ones follow the schedule.
    assert np.all(np.abs(traj[1:] - seed_default[1:]) > 1e-6)


def test_training_improves_and_records_validation(flow, data):
    X_val = data[::3]
    trained, traj, val = gf.train_flow(
        flow, data, steps=200, peak_lr=3e-3, batch=128, val_data=X_val, log_every=50
    )
    assert traj.shape == val.shape == (4,)
    nll = lambda f: -float(jnp.mean(f.log_prob(data)))
    assert nll(trained) < nll(flow)
    np.testing.assert_allclose(val[0], -jnp.mean(flow.log_prob(X_val)), rtol=1e-10)


def test_several_monitored_data_sets(flow, data):
    X_val = data[::3]
    monitored = {"training set": data, "held out": X_val}
    trained, traj, val = gf.train_flow(
        flow, data, steps=200, peak_lr=3e-3, batch=128, val_data=monitored, log_every=50
    )
    assert list(val) == ["training set", "held out"]
    _, traj_one, val_one = gf.train_flow(
        flow, data, steps=200, peak_lr=3e-3, batch=128, val_data=X_val, log_every=50
    )
    # Monitoring changes nothing about training: same minibatch losses, same held-out NLL.
    np.testing.assert_allclose(traj, traj_one, rtol=1e-12)
    np.testing.assert_allclose(val["held out"], val_one, rtol=1e-12)
    assert val["training set"].shape == (4,)
    np.testing.assert_allclose(val["training set"][0], -jnp.mean(flow.log_prob(data)), rtol=1e-10)
    # The whole-set NLL at each record lies within minibatch noise of that record's loss.
    assert np.max(np.abs(val["training set"] - traj)) < 0.5


def test_early_stopping_watches_the_first_monitored_set(flow, data):
    X_val = data[::2]
    monitored = {"held out": X_val, "training set": data}
    trained, _, val = gf.train_flow(
        flow, data, steps=2000, peak_lr=0.3, batch=64, val_data=monitored, patience=2,
        log_every=10,
    )
    assert len(val["held out"]) == len(val["training set"]) < 200
    best = -float(jnp.mean(trained.log_prob(X_val)))
    assert best <= val["held out"].min() + 1e-9


def test_standardiser_stays_fixed(flow, data):
    trained, _ = gf.train_flow(flow, data, steps=30, peak_lr=1e-2, batch=64)
    before = jax.tree.leaves(gf.layout.gaussianizer(flow).moments)
    after = jax.tree.leaves(gf.layout.gaussianizer(trained).moments)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_early_stopping_returns_best_held_out(flow, data):
    X_val = data[::2]
    trained, traj, val = gf.train_flow(
        flow, data, steps=2000, peak_lr=0.3, batch=64, val_data=X_val, patience=2, log_every=10
    )
    assert len(val) < 200  # stopped early
    best = -float(jnp.mean(trained.log_prob(X_val)))
    assert best <= val.min() + 1e-9


def test_time_budget_stops_training(flow, data):
    _, traj = gf.train_flow(flow, data, steps=100_000, peak_lr=1e-3, batch=32, time_budget=0.5)
    assert 1 <= len(traj) < 4000


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps=0, peak_lr=1e-3), "steps"),
        (dict(steps=10, peak_lr=-1.0), "peak_lr"),
        (dict(steps=10, peak_lr=float("nan")), "peak_lr"),
        (dict(steps=10, peak_lr=1e-3, batch=0), "batch"),
        (dict(steps=10, peak_lr=1e-3, patience=3), "val_data"),
        (dict(steps=10, peak_lr=1e-3, noise_std=-0.1), "noise_std"),
        (dict(steps=10, peak_lr=1e-3, noise_std=float("nan")), "noise_std"),
        (dict(steps=10, peak_lr=1e-3, noise_std=[0.1, 0.1, 0.1]), "one value per column"),
        (dict(steps=10, peak_lr=1e-3, noise_std="lots"), "noise_std"),
        (dict(steps=10, peak_lr=1e-3, warmup=1.0), "warmup"),
        (dict(steps=10, peak_lr=1e-3, warmup=-0.1), "warmup"),
        (dict(steps=10, peak_lr=1e-3, warmup=float("nan")), "warmup"),
        (dict(steps=10, peak_lr=1e-3, warmup=True), "warmup"),
        (dict(steps=10, peak_lr=1e-3, val_data={}), "empty mapping"),
        (dict(steps=10, peak_lr=1e-3, val_data={0: np.zeros((5, 2))}), "names must be strings"),
        (dict(steps=10, peak_lr=1e-3, val_data={"a": np.zeros((5, 3))}), r"val_data\['a'\]"),
        (dict(steps=10, peak_lr=1e-3, val_data={"a": np.full((5, 2), np.nan)}), "NaN"),
    ],
)
def test_bad_settings(flow, data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gf.train_flow(flow, data, **kwargs)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.array([[0.0, np.nan]] * 10), "NaN"),
        (np.array([[0.0, np.inf]] * 10), "inf"),
        (np.zeros((10, 3)), "3 columns"),
        (np.zeros(10), "2-D"),
    ],
)
def test_bad_data(flow, bad, message):
    with pytest.raises(ValueError, match=message):
        gf.train_flow(flow, bad, steps=5, peak_lr=1e-3)


def test_divergence_warns_and_keeps_last_finite_flow(flow, data):
    with pytest.warns(RuntimeWarning, match="non-finite"):
        trained, traj = gf.train_flow(
            flow, data * 1e300, steps=50, peak_lr=1e-3, batch=16, log_every=10
        )
    assert len(traj) == 0
    np.testing.assert_array_equal(
        np.asarray(trained.log_prob(data[:3])), np.asarray(flow.log_prob(data[:3]))
    )


def test_input_noise_smooths_and_zero_noise_changes_nothing(flow, data):
    plain, plain_nll = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128)
    zero, zero_nll = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128, noise_std=0.0)
    np.testing.assert_array_equal(plain_nll, zero_nll)
    noisy, noisy_nll = gf.train_flow(
        flow, data, steps=50, peak_lr=3e-3, batch=128, noise_std=[0.5, 0.0]
    )
    # The first logged loss is taken before any update: noise on column 0 alone moves it.
    assert noisy_nll[0] != plain_nll[0]
    assert np.all(np.isfinite(noisy_nll))
    # Heavy noise widens the fitted density: lower density at the data than without it.
    heavy, _ = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128, noise_std=1.0)
    assert float(jnp.mean(heavy.log_prob(data))) < float(jnp.mean(plain.log_prob(data))) - 0.1


def test_trainable_filter_keeps_the_other_arrays_fixed(flow, data):
    from gauss_flows.recipe import _all_but_rotations

    def rotation(f):
        return gf.layout.blocks(f)

    spec = _all_but_rotations(flow)
    frozen, traj = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128, trainable=spec)
    everything, _ = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128)
    np.testing.assert_array_equal(rotation(frozen).vectors, rotation(flow).vectors)
    assert not np.array_equal(rotation(everything).vectors, rotation(flow).vectors)
    moved = gf.layout.blocks(frozen).means
    assert not np.array_equal(moved, gf.layout.blocks(flow).means)
    assert jax.tree.structure(frozen) == jax.tree.structure(flow)
    assert traj.shape == (2,) and np.all(np.isfinite(traj))
    with pytest.raises(ValueError, match="nothing to train"):
        gf.train_flow(flow, data, steps=5, peak_lr=1e-3, trainable=lambda leaf: False)
    with pytest.raises(ValueError, match="trainable"):
        gf.train_flow(flow, data, steps=5, peak_lr=1e-3, trainable=[True, False])
