"""How a greedy block fits its per-dimension mixtures: the settings as one value."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from gauss_flows._validation import check_int, check_number, reject_unknown_keywords
from gauss_flows.fit.em import MixtureParams, fit_mixture_em, mixture_log_likelihood


class MixtureFit(eqx.Module):
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

    em_steps: int = eqx.field(static=True, default=100)
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


def marginal_from_keywords(function: str, marginal: MixtureFit | None, options: dict) -> MixtureFit:
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
    if marginal is not None and not isinstance(marginal, MixtureFit):
        raise TypeError(f"marginal must be a MixtureFit or None; got {type(marginal).__name__}")
    if not old:
        return MixtureFit() if marginal is None else marginal
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
