"""Information measures from samples, computed through Gaussianization.

Every measure reduces to two ingredients:

* **1-D entropies** by the bias-corrected ``m``-spacing estimator (exact digamma
  correction for locally flat densities, Ebrahimi's boundary correction);
* **total correlation** (TC), which is invariant under monotone per-dimension maps. The
  data are first Gaussianized marginally by ranks (normal scores ``Z``); then
  ``TC = −½ log det R + J(W)``, where ``R`` is the correlation of ``Z`` (its ``log det``
  bias is removed exactly with the Wishart digamma formula) and ``J(W)`` is the
  non-Gaussianity of the whitened scores, measured by rotation-based iterative
  Gaussianization as the sum of per-block information reductions. Each block's reduction
  is referenced to the same loop run on Gaussian data of equal size, whose mean is
  subtracted and whose spread decides which blocks count (``threshold``, ``patience`` of
  :class:`InformationSettings`). Elliptical dependence (heavy-tailed, Student-t-like),
  which those blocks expose only slowly, is instead removed in one radial Gaussianization
  of Student-t-marginal scores, used where it beats the Gaussian copula on held-out rows
  (``elliptical_max_dims`` of the settings; see ``_information.elliptical``).

From these, ``H(X) = Σᵢ H(Xᵢ) − TC(X)``, ``I(X; Y) = TC(X, Y) − TC(X) − TC(Y)`` and
``KL(p ‖ q) = −H(p) − E_p log q`` with ``log q`` Gaussian (bias-corrected moments) plus,
when ``Y`` is detectably non-Gaussian, the correction of a greedy fit (:func:`fit_rbig`).
All results are in nats. How the estimates are made is one :class:`InformationSettings`
value, passed as ``settings=``.

Tied values (discrete or rounded data) get ranks in an independent random order per
column, fixed by the settings' ``random_state``: the scores are then those of the
distributional transform, whose total correlation and mutual information are exactly
those of the discrete data, and independent discrete columns measure 0. Columns without
ties are ranked as they are. Discrete data have no density, so :func:`entropy` and
:func:`kl_divergence` warn (:class:`DiscreteDataWarning`) when a value fills more rows
than the 1-D estimator can resolve, and estimate the data with every repeated value
spread uniformly over its cell. Data on which the dependence is infinite (a column that
is a monotone function of another, such as a copy, or linearly dependent columns) or
cannot be estimated (no more rows than columns) are refused with a ``ValueError`` naming
the columns; no measure returns NaN.

Example:
    >>> import numpy as np
    >>> import gauss_flows as gf
    >>> X = np.random.default_rng(0).normal(size=(1000, 2))
    >>> abs(gf.total_correlation(X, settings=gf.InformationSettings(random_state=1))) < 0.05
    True

References:
    Laparra, V., Camps-Valls, G. & Malo, J. (2011). Iterative Gaussianization: from ICA to
    random rotations. IEEE Transactions on Neural Networks 22(4).
    Laparra, V., Johnson, J. E., Camps-Valls, G., Santos-Rodríguez, R. & Malo, J. (2020).
    Information theory measures via multidimensional Gaussianization. arXiv:2010.03807.
    Vasicek, O. (1976). A test for normality based on sample entropy. JRSS B 38(1).
    Ebrahimi, N., Pflughoeft, K. & Soofi, E. S. (1994). Two measures of sample entropy.
    Statistics & Probability Letters 20(3).
    Lyu, S. & Simoncelli, E. P. (2009). Nonlinear extraction of independent components
    of natural images using radial Gaussianization. Neural Computation 21(6).
    Rüschendorf, L. (2009). On the distributional transform, Sklar's theorem, and the
    empirical copula process. Journal of Statistical Planning and Inference 139(11).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike
from scipy.special import digamma

from gauss_flows._information.entropy1d import (
    check_spacing,
    negentropy,
    negentropy_null,
    spacing_entropy,
)
from gauss_flows._information.degenerate import (
    Degeneracy,
    Labels,
    check_rows,
    linear_dependence,
    monotone_pair,
    singular_scores,
)
from gauss_flows._information.gaussian import (
    correlation,
    normal_scores,
    scores_from_ranks,
)
from gauss_flows._information.groups import GroupTotalCorrelations
from gauss_flows._information.remainder import remainder_of_scores, scores_total_correlation
from gauss_flows._information.settings import InformationSettings
from gauss_flows._information.uncertainty import Estimate, Uncertainty, subsample_estimate
from gauss_flows._information.ties import (
    TIE_SALT,
    dequantize,
    discrete_columns,
    tie_broken_ranks,
    tie_free,
)
from gauss_flows._validation import as_data_matrix, check_int, reject_unknown_keywords
from gauss_flows.fit import fit_rbig

__all__ = [
    "MIN_SAMPLES",
    "DiscreteDataWarning",
    "Estimate",
    "InformationSettings",
    "UnresolvedDependenceWarning",
    "Uncertainty",
    "entropy",
    "kl_divergence",
    "mutual_information",
    "total_correlation",
]

MIN_SAMPLES = 20
"""Fewest rows any information measure accepts."""


class DiscreteDataWarning(UserWarning):
    """Entropy or KL divergence asked of data that look discrete, which have no density.

    Issued when a column holds one value in more rows than the 1-D entropy estimator
    spans (``2 · spacing``). The estimate returned is that of the data
    with every repeated value spread uniformly over its cell, the interval halfway to the
    neighbouring distinct values. Total correlation and mutual information of discrete
    data are well defined and need no warning.

    Example:
        >>> import warnings
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).integers(0, 4, (500, 1)).astype(float)
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     h = gf.entropy(X)
        >>> caught[0].category.__name__
        'DiscreteDataWarning'

    References:
        Theis, L., van den Oord, A. & Bethge, M. (2016). A note on the evaluation of
        generative models. ICLR (uniform dequantization).
    """


class UnresolvedDependenceWarning(UserWarning):
    """Dependence too close to deterministic for the sample to resolve.

    Issued when the normal scores' correlation has an eigenvalue ``λ < 1/n²`` (along that
    direction the data carry more than ``−½ log λ > log n`` nats), or when a mutual
    information estimate exceeds ``log n``: more than ``n`` rows can show, since no
    estimator from ``n`` samples can certify more than about ``log n`` nats. The estimate
    returned is finite and large, but not accurate: only its order of magnitude holds. Exactly deterministic data
    (a column a monotone function of another, linearly dependent columns) are refused with
    a ``ValueError`` instead.

    Example:
        >>> import warnings
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> x = np.random.default_rng(0).normal(size=1000)
        >>> y = x + 1e-3 * np.random.default_rng(1).normal(size=1000)  # truth 6.9 nats
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     mi = gf.mutual_information(x, y)
        >>> caught[0].category.__name__, bool(mi > np.log(1000))
        ('UnresolvedDependenceWarning', True)

    References:
        McAllester, D. & Stratos, K. (2020). Formal limitations on the measurement of
        mutual information. AISTATS.
    """


# The keyword arguments the measures took before InformationSettings, and their fields.
_DEPRECATED_KEYWORDS = {
    "spacing": "spacing",
    "max_blocks": "max_layers",
    "threshold": "threshold",
    "patience": "patience",
    "n_reference": "n_reference",
    "random_state": "random_state",
}


def _settings(
    function: str, settings: InformationSettings | None, options: dict[str, Any]
) -> InformationSettings:
    """The settings of one call: ``settings``, or those made from deprecated keywords."""
    old = {name: options.pop(name) for name in list(options) if name in _DEPRECATED_KEYWORDS}
    reject_unknown_keywords(function, options)
    if old:
        names = ", ".join(map(repr, old))
        if settings is not None:
            raise TypeError(f"{function}() takes settings= or the deprecated {names}, not both")
        warnings.warn(
            f"{function}()'s {names} keyword(s) are deprecated and will be removed in the "
            "next release; pass settings=InformationSettings(...)",
            DeprecationWarning,
            stacklevel=3,
        )
        return InformationSettings(**{_DEPRECATED_KEYWORDS[k]: v for k, v in old.items()})
    if settings is None:
        return InformationSettings()
    if not isinstance(settings, InformationSettings):
        raise TypeError(f"settings must be an InformationSettings; got {type(settings).__name__}")
    return settings


def _samples(X: ArrayLike, name: str, n_dims: int | None = None) -> Array:
    """Validate a sample matrix; a 1-D array is read as one column."""
    if not isinstance(X, jax.Array):
        try:
            X = np.asarray(X)
        except Exception as err:
            raise ValueError(f"{name} could not be read as a numeric array: {err}") from None
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    return as_data_matrix(X, name=name, min_rows=MIN_SAMPLES, n_dims=n_dims)


def _key(s: InformationSettings, salt: int) -> jax.Array:
    """The key of one use of randomness besides the rotations (tie-breaking, dequantizing)."""
    return jr.fold_in(jr.key(s.random_state), TIE_SALT + salt)


def _refuse(found: Degeneracy, labels: Labels, quantity: str, dtype: np.dtype) -> ValueError:
    """The error for degenerate data: what was found and what it means for ``quantity``."""
    group = labels.group(found.columns)
    several = len(labels.groups) > 1
    if not found.exact:
        consequence = (
            f"their dependence is infinite or beyond what {np.dtype(dtype).name} can resolve"
        )
    elif quantity == "entropy":
        consequence = f"{group} has no joint density (its differential entropy is -inf)"
    elif quantity == "KL divergence":
        consequence = f"{group} has no joint density and KL(p ‖ q) is infinite"
    elif several and group is None:
        consequence = "the mutual information of " + " and ".join(
            name for name, _, _ in labels.groups
        ) + " is infinite"
    else:
        consequence = f"the total correlation of {group} is infinite"
    if several and group is not None:
        consequence += (
            f", and the mutual information subtracts it; drop the redundant columns of "
            f"{group} (a function of the others adds nothing to the mutual information)"
        )
    return ValueError(f"{found.finding}, so {consequence}")


def _scores(X: Array, labels: Labels, s: InformationSettings, quantity: str) -> Array:
    """Tie-broken normal scores of ``X``, or a ``ValueError`` for degenerate data.

    Args:
        X: Validated samples (for :func:`mutual_information`, ``X`` and ``Y`` side by side).
        labels: The names of the columns, for the error messages.
        s: The settings; their ``random_state`` fixes the order given to ties.
        quantity: What is being estimated, for the error messages.
    """
    n, d = X.shape
    check_rows(n, d, labels, quantity)
    ranks = tie_broken_ranks(X, _key(s, 0))
    found = monotone_pair(ranks, labels) or linear_dependence(
        X, np.flatnonzero(tie_free(X)), labels
    )
    z = scores_from_ranks(ranks, X.dtype)
    r = correlation(z)
    found = found or singular_scores(r, n, X.dtype, labels)
    if found:
        raise _refuse(found, labels, quantity, X.dtype)
    _warn_unresolved(r, n, quantity)
    return z


def _warn_unresolved(r: Array, n: int, quantity: str) -> None:
    """Warn with :class:`UnresolvedDependenceWarning` if ``r`` has an eigenvalue below ``1/n²``."""
    if r.shape[0] < 2:
        return
    smallest = float(np.linalg.eigvalsh(np.asarray(r, np.float64))[0])
    if smallest < 1.0 / n**2:
        warnings.warn(
            f"near-deterministic dependence: the normal scores' correlation has an eigenvalue "
            f"{smallest:.2e} < 1/n² (n = {n}), i.e. more than log n = {math.log(n):.2f} nats along "
            f"one direction, which {n} rows cannot resolve; the {quantity} estimate is finite "
            "but only a lower bound",
            UnresolvedDependenceWarning,
            stacklevel=4,
        )


def _beyond_log_n(mi: float, n: int, quantity: str = "mutual information") -> float:
    """``mi``, warning with :class:`UnresolvedDependenceWarning` if it exceeds ``log n``."""
    if mi > math.log(n):
        warnings.warn(
            f"near-deterministic dependence: the {quantity} estimate {mi:.2f} nats exceeds "
            f"log n = {math.log(n):.2f}, more than {n} rows can resolve; the estimate is finite "
            "but only a lower bound's order of magnitude",
            UnresolvedDependenceWarning,
            stacklevel=4,
        )
    return mi


#: How far below 0 (nats) an estimate of a non-negative measure may fall by sampling noise
#: alone; further below, the fit did not resolve the dependence and a warning says so.
NEGATIVE_NOISE_NATS = 0.05


def _nonnegative(value: float, quantity: str) -> float:
    """A finite estimate of a non-negative measure, cut at 0 (sampling noise around a 0 truth).

    An estimate more than :data:`NEGATIVE_NOISE_NATS` below 0 is no sampling noise: the
    Gaussianization left structure it could not model (typically data on or near a
    lower-dimensional manifold), so the 0 returned is flagged as unreliable.
    """
    value = _finite(value, quantity)
    if value < -NEGATIVE_NOISE_NATS:
        warnings.warn(
            f"unresolved dependence: the raw {quantity} estimate is {value:.3f} nats, below 0 by "
            f"more than sampling noise ({NEGATIVE_NOISE_NATS} nats); the data likely lie on or "
            "near a lower-dimensional manifold the fit could not resolve, so the returned 0 is "
            "not a reliable estimate",
            UnresolvedDependenceWarning,
            stacklevel=4,
        )
    return max(value, 0.0)


def _check_uncertainty(uncertainty: Uncertainty | None) -> Uncertainty | None:
    if uncertainty is not None and not isinstance(uncertainty, Uncertainty):
        raise TypeError(
            f"uncertainty must be an Uncertainty or None; got {type(uncertainty).__name__}"
        )
    return uncertainty


def _result(
    value: float,
    core: Any,
    samples: tuple[Array, ...],
    uncertainty: Uncertainty | None,
    *,
    paired: bool,
    low: float | None = 0.0,
    high: float | None = None,
) -> float | Estimate:
    """``value``, or its :class:`Estimate` by subsampling ``core`` on ``samples``."""
    if uncertainty is None:
        return value
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnresolvedDependenceWarning)
        return subsample_estimate(
            core, samples, value, uncertainty, paired=paired, min_rows=MIN_SAMPLES,
            low=low, high=high,
        )


def _finite(value: float, quantity: str) -> float:
    """``value`` as a float; a NaN (which no data should produce) becomes a ``ValueError``."""
    if math.isnan(value):
        raise ValueError(
            f"the {quantity} estimate is NaN: the data are degenerate in a way not recognised "
            "(is a column a function of others?)"
        )
    return float(value)


def _warn_discrete(X: Array, spacing: int, name: str, quantity: str) -> None:
    """Warn with :class:`DiscreteDataWarning` if a column of ``X`` looks discrete."""
    found = discrete_columns(X, spacing)
    if found is None:
        return
    word, verb = ("column", "repeats") if len(found.columns) == 1 else ("columns", "repeat")
    columns = ", ".join(map(str, found.columns))
    warnings.warn(
        f"{name} looks discrete: {word} {columns} {verb} a value in more than 2 x spacing = "
        f"{2 * spacing} rows (column {found.columns[0]}: {found.distinct} distinct values, the "
        f"most frequent in {found.most} of {X.shape[0]} rows). Discrete data have no density, "
        f"so the {quantity} is not defined for them; the estimate is that of the data with every "
        "repeated value spread uniformly over the interval halfway to its neighbouring values",
        DiscreteDataWarning,
        stacklevel=3,
    )


def _entropy(X: Array, s: InformationSettings, quantity: str = "entropy") -> float:
    """:func:`entropy` of validated samples (already warned about if they look discrete)."""
    m = check_spacing(s.spacing, X.shape[0])
    marginal = float(jnp.sum(spacing_entropy(dequantize(X, _key(s, 1)), m)))
    z = _scores(X, Labels((("X", 0, X.shape[1]),)), s, quantity)
    return _finite(marginal - scores_total_correlation(z, s), quantity)


def total_correlation(
    X: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
    **deprecated: Any,
) -> float | Estimate:
    """Total correlation ``TC(X) = Σᵢ H(Xᵢ) − H(X)`` (multi-information) in nats.

    Invariant under monotone maps of each column: the columns are replaced by their
    normal scores first. The Gaussian part ``−½ log det R`` is exact up to an analytically
    removed bias; the non-Gaussian rest is measured by iterative Gaussianization. Tied
    values are ranked in a random order per column (fixed by the settings'
    ``random_state``), so discrete data get the total correlation of the discrete data.

    Args:
        X: Samples, shape ``(n_samples, n_dims)``.
        settings: How to estimate (:class:`InformationSettings`; ``None``: the defaults).
        uncertainty: If given (:class:`Uncertainty`), return an :class:`Estimate` with a
            standard error and interval from subsamples of the rows.
        **deprecated: The former keywords ``spacing``, ``max_blocks`` (now
            ``max_layers``), ``threshold``, ``patience``, ``n_reference`` and
            ``random_state``, mapped into the settings with a ``DeprecationWarning``.

    Returns:
        The estimate (a Python float, never negative), or an :class:`Estimate`.

    Raises:
        ValueError: For NaN/inf, constant columns, fewer than 20 rows or no more rows than
            columns, bad settings, or infinite total correlation: two columns with equal
            or reversed ranks (one a monotone function of the other), or linearly
            dependent columns without ties.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> X = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=2000)
        >>> round(gf.total_correlation(X), 1)  # truth −½ log(1 − 0.64) = 0.51
        0.5

    References:
        Laparra et al. (2011, 2020); see :mod:`gauss_flows.information`.
    """
    s = _settings("total_correlation", settings, deprecated)
    uncertainty = _check_uncertainty(uncertainty)
    X = _samples(X, "X")

    def core(X: Array) -> float:
        z = _scores(X, Labels((("X", 0, X.shape[1]),)), s, "total correlation")
        return _nonnegative(scores_total_correlation(z, s), "total correlation")

    return _result(core(X), core, (X,), uncertainty, paired=True)


def entropy(
    X: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
    **deprecated: Any,
) -> float | Estimate:
    """Differential entropy ``H(X) = Σᵢ H(Xᵢ) − TC(X)`` in nats.

    Marginal entropies come from the bias-corrected spacing estimator, the total
    correlation from :func:`total_correlation`. Discrete data have no density: if a
    column holds one value in more than ``2 · spacing`` rows, a
    :class:`DiscreteDataWarning` says so, and the estimate is that of the data with every
    repeated value spread uniformly over its cell (halfway to the neighbouring values).

    Args:
        X: Samples, shape ``(n_samples, n_dims)`` (a 1-D array is one column).
        settings: How to estimate (:class:`InformationSettings`; ``None``: the defaults).
        uncertainty: If given, return an :class:`Estimate` (see :func:`total_correlation`).
        **deprecated: The former keywords of the settings, as in :func:`total_correlation`.

    Returns:
        The estimate (a Python float), or an :class:`Estimate`.

    Raises:
        ValueError: As :func:`total_correlation`; columns that are functions of one
            another leave ``X`` without a joint density (entropy ``−∞``).

    Warns:
        DiscreteDataWarning: If ``X`` looks discrete.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).normal(size=(2000, 2))
        >>> round(gf.entropy(X), 1)  # truth log(2πe) = 2.84
        2.8

    References:
        Vasicek (1976) and Ebrahimi et al. (1994) for the 1-D entropies; Laparra et al.
        (2020) for the total correlation. See :mod:`gauss_flows.information`.
    """
    s = _settings("entropy", settings, deprecated)
    uncertainty = _check_uncertainty(uncertainty)
    X = _samples(X, "X")
    _warn_discrete(X, check_spacing(s.spacing, X.shape[0]), "X", "differential entropy")
    return _result(
        _entropy(X, s), lambda X: _entropy(X, s), (X,), uncertainty, paired=True, low=None
    )


def mutual_information(
    X: ArrayLike,
    Y: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
    **deprecated: Any,
) -> float | Estimate:
    """Mutual information ``I(X; Y) = TC(X, Y) − TC(X) − TC(Y)`` in nats.

    Invariant under monotone maps of each column of ``X`` and of ``Y``. The Gaussian
    parts of the three total correlations come from one correlation matrix of the joint
    normal scores, with their exact biases removed. Tied values are ranked in a random
    order per column, so discrete data get the mutual information of the discrete data
    (0 for independent columns, ``H(X)`` for ``Y = X``).

    Args:
        X: Samples of the first variable, shape ``(n_samples, d_x)`` (1-D: one column).
        Y: Paired samples of the second, shape ``(n_samples, d_y)`` (1-D: one column).
        settings: How to estimate (:class:`InformationSettings`; ``None``: the defaults).
        uncertainty: If given, return an :class:`Estimate` (see :func:`total_correlation`).
        **deprecated: The former keywords of the settings, as in :func:`total_correlation`.

    Returns:
        The estimate (a Python float, never negative), or an :class:`Estimate`.

    Raises:
        ValueError: For NaN/inf, constant columns, fewer than 20 rows or no more rows
            than columns of ``X`` and ``Y`` together, ``X`` and ``Y`` with different
            numbers of rows, or bad settings; for a column of ``X`` and one of ``Y`` with
            equal or reversed ranks (infinite mutual information), or such a pair within
            ``X`` or within ``Y`` (whose infinite total correlation the estimate would
            subtract); and likewise for linearly dependent columns without ties.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> xy = rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=2000)
        >>> round(gf.mutual_information(np.exp(xy[:, 0]), xy[:, 1] ** 3), 1)
        0.5

    References:
        Laparra et al. (2020); see :mod:`gauss_flows.information`.
    """
    s = _settings("mutual_information", settings, deprecated)
    uncertainty = _check_uncertainty(uncertainty)
    X = _samples(X, "X")
    Y = _samples(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            "X and Y must hold paired samples (the same number of rows); "
            f"got {X.shape[0]} and {Y.shape[0]}"
        )

    def core(X: Array, Y: Array) -> float:
        (n, dx), dy = X.shape, Y.shape[1]
        labels = Labels((("X", 0, dx), ("Y", dx, dx + dy)))
        XY = jnp.concatenate([X, Y.astype(X.dtype)], axis=1)
        z = _scores(XY, labels, s, "mutual information")
        # One path (the elliptical family chosen on the joint, or the Gaussian parts of one
        # correlation matrix) for the joint and both parts, so their biases cancel.
        raw = GroupTotalCorrelations(z, s).signed_sum(
            ((1, np.arange(dx + dy), 0), (-1, np.arange(dx), 1), (-1, np.arange(dx, dx + dy), 2))
        )
        return _beyond_log_n(_nonnegative(raw, "mutual information"), n)

    return _result(core(X, Y), core, (X, Y), uncertainty, paired=True)


def kl_divergence(
    X: ArrayLike,
    Y: ArrayLike,
    *,
    method: str = "auto",
    n_components: int = 8,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
    **deprecated: Any,
) -> float | Estimate:
    """Kullback–Leibler divergence ``KL(p ‖ q)`` between the distributions of two samples.

    ``KL(p ‖ q) = −H(p) − E_p log q``. ``H(p)`` is :func:`entropy` of ``X``. ``log q`` is
    split into a Gaussian with the moments of ``Y`` (its cross-entropy is closed-form in the
    moments, with the biases of the estimated log-determinant, inverse covariance and mean
    difference removed) and the non-Gaussian correction ``log q − log N_q``, taken from a
    greedy Gaussianization fit of ``Y`` (:func:`fit_rbig`, depth chosen automatically) and
    averaged over ``X``.

    Args:
        X: Samples from ``p``, shape ``(n_p, n_dims)``.
        Y: Samples from ``q``, shape ``(n_q, n_dims)``.
        method: ``"gaussian"`` drops the non-Gaussian correction, ``"flow"`` always uses
            it, ``"auto"`` uses it only if ``Y`` is detectably non-Gaussian (a marginal
            negentropy or a layer of the total-correlation remainder above the settings'
            ``threshold``).
        n_components: Mixture components per dimension of the greedy fit of ``Y``.
        settings: How to estimate (:class:`InformationSettings`; ``None``: the defaults);
            its ``random_state`` also fixes the greedy fit of ``Y``.
        uncertainty: If given, return an :class:`Estimate`; ``X`` and ``Y`` are
            subsampled independently (see :func:`total_correlation`).
        **deprecated: The former keywords of the settings, as in :func:`total_correlation`.

    Returns:
        The estimate (a Python float, never negative), or an :class:`Estimate`.

    Raises:
        ValueError: For NaN/inf, constant columns, fewer than 20 rows, different numbers
            of columns, fewer rows of ``Y`` than ``n_dims + 4``, or bad settings; and for
            ``X`` or ``Y`` without a joint density (as in :func:`entropy`), which makes
            the divergence infinite.

    Warns:
        DiscreteDataWarning: If ``X`` or ``Y`` looks discrete (as in :func:`entropy`);
            both are then measured with every repeated value spread over its cell.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(0.5, 1.0, size=(2000, 2))
        >>> Y = rng.normal(0.0, 1.0, size=(2000, 2))
        >>> round(gf.kl_divergence(X, Y), 1)  # truth 2 × 0.5² / 2 = 0.25
        0.2

    References:
        Laparra et al. (2020); see :mod:`gauss_flows.information`.
    """
    if method not in ("auto", "gaussian", "flow"):
        raise ValueError(f"method must be 'auto', 'gaussian' or 'flow'; got {method!r}")
    n_components = check_int("n_components", n_components)
    s = _settings("kl_divergence", settings, deprecated)
    uncertainty = _check_uncertainty(uncertainty)
    X = _samples(X, "X")
    Y = _samples(Y, "Y").astype(X.dtype)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of columns; got {X.shape[1]} and {Y.shape[1]}"
        )
    n_q, d = Y.shape
    if n_q < d + 4:
        raise ValueError(
            f"Y has {n_q} rows; at least n_dims + 4 = {d + 4} are needed for its covariance"
        )
    for name, data in (("X", X), ("Y", Y)):
        spacing = check_spacing(s.spacing, data.shape[0])
        _warn_discrete(data, spacing, name, "KL divergence")
    # Both samples dequantized once, so every term below sees the same continuous data.
    X, Y = dequantize(X, _key(s, 2)), dequantize(Y, _key(s, 3))
    _scores(Y, Labels((("Y", 0, d),)), s, "KL divergence")
    # Whether Y needs the non-Gaussian correction is decided once, on all of Y.
    flow = method == "flow" or (method == "auto" and _detectably_nongaussian(Y, s))

    def core(X: Array, Y: Array) -> float:
        x, y = np.asarray(X, np.float64), np.asarray(Y, np.float64)
        cross_entropy = _gaussian_cross_entropy(x, y)
        h_p = _entropy(X, s, "KL divergence")
        correction = _nongaussian_log_ratio(X, Y, s, n_components) if flow else 0.0
        return _nonnegative(cross_entropy - h_p - correction, "KL divergence")

    return _result(core(X, Y), core, (X, Y), uncertainty, paired=False)


def _gaussian_cross_entropy(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased ``−E_p log N_q``: ``N_q`` the Gaussian with the moments of the rows ``y``.

    Built from unbiased pieces: ``E log det Σ̂_q``, ``E Σ̂_q⁻¹ = (n−1)/(n−d−2) Σ_q⁻¹`` and
    ``E[δ̂ δ̂ᵀ] = δδᵀ + Σ_p/n_p + Σ_q/n_q`` for the difference of the means ``δ``.
    """
    (n_p, d), n_q = x.shape, y.shape[0]
    mu_p, mu_q = x.mean(axis=0), y.mean(axis=0)
    cov_p, cov_q = np.cov(x, rowvar=False).reshape(d, d), np.cov(y, rowvar=False).reshape(d, d)
    k = np.arange(1, d + 1)
    logdet_q = np.linalg.slogdet(cov_q)[1] - (
        np.sum(digamma((n_q - k) / 2.0)) + d * np.log(2.0 / (n_q - 1))
    )
    prec_q = np.linalg.inv(cov_q) * (n_q - d - 2) / (n_q - 1)
    delta = mu_p - mu_q
    trace = np.trace(prec_q @ cov_p)
    quad = delta @ prec_q @ delta - trace / n_p - d / n_q
    return 0.5 * (d * np.log(2 * np.pi) + logdet_q + trace + quad)


def _detectably_nongaussian(Y: Array, s: InformationSettings) -> bool:
    """Whether a marginal negentropy or a TC-remainder layer of ``Y`` clears the noise."""
    n, d = Y.shape
    m = check_spacing(s.spacing, n)
    mean, spread = negentropy_null(n, m, str(Y.dtype))
    if bool(jnp.any(negentropy(Y, m) - mean > s.threshold * spread)):
        return True
    if d == 1:
        return False
    return remainder_of_scores(normal_scores(Y), s, salt=3).counted > 0


def _nongaussian_log_ratio(X: Array, Y: Array, s: InformationSettings, n_components: int) -> float:
    """``E_p[log q̂ − log N_q̂]`` with ``q̂`` a greedy fit of ``Y`` and ``N_q̂`` its moment match."""
    # The depth by the training gains (val_fraction=0): every row of Y stays in the fit.
    flow = fit_rbig(
        Y, n_layers=None, n_components=n_components, random_state=s.random_state, val_fraction=0
    )
    y = np.asarray(Y, np.float64)
    mu, cov = y.mean(axis=0), np.cov(y, rowvar=False).reshape(y.shape[1], y.shape[1])
    x = np.asarray(X, np.float64)
    diff = x - mu
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, diff.T)
    log_gauss = (
        -0.5 * np.sum(sol**2, axis=0)
        - np.log(np.diag(chol)).sum()
        - 0.5 * x.shape[1] * np.log(2 * np.pi)
    )
    log_flow = np.asarray(flow.log_prob(X))
    return float(np.mean(log_flow - log_gauss))
