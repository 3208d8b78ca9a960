"""Numerics of the mixture-CDF Gaussianization map, shared by every layer that uses it.

The map sends a scalar ``x`` to ``z = Φ⁻¹(F(x))`` where ``F(x) = Σ_k w_k Φ((x − μ_k)/σ_k)``
is the CDF of a ``K``-component Gaussian mixture. Everything is computed in log space:
``log F`` and ``log(1 − F)`` come from ``log Φ`` of each component, and ``Φ⁻¹`` is taken
from whichever tail is smaller, so the map and its log-derivative stay finite far outside
the data in float32 and float64.

The functions here act elementwise: ``x`` has shape ``(...)`` and each parameter array has
shape ``(..., K)``. Layers call them with one sample's vector of dimensions.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr, logsumexp, ndtri
from jaxtyping import Array, ArrayLike

_LOG_HALF = math.log(0.5)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def normal_logpdf(z: Array) -> Array:
    """Log density of the standard normal, elementwise."""
    return -0.5 * z * z - _HALF_LOG_2PI


def mills_ratio(z: Array) -> Array:
    """``Φ(z) / φ(z)`` for ``z ≤ 0``, accurate deep in the tail where both underflow."""
    far = z < -12.0
    z_bulk = jnp.where(far, -12.0, z)
    bulk = jnp.exp(log_ndtr(z_bulk) - normal_logpdf(z_bulk))
    z_far = jnp.where(far, z, -12.0)
    u = 1.0 / (z_far * z_far)
    # Asymptotic series 1/|z| Σ (−1)^k (2k−1)!! / z^{2k}; its relative error at |z| ≥ 12
    # is below 1e-9.
    series = (1.0 - u * (1.0 - u * (3.0 - u * (15.0 - u * (105.0 - u * 945.0))))) / -z_far
    return jnp.where(far, series, bulk)


def _log_ndtri_lower(log_p: Array) -> Array:
    """``Φ⁻¹(exp(log_p))`` for ``log_p ≤ log ½`` (the lower half), without derivatives.

    In the bulk it uses ``ndtri(exp(log_p))``; where ``exp`` would underflow it starts from
    the asymptotic expansion ``z² ≈ s − log(2πs)``, ``s = −2 log p``. Two Newton steps on
    ``log Φ(z) = log p`` then polish either start to full precision.
    """
    dtype = log_p.dtype
    log_tiny = math.log(float(jnp.finfo(dtype).tiny)) + 10.0
    in_bulk = log_p > log_tiny
    bulk = ndtri(jnp.exp(jnp.where(in_bulk, log_p, _LOG_HALF)))
    s = -2.0 * jnp.where(in_bulk, log_tiny, log_p)
    tail = -jnp.sqrt(jnp.maximum(s - jnp.log(2 * math.pi * s), 1.0))
    z = jnp.where(in_bulk, bulk, tail)
    for _ in range(2):
        # d log Φ(z) / dz = φ(z) / Φ(z)
        step = (log_ndtr(z) - log_p) * mills_ratio(z)
        z = jnp.minimum(z - step, 0.0)
    return z


@jax.custom_jvp
def log_ndtri(log_p: Array) -> Array:
    """Inverse standard-normal CDF of ``exp(log_p)`` for ``log_p ≤ log ½``.

    Accurate where ``exp(log_p)`` underflows (``log_p = -5e7`` gives ``z ≈ -1e4``). Its
    derivative comes from the inverse-function rule, not from the Newton iterations.
    """
    return _log_ndtri_lower(jnp.minimum(log_p, _LOG_HALF))


@log_ndtri.defjvp
def _log_ndtri_jvp(primals, tangents):
    (log_p,), (dlog_p,) = primals, tangents
    z = log_ndtri(log_p)
    # dz/dlog_p = Φ(z) / φ(z), the Mills ratio at z.
    return z, dlog_p * mills_ratio(z)


def mixture_log_cdfs(
    x: Array, logits: Array, means: Array, log_scales: Array
) -> tuple[Array, Array, Array]:
    """``log F(x)``, ``log(1 − F(x))`` and ``log f(x)`` of a Gaussian mixture.

    Args:
        x: Points, shape ``(...)``.
        logits: Unnormalised log weights, shape ``(..., K)``.
        means: Component means, shape ``(..., K)``.
        log_scales: Log standard deviations, shape ``(..., K)``.

    Returns:
        The lower log-CDF, upper log-CDF (log survival) and log density, each ``(...)``.
    """
    log_w = jax.nn.log_softmax(logits, axis=-1)
    t = (x[..., None] - means) * jnp.exp(-log_scales)
    log_lower = logsumexp(log_w + log_ndtr(t), axis=-1)
    log_upper = logsumexp(log_w + log_ndtr(-t), axis=-1)
    log_pdf = logsumexp(log_w + normal_logpdf(t) - log_scales, axis=-1)
    return log_lower, log_upper, log_pdf


def mixture_gaussianize(
    x: Array, logits: Array, means: Array, log_scales: Array
) -> tuple[Array, Array]:
    """The map ``z = Φ⁻¹(F(x))`` and its elementwise log-derivative ``log dz/dx``.

    Args:
        x: Points, shape ``(...)``.
        logits: Unnormalised log weights, shape ``(..., K)``.
        means: Component means, shape ``(..., K)``.
        log_scales: Log standard deviations, shape ``(..., K)``.

    Returns:
        ``(z, log_dz_dx)``, both of shape ``(...)``.
    """
    log_lower, log_upper, log_pdf = mixture_log_cdfs(x, logits, means, log_scales)
    use_lower = log_lower <= log_upper
    z = jnp.where(use_lower, log_ndtri(log_lower), -log_ndtri(log_upper))
    return z, log_pdf - normal_logpdf(z)


def _bracket(z: Array, means: Array, log_scales: Array) -> tuple[Array, Array]:
    """An interval sure to hold ``F⁻¹(Φ(z))``.

    At ``x = min_k(μ_k + σ_k z)`` every component CDF is at most ``Φ(z)``, so ``F(x) ≤ Φ(z)``;
    symmetrically at the maximum. The root lies between.
    """
    candidates = means + jnp.exp(log_scales) * z[..., None]
    return candidates.min(axis=-1), candidates.max(axis=-1)


def _solve_inverse(
    z: Array, logits: Array, means: Array, log_scales: Array, max_steps: int
) -> Array:
    """Safeguarded Newton–bisection solve of ``Φ⁻¹(F(x)) = z`` for ``x``."""
    dtype = z.dtype
    tol = 8 * float(jnp.finfo(dtype).eps)
    lo, hi = _bracket(z, means, log_scales)
    x0 = 0.5 * (lo + hi)

    def residual(x):
        zx, log_dz_dx = mixture_gaussianize(x, logits, means, log_scales)
        return zx - z, log_dz_dx

    def cond(state):
        _, _, _, step_size, i = state
        return jnp.logical_and(i < max_steps, jnp.any(step_size > 0))

    def body(state):
        x, lo, hi, _, i = state
        r, log_dz_dx = residual(x)
        lo = jnp.where(r < 0, x, lo)
        hi = jnp.where(r > 0, x, hi)
        newton = x - r * jnp.exp(-log_dz_dx)
        inside = (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        x_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        converged = (r == 0) | (jnp.abs(x_new - x) <= tol * (1.0 + jnp.abs(x)))
        x_new = jnp.where(converged, x, x_new)
        step_size = jnp.where(converged, 0.0, jnp.abs(x_new - x))
        return x_new, lo, hi, step_size, i + 1

    init = (x0, lo, hi, jnp.ones_like(x0), jnp.asarray(0))
    x, *_ = jax.lax.while_loop(cond, body, init)
    return x


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _mixture_inverse(
    z: Array, logits: Array, means: Array, log_scales: Array, max_steps: int
) -> Array:
    return _solve_inverse(z, logits, means, log_scales, max_steps)


@_mixture_inverse.defjvp
def _mixture_inverse_jvp(max_steps, primals, tangents):
    # Implicit function theorem: z(x(z, θ), θ) = z, so
    # dx = (dz − ∂z/∂θ · dθ) / (∂z/∂x).
    z, logits, means, log_scales = primals
    dz, dlogits, dmeans, dlog_scales = tangents
    x = _mixture_inverse(z, logits, means, log_scales, max_steps)

    def forward_z(params):
        return mixture_gaussianize(x, *params)[0]

    params = (logits, means, log_scales)
    _, dz_dtheta = jax.jvp(forward_z, (params,), ((dlogits, dmeans, dlog_scales),))
    _, log_dz_dx = mixture_gaussianize(x, logits, means, log_scales)
    return x, (dz - dz_dtheta) * jnp.exp(-log_dz_dx)


def mixture_degaussianize(
    z: ArrayLike,
    logits: Array,
    means: Array,
    log_scales: Array,
    *,
    max_steps: int = 100,
) -> tuple[Array, Array]:
    """The inverse map ``x = F⁻¹(Φ(z))`` and its log-derivative ``log dx/dz``.

    Solved by Newton steps safeguarded by bisection inside an exact bracket; gradients
    with respect to ``z`` and the parameters come from the implicit function theorem.

    Args:
        z: Latent points, shape ``(...)``.
        logits: Unnormalised log weights, shape ``(..., K)``.
        means: Component means, shape ``(..., K)``.
        log_scales: Log standard deviations, shape ``(..., K)``.
        max_steps: Iteration cap of the solver.

    Returns:
        ``(x, log_dx_dz)``, both of shape ``(...)``.
    """
    z = jnp.asarray(z)
    x = _mixture_inverse(z, logits, means, log_scales, max_steps)
    _, log_dz_dx = mixture_gaussianize(x, logits, means, log_scales)
    return x, -log_dz_dx
