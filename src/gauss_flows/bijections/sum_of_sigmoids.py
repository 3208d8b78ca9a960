"""A strictly monotone elementwise map: a positive linear term plus a sum of sigmoid units."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike
from paramax.utils import inv_softplus

from gauss_flows._validation import check_int

__all__ = ["SumOfSigmoids"]

#: Floor of the linear term's slope: keeps the map strictly increasing with linear tails.
MIN_SLOPE = 1e-3
#: Slope of the linear term of the default (zero-offset) layer.
_INIT_SLOPE = 0.5


class SumOfSigmoids(AbstractBijection):
    r"""Elementwise :math:`T(x) = \alpha x + \sum_k w_k\,(\sigma(a_k x + b_k) - \tfrac12)`.

    Every element of the event is mapped on its own by a positive linear term plus ``K``
    sigmoid units, with :math:`\alpha = \mathrm{softplus}(\rho) + \alpha_{\min}`,
    :math:`w_k = \mathrm{softplus}(\omega_k)`, :math:`a_k = \mathrm{softplus}(\eta_k)`
    and free shifts :math:`b_k`. So every real value of the four arrays gives a valid,
    strictly increasing map, :math:`T'(x) \ge \alpha > 0`. The sigmoids saturate, so
    :math:`T` is linear with slope :math:`\alpha` in both tails: it maps the real line
    onto itself and its log-derivative stays finite far outside the data (``±1e3`` in
    float32 too). The derivative's sigmoid terms are computed as
    :math:`\sigma(u)\,\sigma(-u)`, which never overflows.

    The inverse has no closed form. It is found by a safeguarded Newton iteration inside
    the exact bracket :math:`[(y - W/2)/\alpha,\,(y + W/2)/\alpha]`,
    :math:`W = \sum_k w_k` (a Newton step that leaves the bracket is replaced by
    bisection), run on stopped gradients under ``jax.lax.while_loop``, so it works under
    ``jit`` and ``vmap``. One final Newton step from the converged point carries the
    derivatives: it gives the implicit-function gradients
    :math:`\partial x/\partial y = 1/T'(x)` and
    :math:`\partial x/\partial\theta = -\partial_\theta T / T'` in forward and reverse
    mode alike.

    With ``shape=()`` (the default) the layer is the scalar transformer that
    :class:`~gauss_flows.bijections.DeepSigmoidCoupling` hands to flowjax's ``Coupling``;
    with an event shape it is an elementwise (marginal) layer.

    Args:
        n_components: Number of sigmoid units per element, ``K``.
        shape: Event shape; the parameters have shape ``shape`` (the slope) and
            ``shape + (K,)`` (the units).
        max_inverse_steps: Iteration cap of the inverse's solver.

    The default layer has slope :math:`\alpha = 0.5`, unit rates :math:`a_k = 1`, shifts
    :math:`b_k` evenly spaced on :math:`[-2, 2]` and weights :math:`w_k = 2/K`: a smooth
    S-shaped map with :math:`T'(0)` close to one.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import SumOfSigmoids
        >>> layer = SumOfSigmoids(n_components=4, shape=(2,))
        >>> x = jnp.array([0.3, -2.0])
        >>> y, log_det = layer.transform_and_log_det(x)
        >>> bool(jnp.allclose(layer.inverse(y), x, atol=1e-5))
        True

    References:
        Huang, Krueger, Lacoste and Courville (2018), "Neural autoregressive flows", ICML.
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
    """

    raw_slope: Array
    raw_weights: Array
    raw_rates: Array
    shifts: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    max_inverse_steps: int = eqx.field(static=True)

    def __init__(
        self, n_components: int = 8, shape: tuple[int, ...] = (), *, max_inverse_steps: int = 100
    ):
        n_components = check_int("n_components", n_components)
        shape = tuple(check_int(f"shape[{i}]", n) for i, n in enumerate(shape))
        k = n_components
        units = shape + (k,)
        shifts = jnp.linspace(-2.0, 2.0, k) if k > 1 else jnp.zeros(1)
        self.raw_slope = jnp.full(shape, inv_softplus(_INIT_SLOPE - MIN_SLOPE), dtype=float)
        self.raw_weights = jnp.full(units, inv_softplus(2.0 / k), dtype=float)
        self.raw_rates = jnp.full(units, inv_softplus(1.0), dtype=float)
        self.shifts = jnp.broadcast_to(shifts, units).astype(float)
        self.shape = shape
        self.max_inverse_steps = check_int("max_inverse_steps", max_inverse_steps)

    @property
    def n_components(self) -> int:
        """Number of sigmoid units per element."""
        return self.shifts.shape[-1]

    def _constrained(self) -> tuple[Array, Array, Array, Array]:
        """``(slope, weights, rates, shifts)`` with a trailing unit axis on the last three."""
        slope = jax.nn.softplus(self.raw_slope) + MIN_SLOPE
        weights, rates = jax.nn.softplus(self.raw_weights), jax.nn.softplus(self.raw_rates)
        return slope, weights, rates, self.shifts

    def transform_and_log_det(self, x, condition=None):
        params = self._constrained()
        return _forward(x, *params), jnp.log(_derivative(x, *params)).sum()

    def inverse_and_log_det(self, y, condition=None):
        params = self._constrained()
        x = _inverse(y, params, self.max_inverse_steps)
        return x, -jnp.log(_derivative(x, *params)).sum()


def _forward(x: Array, slope: Array, weights: Array, rates: Array, shifts: Array) -> Array:
    u = rates * x[..., None] + shifts
    return slope * x + jnp.sum(weights * (jax.nn.sigmoid(u) - 0.5), axis=-1)


def _derivative(x: Array, slope: Array, weights: Array, rates: Array, shifts: Array) -> Array:
    u = rates * x[..., None] + shifts
    return slope + jnp.sum(weights * rates * jax.nn.sigmoid(u) * jax.nn.sigmoid(-u), axis=-1)


def _inverse(y: Array, params: tuple[Array, ...], max_steps: int) -> Array:
    """The root of ``T(x) = y``: a solve on stopped gradients, then one Newton step."""
    x0 = _solve(jax.lax.stop_gradient(y), jax.lax.stop_gradient(params), max_steps)
    x0 = jax.lax.stop_gradient(x0)
    return x0 - (_forward(x0, *params) - y) / _derivative(x0, *params)


def _solve(y: Array, params: tuple[Array, ...], max_steps: int) -> Array:
    """Safeguarded Newton inside the exact bracket of ``T(x) = y``, elementwise."""
    slope, weights = params[0], params[1]
    half_width = 0.5 * jnp.sum(weights, axis=-1)
    lo, hi = (y - half_width) / slope, (y + half_width) / slope
    tol = 4 * jnp.finfo(jnp.result_type(y, slope)).eps

    def cond(state):
        step, _, _, _, done = state
        return (step < max_steps) & ~jnp.all(done)

    def body(state):
        step, x, lo, hi, done = state
        residual = _forward(x, *params) - y
        lo = jnp.where(residual < 0, x, lo)
        hi = jnp.where(residual > 0, x, hi)
        newton = x - residual / _derivative(x, *params)
        inside = (newton >= lo) & (newton <= hi)
        x_new = jnp.where(inside, newton, 0.5 * (lo + hi))
        converged = (jnp.abs(x_new - x) <= tol * jnp.maximum(1.0, jnp.abs(x_new))) | (residual == 0)
        return step + 1, jnp.where(done, x, x_new), lo, hi, done | converged

    start = jnp.clip(y, lo, hi)  # the identity guess, kept inside the bracket
    init = (0, start, lo, hi, jnp.zeros(jnp.shape(y), bool))
    return jax.lax.while_loop(cond, body, init)[1]
