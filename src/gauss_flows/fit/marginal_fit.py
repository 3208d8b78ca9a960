"""How a greedy block fits its per-dimension mixtures: the settings as one value."""

from __future__ import annotations

import abc
import warnings
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from flowjax.bijections.bijection import AbstractBijection

from gauss_flows._validation import check_int, check_number, plain_int, reject_unknown_keywords
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.mixture_cdf import mixture_gaussianize
from gauss_flows.fit.em import MixtureParams, fit_mixture_em, mixture_log_likelihood


class AbstractMarginalFit(eqx.Module):
    """How a greedy block fits its per-dimension maps: one marginal family and its settings.

    A greedy fit (:func:`~gauss_flows.fit_rbig`) rotates the current data, then asks its
    marginal fit for a per-dimension Gaussianizing layer fitted to the rotated columns,
    and pushes the data through it. Concrete fits are values with static fields only, so
    they are hashable static arguments of the compiled block fit; :meth:`fit_layer` runs
    inside that compiled code. The layer a fit returns is the block's marginal in the
    returned flow, so the trainable twin of a greedy fit has that layer's family.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit import MixtureFit
        >>> y = np.random.default_rng(0).standard_exponential((400, 2))
        >>> type(MixtureFit().fit_layer(y, n_components=3)).__name__
        'MixtureGaussianCDF'
    """

    @abc.abstractmethod
    def fit_layer(
        self,
        y: Float[Array, "n d"],
        n_components: int,
        component_counts: Sequence[int] | None = None,
    ) -> AbstractBijection:
        """A layer of shape ``(d,)`` mapping every column of ``y`` towards N(0, 1)."""

    @abc.abstractmethod
    def min_rows(self, n_components: int) -> int:
        """Fewest rows a fit accepts."""

    @abc.abstractmethod
    def free_parameters(self, n_components: int, n_rows: int) -> int:
        """Parameters a fit of one column on ``n_rows`` rows adapts to the data.

        The depth rule's default tolerance is the gain this many parameters find in
        pure noise (:func:`~gauss_flows.fit.depth.noise_gain`).
        """

    def gaussianize(self, layer: AbstractBijection, y: Array) -> tuple[Array, Array]:
        """``layer`` applied to every row of ``y``: the rows and their log-determinants."""
        return jax.vmap(layer.transform_and_log_det)(y)


class MixtureFit(AbstractMarginalFit):
    """Settings of the EM fits of a greedy block's one-dimensional Gaussian mixtures.

    A value with only static fields: hashable, compared by its settings, and a static
    argument of the compiled block fit.

    Args:
        em_steps: Most EM updates per fit (:func:`fit_mixture_em`'s ``max_steps``).
        em_tol: EM convergence tolerance (nats per sample).
        accelerate: SQUAREM-accelerated EM; ``False`` runs plain EM.
        min_scale: Floor on component standard deviations, relative to the column's.
        prior_count: Pseudo-points of an inverse-gamma prior on every component's
            variance, which keeps thinly supported components from becoming spikes and
            regularises deep fits (0: plain maximum likelihood).
        tail_weight: Weight of one component pinned to the rotated column's own
            Gaussian, so that each block's map tends to the identity in the tails and
            deep stacks do not stretch points outside the training range (0: none). Fits
            of a single component have no pinned component.

    Raises:
        ValueError: For settings outside their ranges.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit import MixtureFit
        >>> y = np.random.default_rng(0).standard_exponential((400, 2))
        >>> MixtureFit(em_steps=50, tail_weight=0.0).fit(y, n_components=3).means.shape
        (2, 3)

    References:
        Varadhan & Roland (2008), "Simple and globally convergent methods for
        accelerating the convergence of any EM algorithm", Scandinavian Journal of
        Statistics 35(2).
    """

    em_steps: int = eqx.field(static=True, default=100, converter=plain_int)
    em_tol: float = eqx.field(static=True, default=1e-7)
    accelerate: bool = eqx.field(static=True, default=True)
    min_scale: float = eqx.field(static=True, default=1e-3)
    prior_count: float = eqx.field(static=True, default=0.5)
    tail_weight: float = eqx.field(static=True, default=0.1)

    def __check_init__(self):
        check_int("em_steps", self.em_steps, least=0)
        check_number("em_tol", self.em_tol, low_open=False)
        if not isinstance(self.accelerate, bool):
            raise ValueError(f"accelerate must be True or False; got {self.accelerate!r}")
        check_number("min_scale", self.min_scale, low_open=False)
        check_number("prior_count", self.prior_count, low_open=False)
        check_number("tail_weight", self.tail_weight, high=1.0, low_open=False)

    def fit_layer(
        self,
        y: Float[Array, "n d"],
        n_components: int,
        component_counts: Sequence[int] | None = None,
    ) -> MixtureGaussianCDF:
        """The fitted mixtures (:meth:`fit`) as a :class:`~gauss_flows.MixtureGaussianCDF`."""
        logits, means, log_scales = self.fit(y, n_components, component_counts)
        return MixtureGaussianCDF(logits=logits, means=means, log_scales=log_scales)

    def min_rows(self, n_components: int) -> int:
        return max(2 * n_components, 3)

    def free_parameters(self, n_components: int, n_rows: int) -> int:
        return 3 * n_components - 1

    def gaussianize(self, layer: MixtureGaussianCDF, y: Array) -> tuple[Array, Array]:
        # The whole matrix at once through the mixture numerics (no per-row vmap).
        z, log_dz_dy = mixture_gaussianize(y, layer.logits, layer.means, layer.log_scales)
        return z, log_dz_dy.sum(axis=1)

    def fit(
        self,
        y: Float[Array, "n d"],
        n_components: int,
        component_counts: Sequence[int] | None = None,
    ) -> MixtureParams:
        """Fit a mixture to every column of ``y``, with ``n_components`` components each.

        With ``component_counts``, each count is fitted to four fifths of the rows and
        scored on the fifth left out (every fifth row); every column takes the count that
        scored best, refitted on all rows and written in ``n_components`` slots by
        repeating components, which leaves its mixture unchanged.

        Args:
            y: Data, shape ``(n, d)``.
            n_components: Components (slots) per column.
            component_counts: Candidate counts, each at most ``n_components``.

        Returns:
            ``MixtureParams`` with arrays of shape ``(d, n_components)``.
        """
        if component_counts is None:
            return self._fit_count(y, n_components)
        y_val, y_rest = y[::5], jnp.delete(y, np.s_[::5], axis=0)
        trial = [self._fit_count(y_rest, k) for k in component_counts]
        scores = jnp.stack([mixture_log_likelihood(y_val, f) for f in trial])  # (counts, d)
        best = jnp.argmax(scores, axis=0)
        fits = [self._fit_count(y, k) for k in component_counts]  # refitted on every row
        spread = [spread_components(f, n_components) for f in fits]
        columns = jnp.arange(y.shape[1])
        return MixtureParams(
            *(jnp.stack(leaves)[best, columns] for leaves in zip(*spread, strict=True))
        )

    def _fit_count(self, y: Array, k: int) -> MixtureParams:
        return fit_mixture_em(
            y,
            n_components=k,
            max_steps=self.em_steps,
            tol=self.em_tol,
            accelerate=self.accelerate,
            min_scale=self.min_scale,
            prior_count=self.prior_count,
            tail_weight=self.tail_weight if k > 1 else 0.0,
        )


def spread_components(params: MixtureParams, n_slots: int) -> MixtureParams:
    """The same mixtures written with ``n_slots`` components each, by repeating components.

    Slot ``j`` holds component ``j mod k``; a component held by ``c`` slots has its log
    weight lowered by ``log c`` in each, so the mixture (and its CDF map) is unchanged.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.fit.em import MixtureParams
        >>> from gauss_flows.fit.marginal_fit import spread_components
        >>> two = MixtureParams(np.zeros((1, 2)), np.array([[-1.0, 1.0]]), np.zeros((1, 2)))
        >>> spread_components(two, 3).means.tolist()
        [[-1.0, 1.0, -1.0]]
    """
    k = params.logits.shape[-1]
    owner = np.arange(n_slots) % k
    copies = np.bincount(owner, minlength=k)[owner]
    return MixtureParams(
        params.logits[:, owner] - np.log(copies).astype(params.logits.dtype),
        params.means[:, owner],
        params.log_scales[:, owner],
    )


#: The former keywords of the greedy fits and the :class:`MixtureFit` field each set.
_OLD_KEYWORDS = {
    "em_steps": "em_steps",
    "em_tol": "em_tol",
    "em_accelerate": "accelerate",
    "min_scale": "min_scale",
    "prior_count": "prior_count",
    "tail_weight": "tail_weight",
}


def marginal_from_keywords(
    function: str, marginal: "str | AbstractMarginalFit | None", options: dict
) -> AbstractMarginalFit:
    """The marginal-fit settings of a call to ``function``, from ``marginal`` or the old keywords.

    ``options`` holds the call's remaining keywords. The old keywords (``em_steps``,
    ``em_tol``, ``em_accelerate``, ``min_scale``, ``prior_count``, ``tail_weight``) still
    set the matching :class:`MixtureFit` field, with a ``DeprecationWarning`` attributed
    to the caller of the public fit (this runs two calls below it); any other
    keyword is a ``TypeError``, as is an old keyword given together with ``marginal``.

    Example:
        >>> import warnings
        >>> from gauss_flows.fit.marginal_fit import marginal_from_keywords
        >>> with warnings.catch_warnings(record=True):
        ...     marginal_from_keywords("fit_rbig", None, {"em_accelerate": False})
        MixtureFit(accelerate=False)
    """
    old = {name: options.pop(name) for name in _OLD_KEYWORDS if name in options}
    reject_unknown_keywords(function, options)
    if not old:
        from gauss_flows.fit.marginal_families import as_marginal_fit

        return as_marginal_fit(marginal)
    if marginal is not None:
        raise TypeError(f"give marginal= only; {', '.join(old)} are its deprecated fields")
    fields = ", ".join(f"{_OLD_KEYWORDS[name]}=..." for name in old)
    warnings.warn(
        f"{function}'s {', '.join(map(repr, old))} are deprecated and will be removed in the "
        f"next release; pass marginal=MixtureFit({fields})",
        DeprecationWarning,
        stacklevel=4,  # the caller of fit_rbig (through _greedy_settings)
    )
    return MixtureFit(**{_OLD_KEYWORDS[name]: value for name, value in old.items()})
