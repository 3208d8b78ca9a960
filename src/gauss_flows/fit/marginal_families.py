"""The marginal families a greedy fit can use, as values, and their shorthand names.

Classic RBIG Gaussianizes each rotated column through its histogram; mixture RBIG (this
package's default) through a fitted Gaussian mixture; a kernel density estimate and a
rational-quadratic spline are the other two common choices. Each family is an
:class:`~gauss_flows.fit.marginal_fit.AbstractMarginalFit` value whose fitted layer
becomes the block's marginal, so each greedy fit warm-starts a trainable flow of the
same family (:func:`~gauss_flows.gaussianization_flow` with ``marginal=`` the family's
name).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, Float

from gauss_flows._validation import check_int, check_number, plain_int
from gauss_flows.bijections.histogram import HistogramGaussianCDF, _fit_histogram
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.spline import RQSplineMarginal, _fit_knots
from gauss_flows.fit.marginal_fit import AbstractMarginalFit, MixtureFit

__all__ = [
    "MARGINAL_FITS",
    "HistogramFit",
    "KDEFit",
    "SplineFit",
    "as_marginal_fit",
]


class KDEFit(AbstractMarginalFit):
    """A Gaussian kernel density estimate per column, written as an equal-weight mixture.

    The kernels sit at ``n_kernels`` evenly spaced quantiles of the column (a binned
    KDE: each kernel stands for an equal share of the rows), with a width of the larger
    of Silverman's bandwidth (times ``bandwidth_factor``) and the local spacing of the
    quantiles, so a few kernels still give a smooth density. One more component, the
    column's own Gaussian with weight ``tail_weight``, makes the map tend to an affine one
    in the tails (as :class:`~gauss_flows.fit.MixtureFit`'s pinned component does), so
    deep stacks do not stretch points outside the data. No iterations: the fit is
    quantiles and one bandwidth. The layer is a
    :class:`~gauss_flows.MixtureGaussianCDF` with ``n_kernels + 1`` components, so the
    trainable twin is the mixture flow of that size.

    Args:
        n_kernels: Kernels per column (the twin has ``n_kernels + 1`` components).
        bandwidth_factor: Factor on Silverman's rule-of-thumb bandwidth.
        tail_weight: Weight of the column's own Gaussian, in ``(0, 1]``.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit.marginal_families import KDEFit
        >>> y = np.random.default_rng(0).standard_exponential((400, 2))
        >>> KDEFit(n_kernels=16).fit_layer(y, n_components=8).means.shape
        (2, 17)

    References:
        Silverman (1986), "Density Estimation for Statistics and Data Analysis",
        Chapman & Hall, section 3.4.
    """

    n_kernels: int = eqx.field(static=True, default=32, converter=plain_int)
    bandwidth_factor: float = eqx.field(static=True, default=1.0)
    tail_weight: float = eqx.field(static=True, default=0.1)

    def __check_init__(self):
        check_int("n_kernels", self.n_kernels, least=2)
        check_number("bandwidth_factor", self.bandwidth_factor)
        check_number("tail_weight", self.tail_weight, high=1.0)

    def fit_layer(
        self,
        y: Float[Array, "n d"],
        n_components: int,
        component_counts: Sequence[int] | None = None,
    ) -> MixtureGaussianCDF:
        y = jnp.asarray(y)
        n, k = y.shape[0], self.n_kernels
        levels = (jnp.arange(k, dtype=y.dtype) + 0.5) / k
        centres = jnp.quantile(y, levels, axis=0).T  # (d, k)
        sd = jnp.std(y, axis=0)
        q25, q75 = jnp.quantile(y, jnp.array([0.25, 0.75], y.dtype), axis=0)
        spread = jnp.minimum(sd, (q75 - q25) / 1.349)
        spread = jnp.where(spread > 0, spread, sd)
        bandwidth = self.bandwidth_factor * 0.9 * spread * n ** (-0.2)
        padded = jnp.concatenate([centres[:, :1], centres, centres[:, -1:]], axis=1)
        spacing = 0.5 * (padded[:, 2:] - padded[:, :-2])
        widths = jnp.maximum(jnp.maximum(bandwidth[:, None], spacing), 1e-3 * sd[:, None])
        # One more component, the column's own Gaussian with weight tail_weight, so the
        # map tends to an affine one in the tails and deep stacks stay tame there.
        means = jnp.concatenate([centres, jnp.mean(y, axis=0)[:, None]], axis=1)
        log_scales = jnp.concatenate([jnp.log(widths), jnp.log(sd)[:, None]], axis=1)
        w = self.tail_weight
        kernel_logit = math.log((1 - w) / k) if w < 1 else -jnp.inf
        logits = jnp.concatenate(
            [jnp.full_like(centres, kernel_logit), jnp.full_like(sd[:, None], math.log(w))],
            axis=1,
        )
        return MixtureGaussianCDF(logits=logits, means=means, log_scales=log_scales)

    def min_rows(self, n_components: int) -> int:
        return 3

    def free_parameters(self, n_components: int, n_rows: int) -> int:
        return self.n_kernels


class HistogramFit(AbstractMarginalFit):
    """Classic RBIG's marginal: each column's histogram CDF, then the normal quantile.

    Equal-width bins over the column's range padded by 1 %, with thin exponential tails
    beyond it so densities stay finite far outside the data; the layer is a
    :class:`~gauss_flows.HistogramGaussianCDF` whose bin masses are trainable.

    Args:
        n_bins: Bins per column; ``None`` uses ``ceil(sqrt(n))`` of the rows fitted,
            capped at 256 (fixed per fit, so all blocks stack).
        pseudo_count: Added to every bin's count, so that bins the data left empty keep
            some density and deep fits do not collapse onto the training points.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit.marginal_families import HistogramFit
        >>> y = np.random.default_rng(0).standard_exponential((400, 2))
        >>> type(HistogramFit(n_bins=20).fit_layer(y, n_components=8)).__name__
        'HistogramGaussianCDF'

    References:
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """

    n_bins: int | None = eqx.field(static=True, default=None, converter=plain_int)
    pseudo_count: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if self.n_bins is not None:
            check_int("n_bins", self.n_bins, least=2)
        check_number("pseudo_count", self.pseudo_count)

    def bins_for(self, n_rows: int) -> int:
        """The number of bins a fit on ``n_rows`` rows uses."""
        if self.n_bins is not None:
            return self.n_bins
        return int(min(256, max(2, math.ceil(math.sqrt(n_rows)))))

    def fit_layer(self, y, n_components, component_counts=None) -> HistogramGaussianCDF:
        n_bins = self.bins_for(y.shape[0])
        layer = HistogramGaussianCDF(n_bins=n_bins, shape=(y.shape[1],))
        fitted = _fit_histogram(y, n_bins, self.pseudo_count)
        fitted = tuple(a.astype(y.dtype) for a in fitted)
        return eqx.tree_at(lambda h: (h.log_masses, h.lower, h.log_bin_width), layer, fitted)

    def min_rows(self, n_components: int) -> int:
        return 3

    def free_parameters(self, n_components: int, n_rows: int) -> int:
        return self.bins_for(n_rows) - 1


class SplineFit(AbstractMarginalFit):
    """A monotone rational-quadratic spline per column, through its normal quantiles.

    Knots at ``n_bins + 1`` evenly spaced empirical quantiles of the column are mapped to
    the matching standard-normal quantiles (clipped into ``[-interval, interval]``), with
    identity tails outside; the layer is a :class:`~gauss_flows.RQSplineMarginal`, so its
    trainable twin is the spline flow.

    Args:
        n_bins: Spline bins per column.
        interval: Half-width of the spline's domain and range.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit.marginal_families import SplineFit
        >>> y = np.random.default_rng(0).standard_exponential((400, 2))
        >>> type(SplineFit(n_bins=8).fit_layer(y, n_components=8)).__name__
        'RQSplineMarginal'

    References:
        Durkan, Bekasov, Murray and Papamakarios (2019), "Neural spline flows", NeurIPS.
    """

    n_bins: int = eqx.field(static=True, default=16, converter=plain_int)
    interval: float = eqx.field(static=True, default=5.0)

    def __check_init__(self):
        check_int("n_bins", self.n_bins, least=2)
        check_number("interval", self.interval)

    def fit_layer(self, y, n_components, component_counts=None) -> RQSplineMarginal:
        layer = RQSplineMarginal(n_bins=self.n_bins, shape=(y.shape[1],), interval=self.interval)
        knots = _fit_knots(y, self.n_bins, float(self.interval))
        spline = lambda b: b.spline.bijection  # noqa: E731
        return eqx.tree_at(
            lambda b: (spline(b).x_pos.arr, spline(b).y_pos.arr, spline(b).derivatives.args[0]),
            layer,
            tuple(a.astype(y.dtype) for a in knots),
        )

    def min_rows(self, n_components: int) -> int:
        return max(self.n_bins + 1, 3)

    def free_parameters(self, n_components: int, n_rows: int) -> int:
        return self.n_bins - 1


#: Shorthand names of the marginal families and the default value of each.
MARGINAL_FITS: dict[str, AbstractMarginalFit] = {
    "mixture": MixtureFit(),
    "kde": KDEFit(),
    "histogram": HistogramFit(),
    "spline": SplineFit(),
}


def as_marginal_fit(marginal: str | AbstractMarginalFit | None) -> AbstractMarginalFit:
    """The marginal-fit value for ``marginal``: a value as it is, a name's default, or mixture.

    Raises:
        ValueError: For an unknown name.
        TypeError: For anything else that is not an ``AbstractMarginalFit``.

    Example:
        >>> from gauss_flows.fit.marginal_families import as_marginal_fit
        >>> as_marginal_fit("spline")
        SplineFit()
    """
    if marginal is None:
        return MixtureFit()
    if isinstance(marginal, AbstractMarginalFit):
        return marginal
    if isinstance(marginal, str):
        try:
            return MARGINAL_FITS[marginal]
        except KeyError:
            raise ValueError(
                f"unknown marginal family {marginal!r}; choose one of {', '.join(MARGINAL_FITS)}"
                " or pass a marginal-fit value (MixtureFit, KDEFit, HistogramFit, SplineFit)"
            ) from None
    raise TypeError(
        f"marginal must be a family name, a marginal-fit value or None; got {type(marginal).__name__}"
    )
