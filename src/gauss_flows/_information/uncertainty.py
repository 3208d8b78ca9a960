"""Uncertainty of the information measures: a result type and half-sampling standard errors.

Resampling rows *with* replacement (the ordinary bootstrap) repeats rows, and every
repeated row is a tie: zero spacings for the 1-D entropy estimator and a spurious shared
atom for the rank-based dependence estimates. The measures' standard errors therefore
come from subsampling *without* replacement (the delete-``d`` jackknife, or half-sampling
for ``fraction = 0.5``): the estimate is recomputed on ``B`` random subsets of
``m = fraction · n`` rows, and, for an estimator whose variance falls as ``1/n``,

    ``Var(θ̂_m − θ̂_n) = Var(θ̂_n) · (n − m) / m``,

so the standard error of the full-sample estimate is ``sd(θ̂_m) · √(m / (n − m))`` (for
half-samples, just ``sd(θ̂_m)``). The interval is the normal one, ``θ̂ ± z σ̂``, cut to the
range of the measure (``[0, ∞)`` for a divergence or a total correlation).

References:
    Shao, J. & Wu, C. F. J. (1989). A general theory for jackknife variance estimation.
    Annals of Statistics 17(3).
    Politis, D. N. & Romano, J. P. (1994). Large sample confidence regions based on
    subsamples under minimal assumptions. Annals of Statistics 22(4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from gauss_flows._validation import check_int, check_number, check_random_state

__all__ = ["Estimate", "Uncertainty"]


@dataclass(frozen=True)
class Uncertainty:
    """How an information measure states its uncertainty: half-sampling standard errors.

    Passed as ``uncertainty=`` to any information measure, it makes the measure return an
    :class:`Estimate` (value, standard error, interval) instead of a float.

    Attributes:
        n_resamples: Subsamples the estimate is recomputed on (at least 2).
        fraction: Share of the rows in each subsample, in ``(0, 1)``; ``0.5`` is
            half-sampling.
        level: Coverage of the interval, in ``(0, 1)``.
        random_state: Integer that fixes which rows each subsample holds.

    Raises:
        ValueError: If a field is out of its range.

    Example:
        >>> import gauss_flows as gf
        >>> gf.Uncertainty(n_resamples=10).level
        0.95

    References:
        Shao & Wu (1989); Politis & Romano (1994). See
        :mod:`gauss_flows._information.uncertainty`.
    """

    n_resamples: int = 20
    fraction: float = 0.5
    level: float = 0.95
    random_state: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_resamples", check_int("n_resamples", self.n_resamples, least=2))
        for name in ("fraction", "level"):
            object.__setattr__(self, name, check_number(name, getattr(self, name), high=1.0))
        object.__setattr__(self, "random_state", check_random_state(self.random_state))


@dataclass(frozen=True)
class Estimate:
    """An information estimate with its standard error and interval, in nats.

    ``float(estimate)`` is its value, so it can stand where a float is expected.

    Attributes:
        value: The point estimate (an array for a per-column measure such as
            :func:`~gauss_flows.negentropy`).
        stderr: Its standard error (of the same shape).
        interval: ``(low, high)``, the interval at ``level``, cut to the measure's range.
        level: The coverage the interval is made for.

    Example:
        >>> est = Estimate(0.5, 0.02, (0.46, 0.54), 0.95)
        >>> float(est), est.interval[0] <= 0.5 <= est.interval[1]
        (0.5, True)
    """

    value: float | np.ndarray
    stderr: float | np.ndarray
    interval: tuple
    level: float = 0.95

    def __float__(self) -> float:
        return float(self.value)

    def covers(self, truth):
        """Whether ``truth`` lies in the interval (elementwise for an array estimate)."""
        low, high = self.interval
        inside = (np.asarray(low) <= truth) & (truth <= np.asarray(high))
        return bool(inside) if inside.ndim == 0 else inside


def normal_interval(value, stderr, level: float, low: float | None, high: float | None) -> tuple:
    """``value ± z stderr`` at ``level``, cut to ``[low, high]`` (``None``: open).

    Works elementwise on arrays (a per-column measure) as on floats.
    """
    z = float(norm.ppf(0.5 + level / 2.0))
    a, b = np.asarray(value - z * stderr), np.asarray(value + z * stderr)
    if low is not None or high is not None:
        a, b = np.clip(a, low, high), np.clip(b, low, high)
    if a.ndim == 0:
        return float(a), float(b)
    return a, b


def subsample_estimate(
    estimator: Callable[..., float],
    samples: Sequence[np.ndarray],
    value: float,
    uncertainty: Uncertainty,
    *,
    paired: bool,
    min_rows: int,
    low: float | None = 0.0,
    high: float | None = None,
) -> Estimate:
    """The :class:`Estimate` of ``value = estimator(*samples)`` by subsampling rows.

    Args:
        estimator: The measure on validated samples, returning a float.
        samples: Its sample matrices (already validated).
        value: ``estimator(*samples)``, computed by the caller.
        uncertainty: How many subsamples, of which size, at which level.
        paired: Whether the samples share their rows (one subset for all) or are
            independent samples (one subset each).
        min_rows: Fewest rows a subsample may hold.
        low: Lower end of the measure's range (``None``: none).
        high: Upper end of the measure's range (``None``: none).

    Raises:
        ValueError: If a subsample would hold fewer than ``min_rows`` rows.
    """
    rng = np.random.default_rng(uncertainty.random_state)
    hosts = [np.asarray(s) for s in samples]
    sizes = [h.shape[0] for h in hosts]
    ms = [int(round(uncertainty.fraction * n)) for n in sizes]
    for n, m in zip(sizes, ms):
        if m < min_rows or m >= n:
            raise ValueError(
                f"a subsample of fraction {uncertainty.fraction:g} of {n} rows holds {m} rows; "
                f"the standard error needs between {min_rows} and {n - 1} (raise fraction or "
                "give more rows)"
            )
    values: list[np.ndarray] = []
    for _ in range(uncertainty.n_resamples):
        if paired:
            rows = np.sort(rng.choice(sizes[0], ms[0], replace=False))
            subs = [h[rows] for h in hosts]
        else:
            subs = [h[np.sort(rng.choice(n, m, replace=False))] for h, n, m in zip(hosts, sizes, ms)]
        values.append(np.asarray(estimator(*subs), np.float64))
    m, n = ms[0], sizes[0]
    stderr = np.std(np.stack(values), axis=0, ddof=1) * math.sqrt(m / (n - m))
    if stderr.ndim == 0:
        stderr = float(stderr)
    return Estimate(
        value, stderr, normal_interval(value, stderr, uncertainty.level, low, high),
        uncertainty.level,
    )
