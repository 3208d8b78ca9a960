"""One-dimensional Gaussian-mixture EM, vectorised over every column at once."""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float

_HALF_LOG_2PI = 0.5 * jnp.log(2 * jnp.pi)


class MixtureParams(NamedTuple):
    """Per-column mixture parameters, each of shape ``(d, K)``."""

    logits: Array
    means: Array
    log_scales: Array


def _component_log_density(y: Array, params: MixtureParams) -> Array:
    """``log w_k + log N(y; μ_k, σ_k²)`` with shape ``(n, d, K)``."""
    log_w = jax.nn.log_softmax(params.logits, axis=-1)
    t = (y[..., None] - params.means) * jnp.exp(-params.log_scales)
    return log_w - 0.5 * t * t - _HALF_LOG_2PI - params.log_scales


def mixture_log_likelihood(y: Float[Array, "n d"], params: MixtureParams) -> Float[Array, " d"]:
    """Mean log-likelihood of each column under its mixture."""
    return logsumexp(_component_log_density(y, params), axis=-1).mean(axis=0)


def _initial_params(y: Array, n_components: int) -> MixtureParams:
    """Means at evenly spaced quantiles, a common scale, equal weights."""
    n, d = y.shape
    levels = (jnp.arange(n_components) + 0.5) / n_components
    means = jnp.quantile(y, levels, axis=0).T  # (d, K)
    std = jnp.std(y, axis=0)
    scale = std[:, None] * jnp.full((1, n_components), 1.5 / n_components**0.5)
    return MixtureParams(jnp.zeros((d, n_components), y.dtype), means, jnp.log(scale))


def _em_step(y: Array, params: MixtureParams, min_scale: Array) -> tuple[MixtureParams, Array]:
    log_joint = _component_log_density(y, params)  # (n, d, K)
    peak = jax.lax.stop_gradient(log_joint.max(axis=-1, keepdims=True))
    joint = jnp.exp(log_joint - peak)
    total = joint.sum(axis=-1, keepdims=True)
    resp = joint / total  # responsibilities, one exp per element
    log_norm = jnp.log(total) + peak
    counts = resp.sum(axis=0)  # (d, K)
    safe = jnp.maximum(counts, jnp.finfo(y.dtype).tiny)
    means = jnp.einsum("ndk,nd->dk", resp, y) / safe
    var = jnp.einsum("ndk,ndk->dk", resp, (y[..., None] - means) ** 2) / safe
    var = jnp.maximum(var, min_scale[:, None] ** 2)
    alive = counts > 1e-3
    new = MixtureParams(
        jnp.where(alive, jnp.log(safe / y.shape[0]), params.logits - 30.0),
        jnp.where(alive, means, params.means),
        jnp.where(alive, 0.5 * jnp.log(var), params.log_scales),
    )
    return new, log_norm.mean(axis=(0, 2))


@functools.partial(jax.jit, static_argnames=("n_components", "max_steps"))
def fit_mixture_em(
    y: Float[Array, "n d"],
    *,
    n_components: int,
    max_steps: int = 100,
    tol: float = 1e-5,
    min_scale: float = 1e-3,
) -> MixtureParams:
    """Fit a ``K``-component Gaussian mixture to every column of ``y`` by EM.

    All columns are fitted at once: the E and M steps are array operations over
    ``(n, d, K)``. Iteration stops when no column's mean log-likelihood improves by more
    than ``tol`` or after ``max_steps``.

    Args:
        y: Data, shape ``(n, d)``.
        n_components: Components per column.
        max_steps: Most EM iterations.
        tol: Convergence tolerance on the mean log-likelihood (nats per sample).
        min_scale: Floor on each component's standard deviation, relative to the
            column's standard deviation.

    Returns:
        ``MixtureParams`` with arrays of shape ``(d, n_components)``.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.fit import fit_mixture_em
        >>> y = jr.normal(jr.key(0), (500, 3))
        >>> params = fit_mixture_em(y, n_components=4)
        >>> params.means.shape
        (3, 4)
    """
    floor = min_scale * jnp.std(y, axis=0)
    params = _initial_params(y, n_components)

    def cond(state):
        _, prev, curr, i = state
        return (i < max_steps) & jnp.any(curr - prev > tol)

    def body(state):
        params, _, curr, i = state
        params, ll = _em_step(y, params, floor)
        return params, curr, ll, i + 1

    d = y.shape[1]
    lowest = jnp.full((d,), -jnp.inf, y.dtype)
    very_low = jnp.full((d,), jnp.finfo(y.dtype).min / 2, y.dtype)
    params, *_ = jax.lax.while_loop(cond, body, (params, lowest, very_low, 0))
    return params
