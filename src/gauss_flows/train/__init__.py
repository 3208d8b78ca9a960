"""Maximum-likelihood training of any flowjax distribution.

:func:`train_flow` trains a flow on minibatches of the data in compiled chunks of steps
and returns the trained flow with a :class:`TrainingLog` of its records. The pieces:

* :mod:`~gauss_flows.train.loop`: :func:`train_flow` and its compiled steps;
* :mod:`~gauss_flows.train.optimizer`: :func:`default_optimizer` (clipping, then Adam on
  a one-cycle cosine schedule);
* :mod:`~gauss_flows.train.losses`: :func:`mean_nll`, the objective;
* :mod:`~gauss_flows.train.stopping`: early stopping and the time budget;
* :mod:`~gauss_flows.train.log`: :class:`TrainingLog`.

Example:
    >>> import jax
    >>> import numpy as np
    >>> from gauss_flows import gaussianization_flow, train_flow
    >>> from gauss_flows.train import TrainingLog, mean_nll
    >>> X = np.random.default_rng(0).normal(size=(128, 2))
    >>> start = gaussianization_flow(jax.random.key(1), n_dims=2, n_layers=1, n_components=2)
    >>> flow, log = train_flow(start, X, steps=50, peak_lr=1e-2, batch=64)
    >>> isinstance(log, TrainingLog), bool(mean_nll(flow, X) < mean_nll(start, X))
    (True, True)
"""

from __future__ import annotations

import warnings

import optax

from gauss_flows.train.log import TrainingLog
from gauss_flows.train.loop import train_flow
from gauss_flows.train.losses import AbstractLoss, MeanNLL, mean_nll
from gauss_flows.train.optimizer import default_optimizer

__all__ = ["AbstractLoss", "MeanNLL", "TrainingLog", "default_optimizer", "make_optimizer", "mean_nll", "train_flow"]


def make_optimizer(
    steps: int, peak_lr: float, clip_norm: float = 1.0, warmup: float = 0.3
) -> optax.GradientTransformation:
    """Deprecated name of :func:`default_optimizer`, kept for one release.

    Warns:
        DeprecationWarning: On every call.

    Example:
        >>> import warnings
        >>> from gauss_flows.train import make_optimizer
        >>> with warnings.catch_warnings(record=True):
        ...     optimizer = make_optimizer(steps=100, peak_lr=1e-3, clip_norm=1.0)
    """
    warnings.warn(
        "make_optimizer is deprecated and will be removed in the next release; "
        "use default_optimizer",
        DeprecationWarning,
        stacklevel=2,
    )
    return default_optimizer(steps, peak_lr, clip_norm, warmup)
