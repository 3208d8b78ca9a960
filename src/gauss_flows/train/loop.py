"""The training loop: minibatch maximum likelihood in compiled chunks of steps.

The steps run inside compiled ``lax.scan`` chunks, so there is no per-step Python
overhead. Between chunks the loop records the losses, evaluates the monitored data sets
and asks :mod:`~gauss_flows.train.stopping` whether to go on.

Example:
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> X = jr.normal(jr.key(0), (128, 2))
    >>> flow = gf.gaussianization_flow(jr.key(1), n_dims=2, n_layers=1, n_components=2)
    >>> flow, log = gf.train_flow(flow, X, steps=20, batch=32, log_every=10)
    >>> log.steps.tolist()
    [0, 10]
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
import optax
from flowjax.distributions import AbstractDistribution
from jaxtyping import ArrayLike, PyTree
from tqdm.auto import tqdm

from gauss_flows._conditions import as_condition_matrix, require_condition
from gauss_flows._compile_mode import native_reductions, training_compiler_options
from gauss_flows._progress import show_progress
from gauss_flows._validation import (
    as_data_matrix,
    check_int,
    check_number,
    check_random_state,
    reject_unknown_keywords,
    renamed_keyword,
)
from gauss_flows.train._data import monitored_data, noise_per_column, row_sharding, split_trainable
from gauss_flows.train.log import TrainingLog
from gauss_flows.train.losses import AbstractLoss, MeanNLL, partitioned_mean_nll
from gauss_flows.train.optimizer import default_optimizer
from gauss_flows.train.stopping import EarlyStopping, TimeBudget

__all__ = ["train_flow"]

# Most records' worth of steps run by one compiled call. Without monitored data or a
# time budget nothing needs checking between records, so several records run per call.
_RECORDS_PER_CALL = 20

# Rows the loss's progress figures (e.g. a continuous flow's evaluations) are taken on.
_PROGRESS_ROWS = 64

# train_flow's defaults that its deprecated keywords are told apart from.
_DEFAULT_RANDOM_STATE = 1
_NO_NOISE = 0.0


class _Settings(NamedTuple):
    """``train_flow``'s checked loop settings."""

    steps: int
    batch: int
    log_every: int
    schedule: tuple[int, float, float, float]  # default_optimizer's arguments
    patience_records: int | None


def train_flow(
    flow: AbstractDistribution,
    X: ArrayLike,
    *,
    steps: int,
    peak_lr: float = 1e-3,
    clip_norm: float = 1.0,
    batch: int = 512,
    random_state: int = _DEFAULT_RANDOM_STATE,
    val_data: ArrayLike | Mapping[str, ArrayLike] | None = None,
    log_every: int = 25,
    progress: bool | None = None,
    patience: int | None = None,
    time_budget: float | None = None,
    noise: ArrayLike = _NO_NOISE,
    trainable: Callable[[Any], bool] | PyTree[bool] | None = None,
    warmup: float = 0.3,
    optimizer: optax.GradientTransformation | None = None,
    loss: AbstractLoss | None = None,
    condition: ArrayLike | None = None,
    **deprecated: Any,
) -> tuple[AbstractDistribution, TrainingLog]:
    """Train a flow by maximum likelihood on minibatches of ``X``.

    Every step draws ``batch`` rows with replacement (from the key ``jr.key(random_state)``,
    split once per step) and takes one optimiser step on their mean negative
    log-likelihood; by default the optimiser is :func:`default_optimizer` (global-norm
    clipping, then Adam on a one-cycle cosine schedule). Every ``log_every``-th step,
    starting at step 0, the minibatch loss of that step (before its update) is recorded,
    and the mean NLL of every monitored data set under the parameters of that moment.

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
        peak_lr: Peak learning rate of the default optimiser's schedule.
        clip_norm: Global gradient-norm clip of the default optimiser.
        batch: Minibatch size.
        random_state: Integer that fixes the minibatches (and the input noise).
        val_data: Data whose mean NLL is recorded at every record: one data set (named
            ``"val_data"`` in the log), or a mapping of names to data sets, e.g.
            ``{"training set": X, "held out": X_test}`` for the NLL of the whole training
            set (free of minibatch noise) beside the held-out NLL.
        log_every: Record every this many steps.
        progress: Show a progress bar. ``None`` shows it only when standard error is a
            terminal and the ``CI`` environment variable is not set.
        patience: With ``val_data``: stop once the NLL of the (first) monitored data set
            has not improved for this many gradient steps, and return the flow with the
            lowest NLL on it seen (the starting flow included). It is checked at every
            record, so it counts whole records: ``ceil(patience / log_every)``. ``None``
            trains all ``steps`` and returns the last flow.
        time_budget: Stop after about this many seconds of training (checked at every
            record); the schedule still spans ``steps``.
        noise: Standard deviation of Gaussian noise added to every minibatch row, as a
            share of each column's standard deviation in ``X`` (a scalar, or one value per
            column): a smoothing regulariser for small data sets. 0 trains on the rows
            as they are.
        trainable: Which arrays to train, as ``eqx.partition``'s ``filter_spec``: a
            callable on leaves, or a pytree of bools with the flow's structure (or a
            prefix of it). ``None`` trains every inexact array. The others stay exactly
            as they are, and get no optimiser state.
        warmup: Fraction of ``steps`` over which the default optimiser's learning rate
            rises to ``peak_lr`` (0 starts at the peak). A warm start that is already
            close to a good fit can take a short one.
        optimizer: An optax ``GradientTransformation`` to use instead of the default one
            (``peak_lr``, ``clip_norm`` and ``warmup`` are then not used). The same
            object reuses its compiled steps across calls.
        loss: The objective the steps minimise, an :class:`~gauss_flows.train.AbstractLoss`
            (``None``: :class:`~gauss_flows.train.MeanNLL`). For example
            ``gauss_flows.continuous.RegularisedNLL(kinetic=0.01, jacobian=0.01)`` adds the
            kinetic-energy and Jacobian-norm penalties of a continuous flow and shows its
            number of function evaluations in the progress bar. The records and the
            monitored data sets always report the plain mean NLL.
        condition: For a conditional flow (``flow.cond_shape`` set, e.g. from
            ``fit_rbig(X, condition=Y)``): one condition row per row of ``X``, drawn
            with its row into every minibatch; ``val_data`` is then a pair
            ``(X_val, Y_val)`` (or a mapping of names to pairs), so validation and early
            stopping use held-out (x, y) pairs.
        **deprecated: The former names, accepted with a ``DeprecationWarning`` for one
            release: that of ``random_state``, and ``noise_std``, the absolute noise
            standard deviation (``noise`` is relative).

    Returns:
        ``(trained_flow, log)``, ``log`` a :class:`TrainingLog` of the records. If the
        loss becomes non-finite, training stops with a ``RuntimeWarning`` and the flow
        from before the failing chunk is returned; the log keeps the records up to the
        failing step, so it holds at least the record of step 0 (``log.loss[-1]`` always
        exists).

    Raises:
        ValueError: For NaN/inf or wrongly shaped data, or invalid settings; for a
            conditional flow without ``condition`` (or an unconditional one with it), or a
            condition with NaN/inf, the wrong number of columns or of rows.
        TypeError: For an unknown keyword, or a deprecated keyword given with its new
            name.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> X = jr.normal(jr.key(0), (256, 2))
        >>> flow = gf.fit_rbig(X, n_layers=2, n_components=4)
        >>> flow, log = gf.train_flow(flow, X, steps=50, peak_lr=1e-3, batch=64)
        >>> log.steps.tolist(), log.loss.shape
        ([0, 25], (2,))
    """
    random_state = renamed_keyword(
        deprecated, "seed", "random_state", random_state, sentinel=_DEFAULT_RANDOM_STATE
    )
    absolute_noise = "noise_std" in deprecated
    noise = renamed_keyword(deprecated, "noise_std", "noise", noise, sentinel=_NO_NOISE)
    reject_unknown_keywords("train_flow", deprecated)

    n_dims = flow.shape[0] if flow.shape else None
    X = as_data_matrix(X, n_dims=n_dims, min_rows=1, check_constant=False)
    require_condition(flow.cond_shape, condition, "train_flow")
    C = None
    if condition is not None:
        C = as_condition_matrix(
            condition, n_rows=X.shape[0], cond_dim=flow.cond_shape[0]
        ).astype(X.dtype)
    monitored = monitored_data(val_data, X, C)
    settings = _check_settings(
        steps, peak_lr, clip_norm, batch, log_every, warmup, patience, time_budget, monitored,
        optimizer,
    )
    if loss is None:
        loss = MeanNLL()
    elif not isinstance(loss, AbstractLoss):
        raise ValueError(f"loss must be an AbstractLoss (e.g. MeanNLL()); got {loss!r}")
    key = jr.key(check_random_state(random_state))
    noise_std = noise_per_column(
        noise, X, relative=not absolute_noise, name="noise_std" if absolute_noise else "noise"
    )
    params, static = split_trainable(flow, trainable)
    if optimizer is None:
        state = default_optimizer(*settings.schedule).init(params)
    else:
        state = optimizer.init(params)
    early = None
    if settings.patience_records is not None:
        early = EarlyStopping(settings.patience_records, params)

    params, done, records = _run(
        params, state, key, (X, C), monitored, noise_std, static=static, optimizer=optimizer,
        settings=settings, progress=show_progress(progress), early=early,
        budget=TimeBudget(time_budget), loss=loss,
    )
    best_step = None
    if early is not None:
        watched = next(iter(monitored.values()))
        last = float(eqx.filter_jit(partitioned_mean_nll)(params, static, *_pair(watched)))
        params, best_step = early.choose(last, params, done)
    log = TrainingLog(
        steps=np.asarray(records[0], dtype=int),
        loss=np.asarray(records[1]),
        monitored={name: np.asarray(v) for name, v in zip(monitored, records[2])},
        stopped_early=early is not None and early.stopped,
        best_step=best_step,
    )
    return eqx.combine(params, static), log


def _pair(data) -> tuple:
    """A monitored data set as ``(rows, conditions or None)``."""
    return data if isinstance(data, tuple) else (data, None)


def _check_settings(
    steps, peak_lr, clip_norm, batch, log_every, warmup, patience, time_budget, monitored,
    optimizer,
) -> _Settings:
    """``train_flow``'s settings checked, with ``patience`` in records."""
    steps = check_int("steps", steps)
    batch = check_int("batch", batch)
    log_every = check_int("log_every", log_every)
    peak_lr = check_number("peak_lr", peak_lr)
    clip_norm = check_number("clip_norm", clip_norm)
    warmup = check_number("warmup", warmup, high=1.0, low_open=False)
    patience_records = None
    if patience is not None:
        patience_records = -(-check_int("patience", patience) // log_every)  # ceil
        if not monitored:
            raise ValueError("patience (early stopping) needs val_data")
    if time_budget is not None:
        check_number("time_budget", time_budget)
    if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
        raise ValueError(f"optimizer must be an optax GradientTransformation; got {optimizer!r}")
    return _Settings(steps, batch, log_every, (steps, peak_lr, clip_norm, warmup), patience_records)


def _run(params, state, key, X, monitored, noise_std, *, static, optimizer, settings, progress,
         early, budget, loss):
    """The loop over compiled chunks; ``(params, steps done, (steps, losses, monitored))``.

    ``X`` is the pair ``(rows, conditions or None)``.
    """
    X_val = tuple(_pair(v) for v in monitored.values())
    steps, log_every = settings.steps, settings.log_every
    schedule = settings.schedule if optimizer is None else None
    batch_sharding = row_sharding(X[0], settings.batch)
    record_steps, losses, values = [], [], [[] for _ in X_val]
    per_call = 1 if X_val or budget.seconds is not None else _RECORDS_PER_CALL
    done = 0
    with tqdm(total=steps, disable=not progress, desc="training", unit="step") as bar:
        while done < steps:
            n_steps = min(per_call * log_every, steps - done)
            with native_reductions(bool(training_compiler_options())):
                new = _compiled_chunk()(
                    params, state, key, X, X_val, noise_std, static=static, schedule=schedule,
                    optimizer=optimizer, batch=settings.batch, n_steps=n_steps,
                    batch_sharding=batch_sharding, loss=loss,
                )
            chunk_losses = np.asarray(new[3])
            finite = np.isfinite(chunk_losses)
            # The chunk's records up to its first non-finite loss (all of them when there
            # is none); the chunk's first record always, so the log is never empty.
            last = n_steps - 1 if np.all(finite) else int(np.flatnonzero(~finite)[0])
            record_steps.extend(range(done, done + last + 1, log_every))
            losses.extend(float(v) for v in chunk_losses[: last + 1 : log_every])
            for record, value in zip(values, new[4]):  # NLLs of the chunk's starting params
                record.append(float(value))
            if not finite[last]:
                warnings.warn(
                    f"training loss became non-finite at step {done + last}; stopped and "
                    f"returned the flow from step {done} (try a smaller peak_lr or clip_norm)",
                    RuntimeWarning,
                    stacklevel=3,
                )
                break
            stop = early is not None and early.update(values[0][-1], params, done)
            params, state, key = new[:3]
            done += n_steps
            bar.update(n_steps)
            extra = loss.progress(eqx.combine(params, static), *_first_rows(X)) if progress else {}
            bar.set_postfix(loss=f"{chunk_losses[-1]:.3f}", **{k: f"{v:.4g}" for k, v in extra.items()})
            if stop or budget.expired():
                break
    return params, done, (record_steps, losses, values)


def _first_rows(X):
    """The first rows of the pair ``(rows, conditions or None)`` (for progress figures)."""
    rows, conditions = X
    return rows[:_PROGRESS_ROWS], None if conditions is None else conditions[:_PROGRESS_ROWS]


@functools.cache
def _compiled_chunk():
    return eqx.filter_jit(_train_chunk, compiler_options=training_compiler_options() or None)


def _train_chunk(
    params, state, key, X, X_val, noise_std, *, static, schedule, optimizer, batch, n_steps,
    batch_sharding=None, loss=MeanNLL(),
):
    """``n_steps`` optimiser steps in one compiled scan.

    ``optimizer`` is a user's optax transformation, or ``None`` for
    :func:`default_optimizer` rebuilt from ``schedule`` (its arguments) inside the
    compiled function, so that repeated calls with the same settings reuse the
    compilation. ``X`` is the pair ``(rows, conditions or None)``; ``X_val`` is a tuple
    of such pairs, the monitored data sets (possibly empty).
    Returns the new parameters, optimiser state and key, the loss of every step, and the
    mean NLL of every monitored data set at the chunk's start.
    """
    if optimizer is None:
        optimizer = default_optimizer(*schedule)
    X, C = X
    val_nll = tuple(partitioned_mean_nll(params, static, *X_v) for X_v in X_val)

    def step(carry, _):
        params, state, key = carry
        key, sub = jr.split(key)
        idx = jr.randint(sub, (batch,), 0, X.shape[0])
        xb = X[idx]
        cb = None if C is None else C[idx]
        if noise_std is not None:
            xb = xb + noise_std * jr.normal(jr.fold_in(sub, 1), xb.shape, xb.dtype)
        if batch_sharding is not None:  # data parallel: each device takes its share of rows
            xb = jax.lax.with_sharding_constraint(xb, batch_sharding)
        value, grads = eqx.filter_value_and_grad(
            lambda p: loss(eqx.combine(p, static), xb, cb)
        )(params)
        updates, state = optimizer.update(grads, state, params)
        return (eqx.apply_updates(params, updates), state, key), value

    (params, state, key), losses = jax.lax.scan(step, (params, state, key), length=n_steps)
    return params, state, key, losses, val_nll
