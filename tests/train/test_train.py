"""The trainer: the reference loop, compiled; the log, early stopping, options, bad input."""

import time
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest
from sklearn.datasets import make_moons

import gauss_flows as gf
from gauss_flows.train import TrainingLog, default_optimizer, make_optimizer, mean_nll
from gauss_flows.train._data import noise_per_column
from gauss_flows.train.stopping import EarlyStopping, TimeBudget


@pytest.fixture(scope="module")
def data():
    X, _ = make_moons(n_samples=600, noise=0.08, random_state=0)
    return jnp.asarray((X - X.mean(0)) / X.std(0))


@pytest.fixture(scope="module")
def flow(data):
    return gf.fit_rbig(data, n_layers=2, n_components=4)


def reference_loop(flow, X, *, steps, peak_lr, clip_norm=1.0, batch=512, key=1, warmup=0.3):
    """The notebook's training loop, verbatim apart from taking X and the warm-up
    fraction (0.3 by default) as arguments."""
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

    key, traj = jr.key(key), []
    for i in range(steps):
        key, sk = jr.split(key)
        idx = jr.randint(sk, (batch,), 0, X.shape[0])
        params, state, loss = step(params, state, X[idx])
        if i % 25 == 0:
            traj.append(float(loss))
    return eqx.combine(params, static), np.array(traj)


def nll(f, X):
    return float(mean_nll(f, X))


def test_matches_the_reference_loop(flow, data):
    ours, log = gf.train_flow(flow, data, steps=60, peak_lr=1e-3, batch=128)
    theirs, ref = reference_loop(flow, data, steps=60, peak_lr=1e-3, batch=128)
    assert isinstance(log, TrainingLog)
    assert log.steps.tolist() == [0, 25, 50] and np.issubdtype(log.steps.dtype, np.integer)
    assert log.monitored == {} and log.stopped_early is False and log.best_step is None
    np.testing.assert_allclose(log.loss, ref, rtol=1e-8)
    np.testing.assert_allclose(ours.log_prob(data[:20]), theirs.log_prob(data[:20]), rtol=1e-8)


@pytest.mark.parametrize("warmup", [pytest.param(0.0, marks=pytest.mark.slow), 0.05])
def test_warmup_matches_the_reference_loop_with_that_schedule(flow, data, warmup):
    _, log = gf.train_flow(flow, data, steps=100, peak_lr=1e-3, batch=128, warmup=warmup)
    _, ref = reference_loop(flow, data, steps=100, peak_lr=1e-3, batch=128, warmup=warmup)
    _, default = reference_loop(flow, data, steps=100, peak_lr=1e-3, batch=128)
    np.testing.assert_allclose(log.loss, ref, rtol=1e-8)
    # The first record is the loss before any update; later ones follow the schedule.
    assert np.all(np.abs(log.loss[1:] - default[1:]) > 1e-6)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"val_data": "array"},
        {"val_data": "mapping"},
        {"val_data": "array", "patience": 50},
        {"time_budget": 60.0},
    ],
    ids=["plain", "val array", "val mapping", "patience", "time budget"],
)
def test_always_a_flow_and_a_log(flow, data, options):
    options = dict(options)
    if options.get("val_data") == "array":
        options["val_data"] = data[::3]
    elif options.get("val_data") == "mapping":
        options["val_data"] = {"held out": data[::3], "training set": data}
    result = gf.train_flow(flow, data, steps=40, batch=64, log_every=20, **options)
    assert isinstance(result, tuple) and len(result) == 2
    trained, log = result
    assert isinstance(log, TrainingLog)
    assert jax.tree.structure(trained) == jax.tree.structure(flow)
    assert log.steps.tolist() == [0, 20] and log.loss.shape == (2,)
    expected = {"array": ["val_data"], "mapping": ["held out", "training set"]}
    kind = "mapping" if isinstance(options.get("val_data"), dict) else "array"
    names = expected[kind] if "val_data" in options else []
    assert list(log.monitored) == names
    for name in names:
        assert log[name].shape == (2,)
    assert (log.best_step is not None) == ("patience" in options)


def test_training_improves_and_records_validation(flow, data):
    X_val = data[::3]
    trained, log = gf.train_flow(
        flow, data, steps=200, peak_lr=3e-3, batch=128, val_data=X_val, log_every=50
    )
    assert log.steps.tolist() == [0, 50, 100, 150]
    assert log.loss.shape == log["val_data"].shape == (4,)
    assert nll(trained, data) < nll(flow, data)
    np.testing.assert_allclose(log["val_data"][0], -jnp.mean(flow.log_prob(X_val)), rtol=1e-10)


def test_several_monitored_data_sets(flow, data):
    X_val = data[::3]
    monitored = {"training set": data, "held out": X_val}
    _, log = gf.train_flow(
        flow, data, steps=200, peak_lr=3e-3, batch=128, val_data=monitored, log_every=50
    )
    assert list(log.monitored) == ["training set", "held out"]
    _, log_one = gf.train_flow(
        flow, data, steps=200, peak_lr=3e-3, batch=128, val_data=X_val, log_every=50
    )
    # Monitoring changes nothing about training: same minibatch losses, same held-out NLL.
    np.testing.assert_allclose(log.loss, log_one.loss, rtol=1e-12)
    np.testing.assert_allclose(log["held out"], log_one["val_data"], rtol=1e-12)
    assert log["training set"].shape == (4,)
    np.testing.assert_allclose(log["training set"][0], -jnp.mean(flow.log_prob(data)), rtol=1e-10)
    # The whole-set NLL at each record lies within minibatch noise of that record's loss.
    assert np.max(np.abs(log["training set"] - log.loss)) < 0.5


def test_early_stopping_watches_the_first_monitored_set(flow, data):
    X_val = data[::2]
    monitored = {"held out": X_val, "training set": data}
    trained, log = gf.train_flow(
        flow, data, steps=2000, peak_lr=0.3, batch=64, val_data=monitored, patience=20,
        log_every=10,
    )
    assert len(log["held out"]) == len(log["training set"]) == len(log.steps) < 200
    assert log.stopped_early
    assert nll(trained, X_val) <= log["held out"].min() + 1e-9


def test_early_stopping_returns_best_held_out(flow, data):
    X_val = data[::2]
    trained, log = gf.train_flow(
        flow, data, steps=2000, peak_lr=0.3, batch=64, val_data=X_val, patience=20, log_every=10
    )
    assert log.stopped_early and len(log.steps) < 200
    best = nll(trained, X_val)
    assert best <= log["val_data"].min() + 1e-9
    if log.best_step in log.steps:  # a recorded flow: its record is the best one
        record = int(np.flatnonzero(log.steps == log.best_step)[0])
        np.testing.assert_allclose(log["val_data"][record], best, rtol=1e-10)
        assert log["val_data"][record] == log["val_data"].min()
    # Patience counts steps, rounded up to whole records: 11 steps wait two records, like 20.
    _, rounded = gf.train_flow(
        flow, data, steps=2000, peak_lr=0.3, batch=64, val_data=X_val, patience=11, log_every=10
    )
    np.testing.assert_array_equal(rounded.loss, log.loss)
    assert rounded.best_step == log.best_step
    _, shorter = gf.train_flow(
        flow, data, steps=2000, peak_lr=0.3, batch=64, val_data=X_val, patience=10, log_every=10
    )
    assert shorter.stopped_early and len(shorter.steps) <= len(log.steps)
    np.testing.assert_array_equal(shorter.loss, log.loss[: len(shorter.loss)])


def test_early_stopping_object():
    stopping = EarlyStopping(patience_records=2, params="start")
    assert stopping.best_params == "start" and stopping.best_step == 0
    stops = [stopping.update(v, f"p{i}", step=10 * i) for i, v in enumerate([3.0, 2.0, 2.0, 2.5])]
    assert stops == [False, False, False, True] and stopping.stopped
    assert (stopping.best_params, stopping.best_step, stopping.best_value) == ("p1", 10, 2.0)
    assert stopping.choose(2.0, "last", step=40) == ("p1", 10)  # ties keep the record
    assert stopping.choose(1.0, "last", step=40) == ("last", 40)
    nan_only = EarlyStopping(patience_records=1, params="start")
    assert nan_only.update(float("nan"), "p0", step=0)
    assert nan_only.choose(float("nan"), "last", step=5) == ("start", 0)
    assert not TimeBudget(None).expired() and not TimeBudget(3600.0).expired()
    short = TimeBudget(1e-6)
    time.sleep(0.01)
    assert short.expired()


def test_standardiser_stays_fixed(flow, data):
    trained, _ = gf.train_flow(flow, data, steps=30, peak_lr=1e-2, batch=64)
    before = jax.tree.leaves(gf.layout.gaussianizer(flow).moments)
    after = jax.tree.leaves(gf.layout.gaussianizer(trained).moments)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_time_budget_stops_training(flow, data):
    _, log = gf.train_flow(flow, data, steps=100_000, peak_lr=1e-3, batch=32, time_budget=0.5)
    assert 1 <= len(log.loss) < 4000 and not log.stopped_early


def test_training_log_access_and_repr():
    log = TrainingLog(
        steps=np.array([0, 25]),
        loss=np.array([2.5, 2.0]),
        monitored={"held out": np.array([2.6, 2.2])},
    )
    np.testing.assert_array_equal(log["held out"], [2.6, 2.2])
    with pytest.raises(KeyError, match="'held out'"):
        log["val_data"]
    with pytest.raises(KeyError, match="no val_data"):
        TrainingLog(steps=np.array([0]), loss=np.array([1.0]))["val_data"]
    text = repr(log)
    assert text.startswith("TrainingLog(2 records at steps 0..25")
    assert "held out 2.6 -> 2.2" in text and "best_step=None" in text
    assert repr(TrainingLog(np.zeros(0, int), np.zeros(0))).startswith("TrainingLog(0 records")
    with pytest.raises(AttributeError):
        log.stopped_early = True  # frozen


def test_random_state_and_its_deprecated_name(flow, data):
    _, default = gf.train_flow(flow, data, steps=30, batch=64)
    new, log = gf.train_flow(flow, data, steps=30, batch=64, random_state=7)
    with pytest.warns(DeprecationWarning, match="'seed' is deprecated"):
        old, old_log = gf.train_flow(flow, data, steps=30, batch=64, seed=7)
    np.testing.assert_array_equal(old_log.loss, log.loss)
    np.testing.assert_array_equal(old.log_prob(data[:10]), new.log_prob(data[:10]))
    assert not np.array_equal(default.loss, log.loss)
    with pytest.raises(TypeError, match="random_state"):
        gf.train_flow(flow, data, steps=30, batch=64, random_state=3, seed=7)


def test_unknown_keyword_is_a_type_error(flow, data):
    with pytest.raises(TypeError, match="'bogus'"):
        gf.train_flow(flow, data, steps=5, bogus=1)


def test_a_custom_optimizer_is_used(flow, data):
    # A learning rate of zero: the parameters stay exactly as they are.
    still, log = gf.train_flow(flow, data, steps=30, batch=64, optimizer=optax.sgd(0.0))
    for a, b in zip(jax.tree.leaves(still), jax.tree.leaves(flow)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    _, default = gf.train_flow(flow, data, steps=30, batch=64)
    assert log.loss[0] == default.loss[0]  # the same first minibatch, before any update
    moved, _ = gf.train_flow(flow, data, steps=30, batch=64, optimizer=optax.sgd(1e-2))
    assert not np.array_equal(moved.log_prob(data[:5]), flow.log_prob(data[:5]))
    with pytest.raises(ValueError, match="GradientTransformation"):
        gf.train_flow(flow, data, steps=5, optimizer="adam")


def test_default_optimizer_and_its_deprecated_name():
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([3.0, 4.0])}
    ours = default_optimizer(100, 1e-2, clip_norm=1.0, warmup=0.1)
    with pytest.warns(DeprecationWarning, match="default_optimizer"):
        theirs = make_optimizer(100, 1e-2, 1.0, 0.1)
    schedule = optax.cosine_onecycle_schedule(transition_steps=100, peak_value=1e-2, pct_start=0.1)
    by_hand = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    updates = [
        opt.update(grads, opt.init(params), params)[0]["w"] for opt in (ours, theirs, by_hand)
    ]
    np.testing.assert_array_equal(updates[0], updates[2])
    np.testing.assert_array_equal(updates[1], updates[2])


def test_input_noise_smooths_and_zero_noise_changes_nothing(flow, data):
    plain, plain_log = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128)
    _, zero_log = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128, noise=0.0)
    np.testing.assert_array_equal(plain_log.loss, zero_log.loss)
    _, noisy_log = gf.train_flow(
        flow, data, steps=50, peak_lr=3e-3, batch=128, noise=[0.5, 0.0]
    )
    # The first logged loss is taken before any update: noise on column 0 alone moves it.
    assert noisy_log.loss[0] != plain_log.loss[0]
    assert np.all(np.isfinite(noisy_log.loss))
    # Heavy noise widens the fitted density: lower density at the data than without it.
    heavy, _ = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128, noise=1.0)
    assert nll(heavy, data) > nll(plain, data) + 0.1


def test_noise_is_relative_and_noise_std_its_deprecated_absolute_form(flow, data):
    scaled = data * jnp.array([4.0, 0.25])
    np.testing.assert_array_equal(noise_per_column(0.5, scaled), 0.5 * scaled.std(axis=0))
    np.testing.assert_array_equal(
        noise_per_column([0.5, 0.1], scaled), jnp.array([0.5, 0.1]) * scaled.std(axis=0)
    )
    share = jnp.array([0.3, 0.1])
    _, relative = gf.train_flow(flow, data, steps=30, batch=64, noise=share)
    with pytest.warns(DeprecationWarning, match="'noise_std' is deprecated"):
        _, absolute = gf.train_flow(
            flow, data, steps=30, batch=64, noise_std=share * data.std(axis=0)
        )
    np.testing.assert_array_equal(relative.loss, absolute.loss)
    with pytest.raises(TypeError, match="noise"):
        gf.train_flow(flow, data, steps=5, noise=0.1, noise_std=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(ValueError, match="noise_std must be finite"):
            gf.train_flow(flow, data, steps=5, noise_std=-1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(steps=0), "steps"),
        (dict(steps=10, peak_lr=-1.0), "peak_lr"),
        (dict(steps=10, peak_lr=float("nan")), "peak_lr"),
        (dict(steps=10, clip_norm=0.0), "clip_norm"),
        (dict(steps=10, batch=0), "batch"),
        (dict(steps=10, log_every=0), "log_every"),
        (dict(steps=10, random_state=1.5), "random_state"),
        (dict(steps=10, patience=3), "val_data"),
        (dict(steps=10, patience=0, val_data=np.zeros((5, 2))), "patience"),
        (dict(steps=10, time_budget=0.0), "time_budget"),
        (dict(steps=10, noise=-0.1), "noise"),
        (dict(steps=10, noise=float("nan")), "noise"),
        (dict(steps=10, noise=[0.1, 0.1, 0.1]), "one value per column"),
        (dict(steps=10, noise="lots"), "noise"),
        (dict(steps=10, warmup=1.0), "warmup"),
        (dict(steps=10, warmup=-0.1), "warmup"),
        (dict(steps=10, warmup=float("nan")), "warmup"),
        (dict(steps=10, warmup=True), "warmup"),
        (dict(steps=10, val_data={}), "empty mapping"),
        (dict(steps=10, val_data={0: np.zeros((5, 2))}), "names must be strings"),
        (dict(steps=10, val_data={"a": np.zeros((5, 3))}), r"val_data\['a'\]"),
        (dict(steps=10, val_data={"a": np.full((5, 2), np.nan)}), "NaN"),
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
        gf.train_flow(flow, bad, steps=5)


def test_divergence_warns_and_keeps_last_finite_flow(flow, data):
    """A flow whose loss is NaN from the start: the log still holds step 0's record."""
    broken = eqx.tree_at(
        lambda f: gf.layout.blocks(f).means, flow, replace_fn=lambda m: m.at[0, 0, 0].set(jnp.nan)
    )
    with pytest.warns(RuntimeWarning, match="non-finite at step 0"):
        trained, log = gf.train_flow(
            broken, data, steps=50, peak_lr=1e-3, batch=16, log_every=10, val_data=data[:50]
        )
    assert log.steps.tolist() == [0] and not np.isfinite(log.loss[-1])
    assert log["val_data"].shape == (1,)
    np.testing.assert_array_equal(
        np.asarray(trained.log_prob(data[:3])), np.asarray(broken.log_prob(data[:3]))
    )


def test_trainable_filter_keeps_the_other_arrays_fixed(flow, data):
    from gauss_flows.recipe import _all_but_rotations

    def rotation(f):
        return gf.layout.blocks(f)

    spec = _all_but_rotations(flow)
    frozen, log = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128, trainable=spec)
    everything, _ = gf.train_flow(flow, data, steps=50, peak_lr=3e-3, batch=128)
    np.testing.assert_array_equal(rotation(frozen).vectors, rotation(flow).vectors)
    assert not np.array_equal(rotation(everything).vectors, rotation(flow).vectors)
    moved = gf.layout.blocks(frozen).means
    assert not np.array_equal(moved, gf.layout.blocks(flow).means)
    assert jax.tree.structure(frozen) == jax.tree.structure(flow)
    assert log.loss.shape == (2,) and np.all(np.isfinite(log.loss))
    with pytest.raises(ValueError, match="nothing to train"):
        gf.train_flow(flow, data, steps=5, trainable=lambda leaf: False)
    with pytest.raises(ValueError, match="trainable"):
        gf.train_flow(flow, data, steps=5, trainable=[True, False])


def test_divergence_at_the_first_step_keeps_the_first_record(flow, data):
    """A first update that breaks every parameter still leaves the record of step 0."""
    blow_up = optax.scale(1e30)  # one step takes the parameters far out of range
    with pytest.warns(RuntimeWarning, match="non-finite at step 1"):
        trained, log = gf.train_flow(
            flow, data, steps=40, batch=64, log_every=20, optimizer=blow_up
        )
    assert log.steps.tolist() == [0] and np.isfinite(log.loss[-1])
    np.testing.assert_array_equal(
        np.asarray(trained.log_prob(data[:3])), np.asarray(flow.log_prob(data[:3]))
    )


def test_numpy_integer_settings(flow, data):
    _, log = gf.train_flow(
        flow, data, steps=np.int64(4), batch=np.int64(16), log_every=np.int64(2),
        patience=np.int64(2), val_data=data[:50],
    )
    assert log.steps.tolist() == [0, 2]
    for bad, name in [(np.float64(4.0), "steps"), (True, "steps")]:
        with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
            gf.train_flow(flow, data, steps=bad)


def test_progress_rule(monkeypatch):
    from gauss_flows import _progress

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: True)
    assert _progress.show_progress(None) is True
    monkeypatch.setenv("CI", "true")
    assert _progress.show_progress(None) is False
    assert _progress.show_progress(True) is True and _progress.show_progress(np.True_) is True
    monkeypatch.delenv("CI")
    monkeypatch.setattr(_progress, "_stderr_is_terminal", lambda: False)
    assert _progress.show_progress(None) is False
    with pytest.raises(ValueError, match="progress must be True, False or None"):
        _progress.show_progress("yes")


def test_progress_bar_only_when_shown(flow, data, capsys):
    gf.train_flow(flow, data, steps=4, batch=16, log_every=2)  # stderr is not a terminal
    assert "training" not in capsys.readouterr().err
    gf.train_flow(flow, data, steps=4, batch=16, log_every=2, progress=True)
    assert "training" in capsys.readouterr().err
