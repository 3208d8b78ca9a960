"""One-dimensional entropy and negentropy from samples: the bias-corrected spacing estimator.

Vasicek's ``m``-spacing estimator uses ``log`` of the gap between the order statistics
``x_(i−m)`` and ``x_(i+m)``. For uniform data the gap spanning ``k`` steps is a
``Beta(k, n − k + 1)`` variable with ``E log = ψ(k) − ψ(n + 1)``; subtracting that exact
expectation (with ``k`` shrunk at the boundaries, Ebrahimi's correction) removes the
estimator's bias wherever the density is locally flat, so a small ``m`` is nearly
unbiased for smooth densities and for densities with spikes or heavy tails alike.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import jax.random as jr
from jax.scipy.special import digamma
from jaxtyping import Array, Float

from gauss_flows._validation import check_int

_HALF_LOG_2PI_E = 0.5 * math.log(2 * math.pi * math.e)


def default_spacing(n: int) -> int:
    """The spacing ``m`` used when none is given: ``round(n^{1/3} / 2.5)``, at least 2.

    Small spacings keep the bias low (the digamma correction is exact for locally flat
    densities); the variance of the estimate is dominated by ``Var log p(X) / n`` anyway.
    """
    return max(2, int(round(n ** (1 / 3) / 2.5)))


def check_spacing(spacing: int | None, n: int) -> int:
    """Validate a spacing for ``n`` samples, filling in the default."""
    if spacing is None:
        return default_spacing(n)
    spacing = check_int("spacing", spacing)
    if not spacing < n / 2:
        raise ValueError(f"spacing must be an integer in [1, n/2) = [1, {n / 2:g}); got {spacing!r}")
    return spacing


@functools.partial(jax.jit, static_argnames=("spacing",))
def spacing_entropy(x: Float[Array, "n d"], spacing: int) -> Float[Array, " d"]:
    """Bias-corrected ``m``-spacing (Vasicek–Ebrahimi) entropy of every column, in nats.

    Args:
        x: Samples, shape ``(n, d)``; each column is one 1-D sample.
        spacing: The spacing ``m``.

    Returns:
        The differential entropy estimate of each column, shape ``(d,)``.
    """
    n = x.shape[0]
    xs = jnp.sort(x, axis=0)
    i = jnp.arange(n)
    upper = jnp.minimum(i + spacing, n - 1)
    lower = jnp.maximum(i - spacing, 0)
    gap = xs[upper] - xs[lower]
    tiny = jnp.finfo(x.dtype).tiny
    steps = (upper - lower).astype(x.dtype)
    # E log(U_(j+k) − U_(j)) = ψ(k) − ψ(n + 1) for uniform order statistics.
    correction = digamma(steps) - digamma(jnp.asarray(n + 1.0, x.dtype))
    return jnp.mean(jnp.log(jnp.maximum(gap, tiny)) - correction[:, None], axis=0)


@functools.partial(jax.jit, static_argnames=("spacing",))
def negentropy(x: Float[Array, "n d"], spacing: int) -> Float[Array, " d"]:
    """Marginal non-Gaussianity of every column: ``½ log(2πe var) − H`` (≥ 0 in truth)."""
    var = jnp.var(x, axis=0)
    return 0.5 * jnp.log(var) + _HALF_LOG_2PI_E - spacing_entropy(x, spacing)


@functools.lru_cache(maxsize=64)
def negentropy_null(n: int, spacing: int, dtype: str = "float64", reps: int = 512) -> tuple[float, float]:
    """Mean and standard deviation of :func:`negentropy` on ``n`` standard-normal samples.

    The mean is the estimator's bias under Gaussianity (subtracted from every estimate);
    the spread sets the noise level. Computed once per setting by simulation.
    """
    z = jr.normal(jr.key(20240531), (n, reps), dtype=jnp.dtype(dtype))
    j = negentropy(z, spacing)
    return float(j.mean()), float(j.std())
