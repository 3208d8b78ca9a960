"""Per-dimension histogram CDFs: to uniform marginals, or through ``Φ⁻¹`` to normal ones."""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike

from gauss_flows._arrays import broadcast_float_arrays
from gauss_flows._validation import as_data_matrix, check_int, check_number
from gauss_flows.bijections._elementwise import (
    check_event_shape,
    normal_log_tails,
    probit_from_log_tails,
)
from gauss_flows.bijections.mixture_cdf import normal_logpdf

__all__ = ["HistogramCDF", "HistogramGaussianCDF"]

#: Half-width of the support of a layer built from sizes (before any fit).
_DEFAULT_HALF_WIDTH = 5.0
_METHODS = ("linear", "monotonic")


class _AbstractHistogram(AbstractBijection):
    """Fields, fitting and the shared numerics of the histogram marginals.

    Per dimension: ``n`` equal-width bins of width ``w = exp(log_bin_width)`` starting at
    ``lower``, holding masses ``(1 − 2ε) softmax(log_masses)``; below and above them
    exponential tails of mass ``ε`` (``tail_mass``) and length scale ``w``. ``t`` is the
    position in bin units, ``(x − lower)/w``.
    """

    log_masses: Array
    lower: Array
    log_bin_width: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    tail_mass: float = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def _init_fields(self, layer, n_bins, shape, log_masses, lower, log_bin_width, tail_mass):
        self.tail_mass = check_number("tail_mass", tail_mass, high=0.5)
        given = [a is not None for a in (log_masses, lower, log_bin_width)]
        if not any(given):
            n_bins = check_int("n_bins", n_bins)
            (d,) = check_event_shape(shape)
            log_masses, lower, log_bin_width = _normal_histogram(n_bins, d)
        elif not all(given):
            raise ValueError(
                f"{layer}: give all of log_masses=, lower= and log_bin_width=, or none of them"
            )
        (log_masses,) = broadcast_float_arrays(log_masses)
        if log_masses.ndim != 2:
            raise ValueError(
                f"{layer}: log_masses must have shape (n_dims, n_bins); got {log_masses.shape}"
            )
        lower, log_bin_width = broadcast_float_arrays(lower, log_bin_width)
        if lower.shape != log_masses.shape[:1]:
            raise ValueError(
                f"{layer}: lower and log_bin_width must have shape {log_masses.shape[:1]}; "
                f"got {lower.shape}"
            )
        self.log_masses, self.lower, self.log_bin_width = log_masses, lower, log_bin_width
        self.shape = (log_masses.shape[0],)

    @property
    def n_bins(self) -> int:
        """Number of bins per dimension."""
        return self.log_masses.shape[-1]

    def fit(self, data: ArrayLike, *, pseudo_count: float = 1e-3):
        """A new layer of the same kind and sizes, fitted to the columns of ``data``.

        Per column: equal-width bins over ``[min, max]`` padded by 1 % of the range on each
        side, and bin masses proportional to the counts plus ``pseudo_count``.

        Args:
            data: Data, shape ``(n_samples, d)``.
            pseudo_count: Added to every bin's count, so every bin has positive density.

        Raises:
            ValueError: If ``data`` is not a finite 2-D array with ``d`` columns, at least
                two rows and no constant column, or ``pseudo_count`` is not positive.
        """
        data = as_data_matrix(data, name="data", n_dims=self.shape[0])
        pseudo_count = check_number("pseudo_count", pseudo_count)
        fitted = _fit_histogram(data, self.n_bins, pseudo_count)
        fitted = [a.astype(self.log_masses.dtype) for a in fitted]
        return eqx.tree_at(lambda h: (h.log_masses, h.lower, h.log_bin_width), self, tuple(fitted))

    # Shared numerics ---------------------------------------------------------------

    def _tables(self, dtype):
        """Per-dimension ``(log_m, m, below, above, w, log_w)``.

        ``below[k]`` is the mass below edge ``k`` (tail included) and ``above[k]`` the
        mass above it, for edges ``k = 0 … n``.
        """
        eps = self.tail_mass
        log_m = math.log1p(-2 * eps) + jax.nn.log_softmax(self.log_masses.astype(dtype), axis=-1)
        m = jnp.exp(log_m)
        zero = jnp.zeros(m.shape[:-1] + (1,), dtype)
        below = eps + jnp.concatenate([zero, jnp.cumsum(m, axis=-1)], axis=-1)
        above = eps + jnp.concatenate([jnp.cumsum(m[..., ::-1], axis=-1)[..., ::-1], zero], axis=-1)
        log_w = self.log_bin_width.astype(dtype)
        return log_m, m, below, above, jnp.exp(log_w), log_w

    def _position(self, x, dtype):
        _, _, _, _, w, _ = tables = self._tables(dtype)
        return (x - self.lower.astype(dtype)) / w, tables

    def _bin(self, t, n):
        """Bin index of position ``t`` (clamped to ``0 … n−1``) and the offset in it."""
        k = jnp.floor(jnp.clip(t, 0, n)).astype(jnp.int32)
        k = jnp.clip(k, 0, n - 1)
        return k, jnp.clip(t - k, 0.0, 1.0)

    def _log_pdf(self, t, tables):
        """Log density at position ``t``: the bin's, or the exponential tail's."""
        log_m, _, _, _, _, log_w = tables
        n = log_m.shape[-1]
        k, _ = self._bin(t, n)
        log_m_k = jnp.take_along_axis(log_m, k[:, None], axis=-1)[:, 0]
        log_eps = math.log(self.tail_mass)
        tail = log_eps + jnp.minimum(t, 0.0) + jnp.minimum(n - t, 0.0)
        inside = (t >= 0) & (t <= n)
        return jnp.where(inside, log_m_k, tail) - log_w

    def _log_tails(self, x):
        """``(t, log u, log(1 − u), u, log f)`` at ``x``, with ``u`` the histogram CDF."""
        dtype = jnp.result_type(x, self.log_masses, self.lower, self.log_bin_width)
        t, tables = self._position(jnp.asarray(x, dtype), dtype)
        log_m, m, below, above, _, _ = tables
        n = m.shape[-1]
        k, frac = self._bin(t, n)
        m_k = jnp.take_along_axis(m, k[:, None], axis=-1)[:, 0]
        lower_in = jnp.take_along_axis(below, k[:, None], axis=-1)[:, 0] + m_k * frac
        upper_in = jnp.take_along_axis(above, k[:, None] + 1, axis=-1)[:, 0] + m_k * (1 - frac)
        eps = self.tail_mass
        log_eps = math.log(eps)
        t_left, t_right = jnp.minimum(t, 0.0), jnp.minimum(n - t, 0.0)
        left, right = t < 0, t > n
        mass_left, mass_right = eps * jnp.exp(t_left), eps * jnp.exp(t_right)
        log_lower = jnp.where(
            left, log_eps + t_left, jnp.where(right, jnp.log1p(-mass_right), jnp.log(lower_in))
        )
        log_upper = jnp.where(
            right, log_eps + t_right, jnp.where(left, jnp.log1p(-mass_left), jnp.log(upper_in))
        )
        u = jnp.where(left, mass_left, jnp.where(right, 1 - mass_right, lower_in))
        return t, log_lower, log_upper, u, self._log_pdf(t, tables)

    def _interior_from_lower(self, u, tables):
        """Position of CDF value ``u`` inside the bins, found from the masses below."""
        _, m, below, _, _, _ = tables
        n = m.shape[-1]
        k = jax.vmap(functools.partial(jnp.searchsorted, side="right"))(below, u) - 1
        k = jnp.clip(k, 0, n - 1)
        m_k = jnp.take_along_axis(m, k[:, None], axis=-1)[:, 0]
        b_k = jnp.take_along_axis(below, k[:, None], axis=-1)[:, 0]
        frac = jnp.where(m_k > 0, (u - b_k) / jnp.where(m_k > 0, m_k, 1.0), 0.5)
        return k + jnp.clip(frac, 0.0, 1.0)

    def _interior_from_upper(self, v, tables):
        """Position of upper-tail mass ``v = 1 − u`` inside the bins, from the masses above."""
        _, m, _, above, _, _ = tables
        n = m.shape[-1]
        k = jax.vmap(functools.partial(jnp.searchsorted, side="left"))(-above, -v) - 1
        k = jnp.clip(k, 0, n - 1)
        m_k = jnp.take_along_axis(m, k[:, None], axis=-1)[:, 0]
        a_k = jnp.take_along_axis(above, k[:, None] + 1, axis=-1)[:, 0]
        frac = jnp.where(m_k > 0, (v - a_k) / jnp.where(m_k > 0, m_k, 1.0), 0.5)
        return k + 1 - jnp.clip(frac, 0.0, 1.0)

    def _to_data(self, t, tables):
        return self.lower.astype(t.dtype) + tables[4] * t


class HistogramCDF(_AbstractHistogram):
    r"""Map every dimension to a uniform one through a histogram CDF.

    Per dimension, ``n_bins`` equal-width bins give a piecewise-constant density and a
    piecewise-linear CDF :math:`u = F(x) \in (0, 1)`; the log-determinant is
    :math:`\sum_i \log f_i(x_i)`, piecewise constant. Beyond the bins, exponential tails of
    mass ``tail_mass`` each (length scale one bin width) keep the density, and so the
    log-determinant, finite everywhere (``u`` rounds to 0 or 1 far out). The inverse is
    exact and closed form. Bin masses are held as unconstrained log-masses, the support as
    its lower edge and log bin width: every real value is valid.

    Before :meth:`fit`, the bins cover :math:`[-5, 5]` with the masses of N(0, 1), so the
    layer approximates :math:`\Phi`. ``fit`` (or :meth:`from_data`) places equal-width bins
    over the data range padded by 1 % on each side, with masses from the counts plus a
    small pseudo-count.

    The inverse is defined on :math:`(0, 1)`; its input is clamped into
    ``[tiny, 1 − ε/2]`` of its dtype, so the results stay finite.

    Args:
        n_bins: Bins per dimension.
        shape: Event shape ``(d,)``.
        method: Interpolation of the CDF between bin edges: ``"linear"``. (``"monotonic"``,
            a monotone cubic, is not implemented.)
        log_masses: Unnormalised log bin masses, shape ``(d, n_bins)``.
        lower: Lower edge of the bins, shape ``(d,)``.
        log_bin_width: Log bin width, shape ``(d,)``.
        tail_mass: Mass of each exponential tail, in ``(0, 0.5)``.

    Raises:
        ValueError: If a size or ``method`` is invalid, or the arrays do not fit together.
        NotImplementedError: For ``method="monotonic"``.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import HistogramCDF
        >>> x = jr.exponential(jr.key(0), (1000, 1))
        >>> hist = HistogramCDF(n_bins=32, shape=(1,)).fit(x)
        >>> u, log_det = jax.vmap(hist.transform_and_log_det)(x)
        >>> bool((u.min() > 0) & (u.max() < 1))
        True

    References:
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """

    method: str = eqx.field(static=True)

    def __init__(
        self,
        n_bins: int = 64,
        shape: tuple[int, ...] = (1,),
        method: str = "linear",
        *,
        log_masses: ArrayLike | None = None,
        lower: ArrayLike | None = None,
        log_bin_width: ArrayLike | None = None,
        tail_mass: float = 1e-4,
    ):
        if method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}; got {method!r}")
        if method == "monotonic":
            raise NotImplementedError(
                "HistogramCDF(method='monotonic') (a monotone cubic CDF) is not implemented; "
                "use method='linear'"
            )
        self.method = method
        self._init_fields(
            "HistogramCDF", n_bins, shape, log_masses, lower, log_bin_width, tail_mass
        )

    @classmethod
    def from_data(cls, x: ArrayLike, n_bins: int = 64, **options) -> HistogramCDF:
        """``HistogramCDF(n_bins, shape=(d,)).fit(x)``; ``options`` go to :meth:`fit`.

        Example:
            >>> import jax.random as jr
            >>> from gauss_flows.bijections import HistogramCDF
            >>> HistogramCDF.from_data(jr.normal(jr.key(0), (500, 2)), n_bins=16).shape
            (2,)
        """
        x = as_data_matrix(x, name="x")
        return cls(n_bins=n_bins, shape=(x.shape[1],)).fit(x, **options)

    def transform_and_log_det(self, x, condition=None):
        _, _, _, u, log_pdf = self._log_tails(x)
        return u, log_pdf.sum()

    def inverse_and_log_det(self, y, condition=None):
        dtype = jnp.result_type(y, self.log_masses, self.lower, self.log_bin_width)
        info = jnp.finfo(dtype)
        u = jnp.clip(jnp.asarray(y, dtype), info.tiny, 1.0 - info.epsneg)
        tables = self._tables(dtype)
        n = self.n_bins
        log_eps = math.log(self.tail_mass)
        left = u < self.tail_mass
        right = u > 1.0 - self.tail_mass
        t_left = jnp.minimum(jnp.log(u) - log_eps, 0.0)
        t_right = n - jnp.minimum(jnp.log1p(-u) - log_eps, 0.0)
        t = jnp.where(left, t_left, jnp.where(right, t_right, self._interior_from_lower(u, tables)))
        return self._to_data(t, tables), -self._log_pdf(t, tables).sum()


class HistogramGaussianCDF(_AbstractHistogram):
    r"""Gaussianize every dimension through a histogram CDF: :math:`z = \Phi^{-1}(F(x))`.

    The classic RBIG marginal: the histogram CDF :math:`F` of :class:`HistogramCDF`
    (equal-width bins, exponential tails of mass ``tail_mass`` beyond them) followed by
    the probit. ``z`` is computed from :math:`\log F` and :math:`\log(1 - F)`, whichever is
    smaller, so it stays finite and accurate far outside the bins; the log-determinant is
    :math:`\sum_i \log f_i(x_i) - \log \phi(z_i)` and the inverse is exact and closed form.
    Every array is an unconstrained parameter.

    Before :meth:`fit` the bins cover :math:`[-5, 5]` with the masses of N(0, 1): a
    piecewise approximation of the identity.

    Args:
        n_bins: Bins per dimension.
        shape: Event shape ``(d,)``.
        log_masses: Unnormalised log bin masses, shape ``(d, n_bins)``.
        lower: Lower edge of the bins, shape ``(d,)``.
        log_bin_width: Log bin width, shape ``(d,)``.
        tail_mass: Mass of each exponential tail, in ``(0, 0.5)``.

    Example:
        >>> import jax
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import HistogramGaussianCDF
        >>> x = jr.exponential(jr.key(0), (2000, 1))
        >>> layer = HistogramGaussianCDF.from_data(x, n_bins=64)
        >>> z = jax.vmap(layer.transform)(x)
        >>> bool(abs(float(z.std()) - 1.0) < 0.1)
        True

    References:
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """

    def __init__(
        self,
        n_bins: int = 64,
        shape: tuple[int, ...] = (1,),
        *,
        log_masses: ArrayLike | None = None,
        lower: ArrayLike | None = None,
        log_bin_width: ArrayLike | None = None,
        tail_mass: float = 1e-4,
    ):
        self._init_fields(
            "HistogramGaussianCDF", n_bins, shape, log_masses, lower, log_bin_width, tail_mass
        )

    @classmethod
    def from_data(cls, x: ArrayLike, n_bins: int = 64, **options) -> HistogramGaussianCDF:
        """``HistogramGaussianCDF(n_bins, shape=(d,)).fit(x)``; ``options`` go to :meth:`fit`.

        Example:
            >>> import jax.random as jr
            >>> from gauss_flows.bijections import HistogramGaussianCDF
            >>> HistogramGaussianCDF.from_data(jr.normal(jr.key(0), (500, 2)), 16).n_bins
            16
        """
        x = as_data_matrix(x, name="x")
        return cls(n_bins=n_bins, shape=(x.shape[1],)).fit(x, **options)

    def transform_and_log_det(self, x, condition=None):
        _, log_lower, log_upper, _, log_pdf = self._log_tails(x)
        z = probit_from_log_tails(log_lower, log_upper)
        return z, (log_pdf - normal_logpdf(z)).sum()

    def inverse_and_log_det(self, y, condition=None):
        dtype = jnp.result_type(y, self.log_masses, self.lower, self.log_bin_width)
        z = jnp.asarray(y, dtype)
        tables = self._tables(dtype)
        n = self.n_bins
        log_eps = math.log(self.tail_mass)
        log_lower, log_upper = normal_log_tails(z)
        left = log_lower < log_eps
        right = log_upper < log_eps
        t_left = jnp.minimum(log_lower - log_eps, 0.0)
        t_right = n - jnp.minimum(log_upper - log_eps, 0.0)
        interior = jnp.where(
            z <= 0,
            self._interior_from_lower(jnp.exp(log_lower), tables),
            self._interior_from_upper(jnp.exp(log_upper), tables),
        )
        t = jnp.where(left, t_left, jnp.where(right, t_right, interior))
        log_det = self._log_pdf(t, tables) - normal_logpdf(z)
        return self._to_data(t, tables), -log_det.sum()


def _normal_histogram(n_bins: int, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins over ``[−5, 5]`` with the masses of N(0, 1), for ``d`` dimensions (host, float64)."""
    std = NormalDist()
    edges = np.linspace(-_DEFAULT_HALF_WIDTH, _DEFAULT_HALF_WIDTH, n_bins + 1)
    cdf = np.array([std.cdf(e) for e in edges])
    log_masses = np.log(np.maximum(np.diff(cdf), 1e-300))
    width = 2 * _DEFAULT_HALF_WIDTH / n_bins
    return (
        np.broadcast_to(log_masses, (d, n_bins)).copy(),
        np.full(d, -_DEFAULT_HALF_WIDTH),
        np.full(d, math.log(width)),
    )


@functools.partial(jax.jit, static_argnums=(1,))
def _fit_histogram(data: Array, n_bins: int, pseudo_count: float) -> tuple[Array, Array, Array]:
    """``(log_masses, lower, log_bin_width)`` of a histogram of every column of ``data``."""
    lo, hi = data.min(axis=0), data.max(axis=0)
    pad = 0.01 * (hi - lo)
    lower = lo - pad
    width = (hi - lo + 2 * pad) / n_bins
    idx = jnp.clip(jnp.floor((data - lower) / width), 0, n_bins - 1).astype(jnp.int32)
    counts = jax.vmap(lambda col: jnp.bincount(col, length=n_bins))(idx.T)
    return jnp.log(counts + pseudo_count), lower, jnp.log(width)
