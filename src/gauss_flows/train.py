"""Maximum-likelihood training of any flowjax distribution with the seed's optax recipe."""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from flowjax.distributions import AbstractDistribution
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, PyTree
from tqdm.auto import tqdm

from gauss_flows._validation import as_data_matrix
from gauss_flows._compile_mode import native_reductions, training_compiler_options


def _mean_nll(params, static, xb: Array) -> Array:
    return -jnp.mean(eqx.combine(params, static).log_prob(xb))


def _row_sharding(X: Array, batch: int):
    """The sharding to give each minibatch when ``X``'s rows are split across devices."""
    sharding = getattr(X, "sharding", None)
    if not isinstance(sharding, NamedSharding) or not sharding.spec or sharding.spec[0] is None:
        return None
    axes = sharding.spec[0] if isinstance(sharding.spec[0], tuple) else (sharding.spec[0],)
    n_shards = math.prod(sharding.mesh.shape[a] for a in axes)
    if n_shards == 1 or batch % n_shards:
        return None
    return NamedSharding(sharding.mesh, PartitionSpec(sharding.spec[0], None))


# Upper bound on the records' worth of steps run by one compiled call.
_RECORDS_PER_CALL = 20


# The seed's warm-up: the learning rate peaks after this fraction of the steps.
_SEED_WARMUP = 0.3


def make_optimizer(
    steps: int, peak_lr: float, clip_norm: float, warmup: float = _SEED_WARMUP
) -> optax.GradientTransformation:
    """The seed's optimiser: global-norm clipping, then Adam on a one-cycle cosine schedule.

    The learning rate rises from ``peak_lr / 25`` to ``peak_lr`` over the first ``warmup``
    fraction of the steps (optax's ``pct_start``; 0.3 in the seed), then falls to
    ``peak_lr / 25e4`` by a cosine.

    Example:
        >>> from gauss_flows.train import make_optimizer
        >>> optimizer = make_optimizer(steps=3000, peak_lr=1e-3, clip_norm=1.0)
    """
    schedule = optax.cosine_onecycle_schedule(
        transition_steps=steps, peak_value=peak_lr, pct_start=warmup
    )
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(schedule))


@functools.cache
def _compiled_chunk():
    return eqx.filter_jit(_train_chunk, compiler_options=training_compiler_options() or None)


def _train_chunk(
    params, state, key, X, X_val, noise_std, *, static, schedule, batch, n_steps,
    batch_sharding=None,
):
    """``n_steps`` optimiser steps in one compiled scan.

    ``schedule`` is ``(steps, peak_lr, clip_norm, warmup)``: the optimiser is rebuilt from it
    inside the compiled function, so repeated calls with the same settings reuse the
    compilation.
    ``X_val`` is a tuple of monitored data sets (possibly empty).
    Returns the new state and, for logging, the loss of every step and the mean NLL of
    every monitored data set at the chunk's start.
    """
    optimizer = make_optimizer(*schedule)
    val_nll = tuple(_mean_nll(params, static, X_v) for X_v in X_val)

    def step(carry, _):
        params, state, key = carry
        key, sub = jr.split(key)
        idx = jr.randint(sub, (batch,), 0, X.shape[0])
        xb = X[idx]
        if noise_std is not None:
            xb = xb + noise_std * jr.normal(jr.fold_in(sub, 1), xb.shape, xb.dtype)
        if batch_sharding is not None:  # data parallel: each device takes its share of rows
            xb = jax.lax.with_sharding_constraint(xb, batch_sharding)
        loss, grads = eqx.filter_value_and_grad(_mean_nll)(params, static, xb)
        updates, state = optimizer.update(grads, state, params)
        return (eqx.apply_updates(params, updates), state, key), loss

    (params, state, key), losses = jax.lax.scan(step, (params, state, key), length=n_steps)
    return params, state, key, losses, val_nll


def train_flow(
    flow: AbstractDistribution,
    X: ArrayLike,
    *,
    steps: int,
    peak_lr: float,
    clip_norm: float = 1.0,
    batch: int = 512,
    seed: int = 1,
    val_data: ArrayLike | Mapping[str, ArrayLike] | None = None,
    log_every: int = 25,
    progress: bool = False,
    patience: int | None = None,
    time_budget: float | None = None,
    noise_std: ArrayLike = 0.0,
    trainable: Callable[[Any], bool] | PyTree[bool] | None = None,
    warmup: float = _SEED_WARMUP,
) -> (
    tuple[AbstractDistribution, np.ndarray]
    | tuple[AbstractDistribution, np.ndarray, np.ndarray | dict[str, np.ndarray]]
):
    """Train a flow by maximum likelihood: Adam, global-norm clipping, one-cycle cosine LR.

    Minibatches of ``batch`` rows are drawn with replacement. The steps run inside
    compiled ``lax.scan`` chunks of ``log_every`` steps, so there is no per-step Python
    overhead; the training NLL is recorded at every ``log_every``-th step (the minibatch
    loss at that step, before its update), exactly as the seed notebook's loop does, and
    the random minibatches follow the same key sequence as that loop.

    Data parallel: if ``X`` is a row-sharded array
    (``jax.device_put(X, NamedSharding(mesh, P("rows", None)))``), every minibatch is split
    the same way, so each device evaluates its share of the rows and the gradients are
    reduced across devices by XLA; results equal one device's up to reassociation.

    All inexact arrays of the flow are trained (``eqx.is_inexact_array``) unless
    ``trainable`` picks fewer; leaves wrapped with ``paramax.non_trainable`` stay fixed.

    Args:
        flow: Any flowjax distribution, e.g. from :func:`gaussianization_flow` or
            :func:`fit_rbig`.
        X: Training data, shape ``(n_samples, n_dims)``.
        steps: Number of gradient steps.
        peak_lr: Peak learning rate of the one-cycle cosine schedule.
        clip_norm: Global gradient-norm clip.
        batch: Minibatch size.
        seed: Seed of the minibatch sampling.
        val_data: Optional held-out data; its mean NLL is recorded alongside, at every
            record. A mapping of names to data sets records each of them, e.g.
            ``{"training set": X, "held out": X_test}`` for the NLL of the whole training
            set (free of minibatch noise) beside the held-out NLL.
        log_every: Record the NLL every this many steps.
        progress: Show a progress bar.
        patience: With ``val_data``: stop once the held-out NLL has not improved for this
            many records, and return the flow with the best held-out NLL seen (the
            starting flow included); with a mapping, its first data set is the one
            watched. ``None`` trains all ``steps`` and returns the last.
        time_budget: Stop after about this many seconds of training (checked every
            ``log_every`` steps); the schedule still spans ``steps``.
        noise_std: Standard deviation of Gaussian noise added to every minibatch row
            (a scalar, or one value per column): a smoothing regulariser for small data
            sets. 0 (the default) trains on the rows as they are.
        trainable: Which arrays to train, as ``eqx.partition``'s ``filter_spec``: a
            callable on leaves, or a pytree of bools with the flow's structure (or a
            prefix of it). ``None`` trains every inexact array. The others stay exactly
            as they are, and get no optimiser state.
        warmup: Fraction of ``steps`` over which the learning rate rises to ``peak_lr``
            (0.3, the seed's, by default; 0 starts at the peak). A warm start that is
            already close to a good fit can take a short one.

    Returns:
        ``(trained_flow, train_nll)``, or ``(trained_flow, train_nll, val_nll)`` when
        ``val_data`` is given. The trajectories are NumPy arrays with one entry per
        ``log_every`` steps; for a mapping ``val_data``, ``val_nll`` is a dict of such
        arrays with its names. If the loss becomes non-finite, training stops with a
        warning and the flow from before the failing chunk is returned.

    Raises:
        ValueError: For NaN/inf or wrongly shaped data, or invalid settings.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> X = jr.normal(jr.key(0), (256, 2))
        >>> flow = gf.fit_rbig(X, n_layers=2, n_components=4)
        >>> flow, nll = gf.train_flow(flow, X, steps=50, peak_lr=1e-3, batch=64)
        >>> nll.shape
        (2,)
    """
    n_dims = flow.shape[0] if flow.shape else None
    X = as_data_matrix(X, n_dims=n_dims, min_rows=1, check_constant=False)
    monitored = _monitored_data(val_data, X)
    X_val = tuple(monitored.values())
    _check_positive_int("steps", steps)
    _check_positive_int("batch", batch)
    _check_positive_int("log_every", log_every)
    for name, value in (("peak_lr", peak_lr), ("clip_norm", clip_norm)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number; got {value!r}")
    if not (isinstance(warmup, (int, float)) and not isinstance(warmup, bool) and 0 <= warmup < 1):
        raise ValueError(f"warmup must be a fraction of the steps in [0, 1); got {warmup!r}")

    batch_sharding = _row_sharding(X, batch)
    noise = _noise_per_column(noise_std, X.shape[1], X.dtype)
    params, static = _split_trainable(flow, trainable)
    schedule = (int(steps), float(peak_lr), float(clip_norm), float(warmup))
    state = make_optimizer(*schedule).init(params)
    key = jr.key(seed)

    if patience is not None:
        _check_positive_int("patience", patience)
        if not X_val:
            raise ValueError("patience (early stopping) needs val_data")
    if time_budget is not None and not (math.isfinite(time_budget) and time_budget > 0):
        raise ValueError(f"time_budget must be a positive number of seconds; got {time_budget!r}")

    train_nll, val_nll = [], [[] for _ in X_val]
    best_params, best_val, since_best = params, math.inf, 0
    start = time.perf_counter()
    with tqdm(total=steps, disable=not progress, desc="training", unit="step") as bar:
        done = 0
        # Without held-out data or a time budget nothing needs checking between records,
        # so several records' steps run in one call (fewer dispatches and host syncs).
        per_call = 1 if X_val or time_budget is not None else _RECORDS_PER_CALL
        while done < steps:
            n_steps = min(per_call * log_every, steps - done)
            with native_reductions(bool(training_compiler_options())):
                new = _compiled_chunk()(
                    params, state, key, X, X_val, noise,
                    static=static, schedule=schedule, batch=batch, n_steps=n_steps,
                    batch_sharding=batch_sharding,
                )
            losses = np.asarray(new[3])
            if not np.all(np.isfinite(losses)):
                bad = done + int(np.flatnonzero(~np.isfinite(losses))[0])
                warnings.warn(
                    f"training loss became non-finite at step {bad}; stopped and returned the "
                    f"flow from step {done} (try a smaller peak_lr or clip_norm)",
                    RuntimeWarning,
                    stacklevel=2,
                )
                break
            train_nll.extend(float(v) for v in losses[::log_every])
            if X_val:
                for record, value in zip(val_nll, new[4]):  # NLLs of the chunk's starting params
                    record.append(float(value))
                if val_nll[0][-1] < best_val:
                    best_params, best_val, since_best = params, val_nll[0][-1], 0
                else:
                    since_best += 1
            params, state, key = new[:3]
            done += n_steps
            bar.update(n_steps)
            bar.set_postfix(nll=f"{losses[-1]:.3f}")
            if patience is not None and since_best >= patience:
                break
            if time_budget is not None and time.perf_counter() - start > time_budget:
                break

    if patience is not None:
        final_val = float(eqx.filter_jit(_mean_nll)(params, static, X_val[0]))
        if final_val < best_val:
            best_params = params
        params = best_params
    trained = eqx.combine(params, static)
    if val_data is None:
        return trained, np.asarray(train_nll)
    records = {name: np.asarray(v) for name, v in zip(monitored, val_nll)}
    if isinstance(val_data, Mapping):
        return trained, np.asarray(train_nll), records
    return trained, np.asarray(train_nll), records["val_data"]


def _monitored_data(
    val_data: ArrayLike | Mapping[str, ArrayLike] | None, X: Array
) -> dict[str, Array]:
    """``train_flow``'s ``val_data`` as named data sets, each checked against ``X``.

    Empty without ``val_data``; one array is named ``"val_data"``.
    """
    if val_data is None:
        return {}
    single = not isinstance(val_data, Mapping)
    if single:
        val_data = {"val_data": val_data}
    elif not val_data:
        raise ValueError("val_data is an empty mapping; give at least one data set")
    checked = {}
    for name, data in val_data.items():
        if not isinstance(name, str):
            raise ValueError(f"val_data's names must be strings; got {name!r}")
        label = name if single else f"val_data[{name!r}]"
        checked[name] = as_data_matrix(
            data, name=label, n_dims=X.shape[1], min_rows=1, check_constant=False
        ).astype(X.dtype)
    return checked


def _split_trainable(flow, trainable) -> tuple[PyTree, PyTree]:
    """``(params, rest)``: the inexact arrays that ``trainable`` selects, and the others."""
    if trainable is None:
        return eqx.partition(flow, eqx.is_inexact_array)
    try:
        chosen, rest = eqx.partition(flow, trainable)
    except ValueError as error:  # a pytree of bools that does not match the flow
        raise ValueError(f"trainable must be a filter matching the flow's structure: {error}") from None
    params, fixed = eqx.partition(chosen, eqx.is_inexact_array)
    if not jax.tree.leaves(params):
        raise ValueError("trainable selects no inexact array of the flow: nothing to train")
    return params, eqx.combine(rest, fixed)


def _noise_per_column(noise_std: ArrayLike, n_dims: int, dtype) -> Array | None:
    """``noise_std`` as one value per column, or ``None`` when it is zero everywhere."""
    try:
        noise = np.asarray(noise_std, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"noise_std must be a number or an array of numbers; got {noise_std!r}") from None
    if noise.ndim > 1 or (noise.ndim == 1 and noise.shape[0] != n_dims):
        raise ValueError(
            f"noise_std must be a scalar or have one value per column ({n_dims}); "
            f"got shape {noise.shape}"
        )
    if not (np.all(np.isfinite(noise)) and np.all(noise >= 0)):
        raise ValueError(f"noise_std must be finite and non-negative; got {noise_std!r}")
    if not np.any(noise):
        return None
    return jnp.broadcast_to(jnp.asarray(noise, dtype), (n_dims,))


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
