"""Per-dimension Gaussianization by a logistic-mixture CDF."""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike

from gauss_flows._arrays import broadcast_float_arrays
from gauss_flows._validation import check_int
from gauss_flows.bijections._elementwise import (
    check_event_shape,
    normal_log_tails,
    probit_from_log_tails,
    spread_components,
)
from gauss_flows.bijections.marginal import explicit_parameters
from gauss_flows.bijections.mixture_cdf import normal_logpdf

__all__ = ["MixtureLogisticCDF", "logistic_mixture_gaussianize"]

_DEFAULT_SPREAD = 0.5


def logistic_mixture_gaussianize(
    x: Array, logits: Array, means: Array, log_scales: Array
) -> tuple[Array, Array]:
    r"""``z = Φ⁻¹(F(x))`` for a logistic-mixture CDF ``F``, and ``log dz/dx``, elementwise.

    ``F(x) = Σ_k w_k σ((x − μ_k)/s_k)``. Both tails ``log F`` and ``log(1 − F)`` are
    log-sum-exps of log-sigmoids, and ``Φ⁻¹`` is taken from the smaller one, so ``z`` and
    the log-derivative stay finite far outside the data in float32 and float64.

    Args:
        x: Points, shape ``(...)``.
        logits: Unnormalised log weights, shape ``(..., K)``.
        means: Component locations, shape ``(..., K)``.
        log_scales: Log component scales ``log s_k``, shape ``(..., K)``.

    Returns:
        ``(z, log_dz_dx)``, both of shape ``(...)``.
    """
    log_w = jax.nn.log_softmax(logits, axis=-1)
    t = (x[..., None] - means) * jnp.exp(-log_scales)
    log_sig, log_sig_neg = jax.nn.log_sigmoid(t), jax.nn.log_sigmoid(-t)
    log_lower = jax.nn.logsumexp(log_w + log_sig, axis=-1)
    log_upper = jax.nn.logsumexp(log_w + log_sig_neg, axis=-1)
    log_pdf = jax.nn.logsumexp(log_w - log_scales + log_sig + log_sig_neg, axis=-1)
    z = probit_from_log_tails(log_lower, log_upper)
    return z, log_pdf - normal_logpdf(z)


def _solve_inverse(z, logits, means, log_scales, max_steps):
    """Safeguarded Newton–bisection solve of ``Φ⁻¹(F(x)) = z`` for ``x``.

    At ``x = min_k(μ_k + s_k ℓ)`` with ``ℓ = logit(Φ(z))`` every component CDF is at most
    ``Φ(z)``, so ``F(x) ≤ Φ(z)``; symmetrically at the maximum: the root lies between.
    """
    tol = 8 * float(jnp.finfo(z.dtype).eps)
    log_lower, log_upper = normal_log_tails(z)
    candidates = means + jnp.exp(log_scales) * (log_lower - log_upper)[..., None]
    lo, hi = candidates.min(axis=-1), candidates.max(axis=-1)

    def cond(state):
        _, _, _, step_size, i = state
        return jnp.logical_and(i < max_steps, jnp.any(step_size > 0))

    def body(state):
        x, lo, hi, _, i = state
        zx, log_dz_dx = logistic_mixture_gaussianize(x, logits, means, log_scales)
        r = zx - z
        lo = jnp.where(r < 0, x, lo)
        hi = jnp.where(r > 0, x, hi)
        newton = x - r * jnp.exp(-log_dz_dx)
        inside = (newton > lo) & (newton < hi) & jnp.isfinite(newton)
        x_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        converged = (r == 0) | (jnp.abs(x_new - x) <= tol * (1.0 + jnp.abs(x)))
        x_new = jnp.where(converged, x, x_new)
        step_size = jnp.where(converged, 0.0, jnp.abs(x_new - x))
        return x_new, lo, hi, step_size, i + 1

    init = (0.5 * (lo + hi), lo, hi, jnp.ones_like(lo), jnp.asarray(0))
    return jax.lax.while_loop(cond, body, init)[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(4,))
def _logistic_inverse(z, logits, means, log_scales, max_steps):
    return _solve_inverse(z, logits, means, log_scales, max_steps)


@_logistic_inverse.defjvp
def _logistic_inverse_jvp(max_steps, primals, tangents):
    # Implicit function theorem: z(x(z, θ), θ) = z, so
    # dx = (dz − ∂z/∂θ · dθ) / (∂z/∂x).
    z, logits, means, log_scales = primals
    dz, dlogits, dmeans, dlog_scales = tangents
    x = _logistic_inverse(z, logits, means, log_scales, max_steps)

    def forward_z(params):
        return logistic_mixture_gaussianize(x, *params)[0]

    params = (logits, means, log_scales)
    _, dz_dtheta = jax.jvp(forward_z, (params,), ((dlogits, dmeans, dlog_scales),))
    _, log_dz_dx = logistic_mixture_gaussianize(x, *params)
    return x, (dz - dz_dtheta) * jnp.exp(-log_dz_dx)


class MixtureLogisticCDF(AbstractBijection):
    r"""Gaussianize every dimension on its own through a logistic-mixture CDF.

    Dimension :math:`i` is mapped by :math:`z_i = \Phi^{-1}(F_i(x_i))` with
    :math:`F_i(x) = \sum_k w_{ik}\, \sigma((x - \mu_{ik}) / s_{ik})`, weights
    :math:`w_i = \mathrm{softmax}(\text{logits}_i)` and
    :math:`s_{ik} = \exp(\text{log\_scales}_{ik})`;
    every array is an unconstrained parameter. The map and its log-determinant are
    computed from log-sigmoids, so they stay finite far into the tails (the logistic tails
    are exponential, so :math:`|z|` grows like :math:`\sqrt{|x|}`). The inverse is a
    safeguarded Newton solve inside an exact bracket, differentiable in both modes through
    the implicit function theorem.

    Built from sizes, the layer has zero logits, locations at the normal quantiles
    :math:`\tfrac12 \Phi^{-1}((k - \tfrac12)/K)` and a common scale that gives each
    mixture variance one: a smooth map close to the identity in the bulk (within 0.05
    on :math:`[-2, 2]`), bending away from it in the tails, which are heavier than the
    normal's.

    Args:
        n_components: Mixture components per dimension, ``K``.
        shape: Event shape ``(d,)``.
        logits: Unnormalised log mixture weights, shape ``(d, K)``.
        means: Component locations, shape ``(d, K)``.
        log_scales: Log component scales, shape ``(d, K)``.
        max_inverse_steps: Iteration cap of the inverse's solver.

    When the three arrays are given (all of them, as keywords) they define the layer and
    ``n_components``/``shape``, if set, must agree with them.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import MixtureLogisticCDF
        >>> layer = MixtureLogisticCDF(n_components=8, shape=(3,))
        >>> x = jnp.array([0.3, -4.0, 5.0])
        >>> bool(jnp.allclose(layer.inverse(layer.transform(x)), x))
        True

    References:
        Ho, Chen, Srinivas, Duan and Abbeel (2019), "Flow++: improving flow-based
        generative models with variational dequantization and architecture design", ICML.
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
    """

    logits: Array
    means: Array
    log_scales: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    max_inverse_steps: int = eqx.field(static=True, default=100)

    def __init__(
        self,
        n_components: int = 8,
        shape: tuple[int, ...] = (1,),
        *,
        logits: ArrayLike | None = None,
        means: ArrayLike | None = None,
        log_scales: ArrayLike | None = None,
        max_inverse_steps: int = 100,
    ):
        self.max_inverse_steps = check_int("max_inverse_steps", max_inverse_steps)
        arrays = explicit_parameters("MixtureLogisticCDF", logits, means, log_scales)
        if arrays is None:
            n_components = check_int("n_components", n_components)
            shape = check_event_shape(shape)
            logits0, means0, variance = spread_components(n_components, shape, _DEFAULT_SPREAD)
            # A logistic of scale s has variance s²π²/3.
            log_scale = math.log(math.sqrt(3.0 * variance) / math.pi)
            arrays = broadcast_float_arrays(logits0, means0, jnp.full(means0.shape, log_scale))
        else:
            d, k = arrays[0].shape
            sizes = (n_components, tuple(shape) if isinstance(shape, (tuple, list)) else shape)
            if sizes not in ((8, (1,)), (k, (d,))):
                raise ValueError(
                    f"MixtureLogisticCDF: n_components={n_components!r} and shape={shape!r} "
                    f"disagree with parameter arrays of shape {(d, k)}"
                )
        self.logits, self.means, self.log_scales = arrays
        self.shape = (self.logits.shape[0],)

    @property
    def n_components(self) -> int:
        """Number of mixture components per dimension."""
        return self.logits.shape[-1]

    def _params(self, x):
        dtype = jnp.result_type(x, self.logits, self.means, self.log_scales)
        return [jnp.asarray(a, dtype) for a in (x, self.logits, self.means, self.log_scales)]

    def transform_and_log_det(self, x, condition=None):
        z, log_dz_dx = logistic_mixture_gaussianize(*self._params(x))
        return z, log_dz_dx.sum()

    def inverse_and_log_det(self, y, condition=None):
        y, logits, means, log_scales = self._params(y)
        x = _logistic_inverse(y, logits, means, log_scales, self.max_inverse_steps)
        _, log_dz_dx = logistic_mixture_gaussianize(x, logits, means, log_scales)
        return x, -log_dz_dx.sum()
