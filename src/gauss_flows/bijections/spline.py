"""Per-dimension rational-quadratic spline: flowjax's spline, one per dimension."""

from __future__ import annotations

import functools
from statistics import NormalDist
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from flowjax.bijections import RationalQuadraticSpline, Vmap
from flowjax.bijections.bijection import AbstractBijection
from jax.scipy.special import ndtr
from jaxtyping import Array, ArrayLike

from gauss_flows._validation import as_data_matrix, check_int, check_number
from gauss_flows.bijections._elementwise import check_event_shape

__all__ = ["RQSplineMarginal"]

#: flowjax's defaults: smallest bin width/height and smallest knot derivative.
_MIN_WIDTH = 1e-3
_MIN_DERIVATIVE = 1e-3


@functools.lru_cache(maxsize=64)
def _template(n_bins: int, interval: float) -> RationalQuadraticSpline:
    """One scalar spline per configuration, so that layers of the same sizes share their
    tree structure (flowjax's spline holds a function in it) and stack or compile alike.
    Built with concrete arrays even when first asked for inside traced code (a greedy
    fit's compiled block), so the cached template never holds a tracer."""
    with jax.ensure_compile_time_eval():
        return RationalQuadraticSpline(knots=n_bins - 1, interval=interval)


class RQSplineMarginal(AbstractBijection):
    r"""A monotone rational-quadratic spline on every dimension, identity outside the interval.

    Dimension :math:`i` is mapped by its own flowjax
    :class:`~flowjax.bijections.RationalQuadraticSpline` with ``n_bins`` bins (flowjax's
    ``knots = n_bins − 1`` inner knots) on :math:`[-B, B]` (``B = interval``) and the
    identity beyond; the splines are vectorised with :class:`~flowjax.bijections.Vmap`. Knot positions, heights and
    derivatives are softmax/softplus images of unconstrained arrays, so every real value of
    every leaf gives a monotone bijection; the inverse is closed form (a quadratic root)
    and exact to machine precision, and the log-determinant is analytic. A new layer is the
    identity.

    :meth:`from_data` fits the knots so that each column is mapped close to N(0, 1). The
    spline acts on :math:`[-B, B]` only, so data should lie mostly inside it (standardise
    first); values beyond it pass through unchanged.

    Args:
        n_bins: Bins per dimension.
        shape: Event shape ``(d,)``.
        interval: Half-width ``B`` of the spline's interval.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import RQSplineMarginal
        >>> spline = RQSplineMarginal(n_bins=8, shape=(2,), interval=4.0)
        >>> z, log_det = spline.transform_and_log_det(jnp.array([0.5, -6.0]))
        >>> [round(float(v), 6) for v in z], round(float(log_det), 6)
        ([0.5, -6.0], 0.0)

    References:
        Durkan, Bekasov, Murray and Papamakarios (2019), "Neural spline flows", NeurIPS.
        Gregory and Delbourgo (1982), "Piecewise rational quadratic interpolation to
        monotonic data", IMA Journal of Numerical Analysis 2(2).
    """

    spline: Vmap
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(self, n_bins: int = 8, shape: tuple[int, ...] = (1,), interval: float = 5.0):
        n_bins = check_int("n_bins", n_bins)
        (d,) = check_event_shape(shape)
        interval = check_number("interval", interval)
        if n_bins * _MIN_WIDTH > 2 * interval:
            raise ValueError(
                f"n_bins={n_bins} bins of width at least {_MIN_WIDTH} do not fit in the "
                f"interval [-{interval:g}, {interval:g}]"
            )
        dtype = jnp.result_type(float)
        scalar = _template(n_bins, interval)
        batched = jax.tree.map(
            lambda leaf: jnp.full((d, *leaf.shape), leaf, dtype) if eqx.is_array(leaf) else leaf,
            scalar,
        )
        self.spline = Vmap(batched, in_axes=eqx.if_array(0))
        self.shape = (d,)

    @property
    def n_bins(self) -> int:
        """Number of bins per dimension."""
        return self.spline.bijection.knots + 1

    @property
    def interval(self) -> float:
        """Half-width of the spline's interval."""
        return float(self.spline.bijection.interval[1])

    @classmethod
    def from_data(cls, x: ArrayLike, n_bins: int = 8, interval: float = 5.0) -> RQSplineMarginal:
        r"""A spline per column of ``x`` that maps the column close to N(0, 1).

        The inner knots sit at empirical quantiles of the column, their heights at the
        matching normal quantiles: heights are evenly spaced on
        :math:`[-y_{\max}, y_{\max}]` with :math:`y_{\max} = \min(\Phi^{-1}(1 - 2.5/N),
        B (K-1)/(K+1))`, and the knots are the column's quantiles at levels
        :math:`\Phi(\text{height})`, clipped into the interval and kept at least 1 % of a
        bin apart. The derivative at an inner knot is the slope of the same
        quantile-to-quantile map over an eighth of a height step either side, and 1 at
        :math:`\pm B`, where the identity tails begin. The fit is deterministic;
        the parameters are solved exactly for flowjax's unconstrained parameterisation.

        Args:
            x: Data, shape ``(n_samples, d)``; it should lie mostly in ``[-interval, interval]``.
            n_bins: Bins per dimension, ``K``.
            interval: Half-width ``B`` of the spline's interval.

        Raises:
            ValueError: If ``x`` is not a finite 2-D array with at least two rows and no
                constant column, or a size is invalid.

        Example:
            >>> import jax
            >>> import jax.random as jr
            >>> from gauss_flows.bijections import RQSplineMarginal
            >>> x = jr.exponential(jr.key(0), (2000, 1)) - 1.0
            >>> z = jax.vmap(RQSplineMarginal.from_data(x, n_bins=8).transform)(x)
            >>> bool(abs(float(z.std()) - 1.0) < 0.1)
            True
        """
        x = as_data_matrix(x, name="x")
        layer = cls(n_bins=n_bins, shape=(x.shape[1],), interval=interval)
        dtype = layer.spline.bijection.x_pos.arr.dtype
        x_arr, y_arr, d_arr = _fit_knots(x.astype(dtype), layer.n_bins, layer.interval)
        return eqx.tree_at(
            lambda b: (
                b.spline.bijection.x_pos.arr,
                b.spline.bijection.y_pos.arr,
                b.spline.bijection.derivatives.args[0],
            ),
            layer,
            (x_arr, y_arr, d_arr),
        )

    def _in_dtype(self, x):
        """The (unwrapped) splines and ``x`` in the dtype of the parameters and ``x``.

        flowjax's unwrapped knot positions come out in the default float dtype whatever
        the parameters' dtype; cast back, a float32 layer computes in float32.
        """
        dtype = jnp.result_type(x, self.spline.bijection.derivatives)
        spline = jax.tree.map(
            lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, self.spline
        )
        return spline, jnp.asarray(x, dtype)

    def transform_and_log_det(self, x, condition=None):
        spline, x = self._in_dtype(x)
        return spline.transform_and_log_det(x)

    def inverse_and_log_det(self, y, condition=None):
        spline, y = self._in_dtype(y)
        return spline.inverse_and_log_det(y)


@functools.partial(jax.jit, static_argnums=(1, 2))
def _fit_knots(x: Array, n_bins: int, interval: float) -> tuple[Array, Array, Array]:
    """Unconstrained ``(x_pos, y_pos, derivatives)`` arrays, shape ``(d, ·)``, fitting ``x``."""
    n = x.shape[0]
    span = 2.0 * interval
    y_max = min(NormalDist().inv_cdf(1.0 - 2.5 / max(n, 5)), interval * (n_bins - 1) / (n_bins + 1))
    y_inner = jnp.linspace(-y_max, y_max, n_bins - 1, dtype=x.dtype)
    x_inner = jnp.quantile(x, ndtr(y_inner), axis=0).T  # (d, K − 1)
    edge = jnp.full((x.shape[1], 1), interval, x.dtype)
    gap = max(0.01 * span / n_bins, 2 * _MIN_WIDTH)

    def widths_of(knots_inner):
        knots = jnp.concatenate([-edge, jnp.clip(knots_inner, -interval, interval), edge], axis=-1)
        widths = jnp.maximum(jnp.diff(knots, axis=-1), gap)
        return widths * (span / widths.sum(axis=-1, keepdims=True))

    wx = widths_of(x_inner)
    wy = widths_of(jnp.broadcast_to(y_inner, x_inner.shape))
    # dz/dx at each inner knot, from the quantiles an eighth of a height step either side.
    h = 0.125 * (2 * y_max / (n_bins - 2)) if n_bins > 2 else 0.125
    x_up = jnp.quantile(x, ndtr(y_inner + h), axis=0).T
    x_down = jnp.quantile(x, ndtr(y_inner - h), axis=0).T
    inner = 2 * h / jnp.maximum(x_up - x_down, 1e-6 * span)
    ones = jnp.ones_like(edge)
    derivatives = jnp.maximum(jnp.concatenate([ones, inner, ones], axis=-1), 2 * _MIN_DERIVATIVE)
    # flowjax: widths = min_width + free · softmax(arr); derivatives = softplus(arr) + min.
    x_arr = jnp.log(wx - _MIN_WIDTH)
    y_arr = jnp.log(wy - _MIN_WIDTH)
    excess = derivatives - _MIN_DERIVATIVE
    d_arr = excess + jnp.log(-jnp.expm1(-excess))
    return x_arr, y_arr, d_arr
