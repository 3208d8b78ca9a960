"""Information measures of a fitted density model, by Monte Carlo with standard errors.

A fitted flow (any flowjax distribution with ``sample`` and ``log_prob``, such as the
``Transformed`` that :func:`~gauss_flows.fit_rbig` or :func:`~gauss_flows.fit_density`
returns) gives its joint density exactly, so

* ``H(p) = −E_p log p(X)`` and ``KL(p ‖ q) = E_p[log p(X) − log q(X)]`` are plain Monte
  Carlo means over samples of the model, with standard error ``sd / √n``;
* ``TC(p) = Σᵢ H(Xᵢ) − H(X)`` and ``I(X_A; X_B) = TC(X) − TC(X_A) − TC(X_B)`` also need
  what the model does not give in closed form, the marginal entropies ``H(Xᵢ)`` (by the
  bias-corrected spacing estimator on the model's samples, accurate at Monte Carlo sizes)
  and, for blocks of more than one column, ``TC(X_A)`` and ``TC(X_B)`` (by
  :func:`~gauss_flows.total_correlation` on the samples). Their standard error is that of
  batch means: the measure is recomputed on ``n_batches`` disjoint batches of the samples,
  and ``sd(batch values) / √n_batches`` is the standard error of the whole.

These measure the *model*: they equal the data's measures only as far as the fit is good.

Example:
    >>> import jax.numpy as jnp
    >>> import gauss_flows as gf
    >>> from flowjax.distributions import Normal
    >>> est = gf.flow_entropy(Normal(jnp.zeros(2)), n_samples=20000)
    >>> est.covers(float(jnp.log(2 * jnp.pi * jnp.e)))
    True

References:
    Papamakarios, G., Nalisnick, E., Rezende, D. J., Mohamed, S. & Lakshminarayanan, B.
    (2021). Normalizing flows for probabilistic modeling and inference. JMLR 22(57).
    Laparra, V., Johnson, J. E., Camps-Valls, G., Santos-Rodríguez, R. & Malo, J. (2020).
    Information theory measures via multidimensional Gaussianization. arXiv:2010.03807.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flowjax.distributions import AbstractDistribution

from gauss_flows._information.entropy1d import check_spacing, spacing_entropy
from gauss_flows._information.settings import InformationSettings
from gauss_flows._information.uncertainty import Estimate, normal_interval
from gauss_flows._validation import check_int, check_number, check_random_state
from gauss_flows.information import total_correlation

__all__ = [
    "flow_entropy",
    "flow_kl_divergence",
    "flow_mutual_information",
    "flow_total_correlation",
]


def _check_flow(flow: object, name: str = "flow") -> int:
    """The dimension of an unconditional 1-D-event flowjax distribution, or an error."""
    if not isinstance(flow, AbstractDistribution):
        raise TypeError(
            f"{name} must be a flowjax distribution (such as fit_rbig's Transformed); got "
            f"{type(flow).__name__}"
        )
    if flow.cond_shape is not None:
        raise ValueError(f"{name} is conditional (cond_shape {flow.cond_shape}); its measures need "
                         "a condition, which these functions do not take")
    if len(flow.shape) != 1:
        raise ValueError(f"{name} must have vector events, shape (n_dims,); got {flow.shape}")
    return int(flow.shape[0])


def _options(n_samples: object, level: object, random_state: object, least: int) -> tuple:
    n = check_int("n_samples", n_samples, least=least)
    level = check_number("level", level, high=1.0)
    return n, level, check_random_state(random_state)


def _draw(flow: AbstractDistribution, n: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of ``flow`` and their log-densities, as float64 host arrays."""
    x, log_p = flow.sample_and_log_prob(jr.key(random_state), (n,))
    x, log_p = np.asarray(x, np.float64), np.asarray(log_p, np.float64)
    if not np.all(np.isfinite(log_p)) or not np.all(np.isfinite(x)):
        raise ValueError(
            "the flow produced non-finite samples or log-densities; its measures are undefined "
            "(is it trained to a degenerate density?)"
        )
    return x, log_p


def _mean_estimate(terms: np.ndarray, level: float, low: float | None) -> Estimate:
    value = float(np.mean(terms))
    stderr = float(np.std(terms, ddof=1) / math.sqrt(terms.size))
    shown = value if low is None else max(value, low)
    return Estimate(shown, stderr, normal_interval(value, stderr, level, low, None), level)


def _batch_estimate(
    measure: Callable[[np.ndarray, np.ndarray], float],
    x: np.ndarray,
    log_p: np.ndarray,
    n_batches: int,
    level: float,
) -> Estimate:
    """``measure`` on all samples, with the batch-means standard error."""
    value = max(float(measure(x, log_p)), 0.0)
    parts = np.array_split(np.arange(x.shape[0]), n_batches)
    batches = np.array([measure(x[p], log_p[p]) for p in parts])
    stderr = float(np.std(batches, ddof=1) / math.sqrt(n_batches))
    return Estimate(value, stderr, normal_interval(value, stderr, level, 0.0, None), level)


def flow_entropy(
    flow: AbstractDistribution,
    *,
    n_samples: int = 10_000,
    level: float = 0.95,
    random_state: int = 0,
) -> Estimate:
    """Differential entropy ``H(p) = −E_p log p(X)`` of a fitted flow, by Monte Carlo.

    Args:
        flow: The model (an unconditional flowjax distribution with vector events).
        n_samples: Monte Carlo samples (at least 20).
        level: Coverage of the interval.
        random_state: Integer that fixes the samples.

    Returns:
        An :class:`~gauss_flows.Estimate` (standard error ``sd(log p) / √n``).

    Raises:
        TypeError: If ``flow`` is not a flowjax distribution.
        ValueError: For a conditional flow, bad options or non-finite samples.

    Example:
        >>> import jax.numpy as jnp
        >>> import gauss_flows as gf
        >>> from flowjax.distributions import Normal
        >>> round(gf.flow_entropy(Normal(jnp.zeros(1)), n_samples=50000).value, 2)
        1.42

    References:
        See :mod:`gauss_flows.information_flow`.
    """
    _check_flow(flow)
    n, level, seed = _options(n_samples, level, random_state, 20)
    _, log_p = _draw(flow, n, seed)
    return _mean_estimate(-log_p, level, None)


def flow_kl_divergence(
    p: AbstractDistribution,
    q: AbstractDistribution,
    *,
    n_samples: int = 10_000,
    level: float = 0.95,
    random_state: int = 0,
) -> Estimate:
    """``KL(p ‖ q) = E_p[log p(X) − log q(X)]`` between two models, by Monte Carlo.

    Args:
        p: The model the expectation is under.
        q: The other model (same event shape).
        n_samples: Monte Carlo samples from ``p`` (at least 20).
        level: Coverage of the interval.
        random_state: Integer that fixes the samples.

    Returns:
        An :class:`~gauss_flows.Estimate`; its value and interval are cut at 0.

    Raises:
        TypeError: If ``p`` or ``q`` is not a flowjax distribution.
        ValueError: For different dimensions, conditional models, bad options, or a
            sample of ``p`` where ``q`` has no density (``KL`` infinite).

    Example:
        >>> import jax.numpy as jnp
        >>> import gauss_flows as gf
        >>> from flowjax.distributions import Normal
        >>> est = gf.flow_kl_divergence(Normal(jnp.full(2, 0.5)), Normal(jnp.zeros(2)))
        >>> est.covers(0.25)
        True

    References:
        See :mod:`gauss_flows.information_flow`.
    """
    d_p, d_q = _check_flow(p, "p"), _check_flow(q, "q")
    if d_p != d_q:
        raise ValueError(f"p and q must have the same dimension; got {d_p} and {d_q}")
    n, level, seed = _options(n_samples, level, random_state, 20)
    x, log_p = _draw(p, n, seed)
    log_q = np.asarray(q.log_prob(jnp.asarray(x)), np.float64)
    if not np.all(np.isfinite(log_q)):
        raise ValueError(
            "q gives a sample of p zero (or non-finite) density: KL(p ‖ q) is infinite"
        )
    return _mean_estimate(log_p - log_q, level, 0.0)


def _marginal_entropies(x: np.ndarray, settings: InformationSettings) -> float:
    m = check_spacing(settings.spacing, x.shape[0])
    return float(np.sum(np.asarray(spacing_entropy(jnp.asarray(x), m))))


def _block_tc(x: np.ndarray, settings: InformationSettings) -> float:
    return 0.0 if x.shape[1] < 2 else float(total_correlation(x, settings=settings))


def flow_total_correlation(
    flow: AbstractDistribution,
    *,
    n_samples: int = 20_000,
    n_batches: int = 10,
    settings: InformationSettings | None = None,
    level: float = 0.95,
    random_state: int = 0,
) -> Estimate:
    """Total correlation ``Σᵢ H(Xᵢ) − H(X)`` of a fitted flow.

    ``H(X)`` is the Monte Carlo mean of ``−log p``; the marginal entropies are spacing
    estimates on the same samples (the flow has no closed-form marginals).

    Args:
        flow: The model (an unconditional flowjax distribution with vector events).
        n_samples: Monte Carlo samples (at least ``20 · n_batches``).
        n_batches: Disjoint batches for the standard error (at least 2).
        settings: The 1-D entropy spacing (:class:`~gauss_flows.InformationSettings`).
        level: Coverage of the interval.
        random_state: Integer that fixes the samples.

    Returns:
        An :class:`~gauss_flows.Estimate` (batch-means standard error), never negative.

    Raises:
        TypeError: If ``flow`` is not a flowjax distribution.
        ValueError: For a conditional flow, bad options or non-finite samples.

    Example:
        >>> import jax.numpy as jnp
        >>> import gauss_flows as gf
        >>> from flowjax.distributions import Normal
        >>> gf.flow_total_correlation(Normal(jnp.zeros(3))).value < 0.02
        True

    References:
        See :mod:`gauss_flows.information_flow`.
    """
    _check_flow(flow)
    n_batches = check_int("n_batches", n_batches, least=2)
    n, level, seed = _options(n_samples, level, random_state, 20 * n_batches)
    s = settings if settings is not None else InformationSettings()
    x, log_p = _draw(flow, n, seed)

    def measure(x: np.ndarray, log_p: np.ndarray) -> float:
        return _marginal_entropies(x, s) + float(np.mean(log_p))

    return _batch_estimate(measure, x, log_p, n_batches, level)


def flow_mutual_information(
    flow: AbstractDistribution,
    d_x: int,
    *,
    n_samples: int = 20_000,
    n_batches: int = 10,
    settings: InformationSettings | None = None,
    level: float = 0.95,
    random_state: int = 0,
) -> Estimate:
    """``I(X; Y)`` between the first ``d_x`` coordinates of a fitted flow and the rest.

    ``TC(X, Y) − TC(X) − TC(Y)``: the joint total correlation from the flow's density
    (:func:`flow_total_correlation`), those of the blocks from the flow's samples
    (:func:`~gauss_flows.total_correlation`; 0 for a one-column block).

    Args:
        flow: The model (an unconditional flowjax distribution with vector events).
        d_x: Dimension of ``X``, between 1 and ``n_dims − 1``.
        n_samples: Monte Carlo samples (at least ``20 · n_batches``).
        n_batches: Disjoint batches for the standard error (at least 2).
        settings: How the sample-based parts estimate
            (:class:`~gauss_flows.InformationSettings`).
        level: Coverage of the interval.
        random_state: Integer that fixes the samples.

    Returns:
        An :class:`~gauss_flows.Estimate` (batch-means standard error), never negative.

    Raises:
        TypeError: If ``flow`` is not a flowjax distribution.
        ValueError: For a ``d_x`` out of range, a conditional flow, bad options or
            non-finite samples.

    Example:
        >>> import jax.numpy as jnp
        >>> import gauss_flows as gf
        >>> from flowjax.distributions import Normal
        >>> gf.flow_mutual_information(Normal(jnp.zeros(2)), 1).value < 0.02
        True

    References:
        See :mod:`gauss_flows.information_flow`.
    """
    d = _check_flow(flow)
    d_x = check_int("d_x", d_x)
    if not d_x < d:
        raise ValueError(f"d_x must be between 1 and n_dims - 1 = {d - 1}; got {d_x}")
    n_batches = check_int("n_batches", n_batches, least=2)
    n, level, seed = _options(n_samples, level, random_state, 20 * n_batches)
    s = settings if settings is not None else InformationSettings()
    x, log_p = _draw(flow, n, seed)

    def measure(x: np.ndarray, log_p: np.ndarray) -> float:
        joint = _marginal_entropies(x, s) + float(np.mean(log_p))
        return joint - _block_tc(x[:, :d_x], s) - _block_tc(x[:, d_x:], s)

    return _batch_estimate(measure, x, log_p, n_batches, level)
