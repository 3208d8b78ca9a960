"""The rest of the information suite: measures built from total correlations of column groups.

Every measure here is a signed sum of total correlations of groups of columns, all
computed from *one* set of joint normal scores (:mod:`gauss_flows.information`) by the
one path of :func:`~gauss_flows.total_correlation` and
:func:`~gauss_flows.mutual_information` (``_information.groups``): where the
elliptical-copula candidate wins on the joint scores, every group is measured under the
elliptical family chosen there; otherwise the Gaussian parts come from sub-blocks of one
correlation matrix (each with its exact bias removed) and the non-Gaussian parts from the
rank-RBIG remainder of each group. The marginal entropies cancel from every such sum, so
no 1-D entropy estimate enters:

* conditional mutual information ``I(X; Y | Z) = TC(XYZ) − TC(XZ) − TC(YZ) + TC(Z)``;
* interaction (co-)information ``I(X; Y; Z) = I(X; Y) − I(X; Y | Z)`` (positive for
  redundancy, negative for synergy);
* dual total correlation ``DTC = (d − 1) TC(X) − Σᵢ TC(X₋ᵢ)`` and O-information
  ``Ω = TC − DTC = (2 − d) TC(X) + Σᵢ TC(X₋ᵢ)``;
* the pairwise mutual-information matrix, with the Gaussian (or radial) parts of all
  pairs first and the non-Gaussian remainders of all pairs run as one vectorised loop.

The Jensen–Shannon divergence ``H(M) − ½ H(P) − ½ H(Q)`` (``M`` the equal mixture) uses
:func:`~gauss_flows.entropy`; :func:`negentropy` and :func:`information_reduction` expose
the two ingredients of every estimate: the marginal non-Gaussianity and the information
each RBIG layer removes.

Example:
    >>> import numpy as np
    >>> import gauss_flows as gf
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 1))
    >>> x, y = z + rng.normal(size=(2000, 1)), z + rng.normal(size=(2000, 1))
    >>> gf.conditional_mutual_information(x, y, z) < 0.05  # X ⟂ Y given Z
    True

References:
    Laparra, V., Johnson, J. E., Camps-Valls, G., Santos-Rodríguez, R. & Malo, J. (2020).
    Information theory measures via multidimensional Gaussianization. arXiv:2010.03807.
    McGill, W. J. (1954). Multivariate information transmission. Psychometrika 19(2).
    Rosas, F. E., Mediano, P. A. M., Gastpar, M. & Jensen, H. J. (2019). Quantifying
    high-order interdependencies via multivariate extensions of the mutual information.
    Physical Review E 100(3).
    Lin, J. (1991). Divergence measures based on the Shannon entropy. IEEE Transactions on
    Information Theory 37(1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, ArrayLike

from gauss_flows._information.degenerate import Labels
from gauss_flows._information.entropy1d import check_spacing, negentropy_null
from gauss_flows._information.entropy1d import negentropy as _negentropy
from gauss_flows._information.elliptical import radially_gaussianized
from gauss_flows._information.gaussian import correlation, logdet_bias, whiten
from gauss_flows._information.groups import GroupTotalCorrelations
from gauss_flows._information.remainder import gains_until_quiet, null_profile
from gauss_flows._information.settings import InformationSettings
from gauss_flows._information.ties import dequantize
from gauss_flows._information.uncertainty import Estimate, Uncertainty
from gauss_flows.information import (
    _beyond_log_n,
    _check_uncertainty,
    _entropy,
    _key,
    _nonnegative,
    _result,
    _samples,
    _scores,
    _settings,
    _warn_discrete,
)

__all__ = [
    "InformationReduction",
    "conditional_mutual_information",
    "dual_total_correlation",
    "information_reduction",
    "interaction_information",
    "jensen_shannon_divergence",
    "negentropy",
    "o_information",
    "pairwise_mutual_information",
]


def _paired(named: tuple[tuple[str, ArrayLike], ...]) -> list[Array]:
    """Validate paired samples (one column each for 1-D input) with equal row counts."""
    arrays = [_samples(a, name) for name, a in named]
    rows = {name: a.shape[0] for (name, _), a in zip(named, arrays)}
    if len(set(rows.values())) > 1:
        listed = ", ".join(f"{k} {v}" for k, v in rows.items())
        raise ValueError(f"the samples must be paired (the same number of rows); got {listed}")
    dtype = arrays[0].dtype
    return [a.astype(dtype) for a in arrays]


class _Groups:
    """Column groups of one joint sample, their total correlations by one shared path.

    The joint normal scores are made (and checked for degeneracy) once; every total
    correlation is then :class:`~gauss_flows._information.groups.GroupTotalCorrelations`
    of those scores, the path of :func:`~gauss_flows.total_correlation` and
    :func:`~gauss_flows.mutual_information`.
    """

    def __init__(self, arrays: list[Array], names: tuple[str, ...], s: InformationSettings,
                 quantity: str) -> None:
        dims = [a.shape[1] for a in arrays]
        edges = np.cumsum([0, *dims])
        self.columns = [np.arange(a, b) for a, b in zip(edges[:-1], edges[1:])]
        labels = Labels(tuple((nm, int(a), int(b)) for nm, a, b in zip(names, edges[:-1], edges[1:])))
        joint = jnp.concatenate(arrays, axis=1)
        self.n = joint.shape[0]
        self.tcs = GroupTotalCorrelations(_scores(joint, labels, s, quantity), s)

    def cols(self, *groups: int) -> np.ndarray:
        """The columns of the union of the given groups."""
        return np.concatenate([self.columns[g] for g in groups])

    def signed_sum(self, *terms: tuple[float, np.ndarray]) -> float:
        """``Σ c · TC(cols)`` over pairs ``(c, cols)``, each group its own rotations."""
        return self.tcs.signed_sum(
            tuple((c, cols, salt) for salt, (c, cols) in enumerate(terms, start=1))
        )

    def cmi_terms(self) -> tuple[tuple[float, np.ndarray], ...]:
        """``I(X; Y | Z) = TC(XYZ) − TC(XZ) − TC(YZ) + TC(Z)`` of groups 0, 1, 2."""
        c = self.cols
        return ((1, c(0, 1, 2)), (-1, c(0, 2)), (-1, c(1, 2)), (1, c(2)))


def conditional_mutual_information(
    X: ArrayLike,
    Y: ArrayLike,
    Z: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
) -> float | Estimate:
    """Conditional mutual information ``I(X; Y | Z)`` in nats.

    Computed as ``TC(X, Y, Z) − TC(X, Z) − TC(Y, Z) + TC(Z)`` from one set of joint normal
    scores, so it is invariant under monotone maps of every column.

    Args:
        X: Samples of ``X``, shape ``(n_samples, d_x)`` (1-D: one column).
        Y: Paired samples of ``Y``, shape ``(n_samples, d_y)``.
        Z: Paired samples of the conditioning variable, shape ``(n_samples, d_z)``.
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).
        uncertainty: If given (:class:`~gauss_flows.Uncertainty`), return an
            :class:`~gauss_flows.Estimate`.

    Returns:
        The estimate (never negative), or an :class:`~gauss_flows.Estimate`.

    Raises:
        ValueError: For bad or unpaired samples and for degenerate data, as in
            :func:`~gauss_flows.mutual_information`.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(1)
        >>> x, z = rng.normal(size=(2, 2000))
        >>> y = x + z + rng.normal(size=2000)
        >>> truth = 0.5 * np.log(2)  # I(X; Y | Z) = ½ log(1 + 1)
        >>> bool(abs(gf.conditional_mutual_information(x, y, z) - truth) < 0.05)
        True

    References:
        Laparra et al. (2020); see :mod:`gauss_flows.information_suite`.
    """
    s = _settings("conditional_mutual_information", settings, {})
    uncertainty = _check_uncertainty(uncertainty)
    arrays = _paired((("X", X), ("Y", Y), ("Z", Z)))

    def core(X: Array, Y: Array, Z: Array) -> float:
        g = _Groups([X, Y, Z], ("X", "Y", "Z"), s, "conditional mutual information")
        value = g.signed_sum(*g.cmi_terms())
        quantity = "conditional mutual information"
        return _beyond_log_n(_nonnegative(value, quantity), g.n, quantity)

    return _result(core(*arrays), core, tuple(arrays), uncertainty, paired=True)


def interaction_information(
    X: ArrayLike,
    Y: ArrayLike,
    Z: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
) -> float | Estimate:
    """Interaction (co-)information ``I(X; Y; Z) = I(X; Y) − I(X; Y | Z)`` in nats.

    Symmetric in its three arguments; positive when the variables share redundant
    information, negative when they are synergistic (``Z`` reveals a dependence of ``X``
    and ``Y``, as for ``Z = X + Y``). It is McGill's sign convention, the one of
    :func:`o_information` (for three scalar variables the two coincide).

    Args:
        X: Samples of ``X``, shape ``(n_samples, d_x)`` (1-D: one column).
        Y: Paired samples of ``Y``.
        Z: Paired samples of ``Z``.
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).
        uncertainty: If given, return an :class:`~gauss_flows.Estimate`.

    Returns:
        The signed estimate, or an :class:`~gauss_flows.Estimate`.

    Raises:
        ValueError: As :func:`conditional_mutual_information`.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(2)
        >>> x, y = rng.normal(size=(2, 2000))
        >>> gf.interaction_information(x, y, x + y + 0.5 * rng.normal(size=2000)) < 0  # synergy
        True

    References:
        McGill (1954); see :mod:`gauss_flows.information_suite`.
    """
    s = _settings("interaction_information", settings, {})
    uncertainty = _check_uncertainty(uncertainty)
    arrays = _paired((("X", X), ("Y", Y), ("Z", Z)))

    def core(X: Array, Y: Array, Z: Array) -> float:
        g = _Groups([X, Y, Z], ("X", "Y", "Z"), s, "interaction information")
        mi = ((1, g.cols(0, 1)), (-1, g.cols(0)), (-1, g.cols(1)))
        cmi = tuple((-c, cols) for c, cols in g.cmi_terms())
        return g.signed_sum(*mi, *cmi)

    return _result(core(*arrays), core, tuple(arrays), uncertainty, paired=True, low=None)


def _leave_one_out(
    X: Array, s: InformationSettings, quantity: str, c_all: float, c_minus: float
) -> float:
    """``c_all · TC(X) + c_minus · Σᵢ TC(X₋ᵢ)`` over the columns of ``X``."""
    d = X.shape[1]
    g = _Groups([X], ("X",), s, quantity)
    cols = np.arange(d)
    return g.signed_sum((c_all, cols), *((c_minus, np.delete(cols, i)) for i in range(d)))


def _columns(X: ArrayLike, least: int, quantity: str) -> Array:
    X = _samples(X, "X")
    if X.shape[1] < least:
        raise ValueError(f"the {quantity} needs at least {least} columns; X has {X.shape[1]}")
    return X


def dual_total_correlation(
    X: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
) -> float | Estimate:
    """Dual total correlation (binding information) ``H(X) − Σᵢ H(Xᵢ | X₋ᵢ)`` in nats.

    Computed as ``(d − 1) TC(X) − Σᵢ TC(X₋ᵢ)``, ``d + 1`` total correlations of column
    subsets of one set of normal scores.

    Args:
        X: Samples, shape ``(n_samples, n_dims)`` with ``n_dims ≥ 2``.
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).
        uncertainty: If given, return an :class:`~gauss_flows.Estimate`.

    Returns:
        The estimate (never negative), or an :class:`~gauss_flows.Estimate`.

    Raises:
        ValueError: For fewer than 2 columns, and as :func:`~gauss_flows.total_correlation`.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).multivariate_normal(
        ...     [0, 0], [[1, 0.8], [0.8, 1]], size=2000)
        >>> round(gf.dual_total_correlation(X), 1)  # two columns: DTC = TC = 0.51
        0.5

    References:
        Rosas et al. (2019); see :mod:`gauss_flows.information_suite`.
    """
    s = _settings("dual_total_correlation", settings, {})
    uncertainty = _check_uncertainty(uncertainty)
    X = _columns(X, 2, "dual total correlation")

    def core(X: Array) -> float:
        value = _leave_one_out(X, s, "dual total correlation", X.shape[1] - 1, -1)
        return _nonnegative(value, "dual total correlation")

    return _result(core(X), core, (X,), uncertainty, paired=True)


def o_information(
    X: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
) -> float | Estimate:
    """O-information ``Ω(X) = TC(X) − DTC(X)`` in nats.

    Positive when the dependence among the columns is dominated by redundancy, negative
    when by synergy. Computed as ``(2 − d) TC(X) + Σᵢ TC(X₋ᵢ)``.

    Args:
        X: Samples, shape ``(n_samples, n_dims)`` with ``n_dims ≥ 3`` (for two columns
            ``Ω`` is 0 by definition).
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).
        uncertainty: If given, return an :class:`~gauss_flows.Estimate`.

    Returns:
        The signed estimate, or an :class:`~gauss_flows.Estimate`.

    Raises:
        ValueError: For fewer than 3 columns, and as :func:`~gauss_flows.total_correlation`.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> z = rng.normal(size=(2000, 1))
        >>> X = z + 0.5 * rng.normal(size=(2000, 3))  # three noisy copies: redundancy
        >>> gf.o_information(X) > 0
        True

    References:
        Rosas et al. (2019); see :mod:`gauss_flows.information_suite`.
    """
    s = _settings("o_information", settings, {})
    uncertainty = _check_uncertainty(uncertainty)
    X = _columns(X, 3, "O-information")

    def core(X: Array) -> float:
        return _leave_one_out(X, s, "O-information", 2 - X.shape[1], 1)

    return _result(core(X), core, (X,), uncertainty, paired=True, low=None)


def jensen_shannon_divergence(
    X: ArrayLike,
    Y: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
) -> float | Estimate:
    """Jensen–Shannon divergence ``H(M) − ½ H(P) − ½ H(Q)``, ``M = ½ (P + Q)``, in nats.

    ``m = min(n_P, n_Q)`` rows of each sample (a random subset of the larger one, fixed
    by the settings' ``random_state``) stand for ``P`` and ``Q``, and their union for
    the equal mixture ``M``; the three entropies are :func:`~gauss_flows.entropy`, whose
    errors largely cancel in the difference. The result lies in ``[0, log 2]``.

    Args:
        X: Samples from ``P``, shape ``(n_p, n_dims)``.
        Y: Samples from ``Q``, shape ``(n_q, n_dims)``.
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).
        uncertainty: If given, return an :class:`~gauss_flows.Estimate` (``X`` and ``Y``
            subsampled independently).

    Returns:
        The estimate, in ``[0, log 2]``, or an :class:`~gauss_flows.Estimate`.

    Raises:
        ValueError: For bad samples, different numbers of columns, or samples without a
            joint density (as :func:`~gauss_flows.entropy`).

    Warns:
        DiscreteDataWarning: If ``X`` or ``Y`` looks discrete.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> X, Y = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))
        >>> gf.jensen_shannon_divergence(X, Y) < 0.02
        True

    References:
        Lin (1991); see :mod:`gauss_flows.information_suite`.
    """
    s = _settings("jensen_shannon_divergence", settings, {})
    uncertainty = _check_uncertainty(uncertainty)
    X, Y = _samples(X, "X"), _samples(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of columns; got {X.shape[1]} and {Y.shape[1]}"
        )
    Y = Y.astype(X.dtype)
    for name, data in (("X", X), ("Y", Y)):
        _warn_discrete(data, check_spacing(s.spacing, data.shape[0]), name, "Jensen-Shannon divergence")
    X, Y = dequantize(X, _key(s, 4)), dequantize(Y, _key(s, 5))
    rng = np.random.default_rng(s.random_state)

    def core(X: Array, Y: Array) -> float:
        m = min(X.shape[0], Y.shape[0])
        x = X if X.shape[0] == m else X[np.sort(rng.choice(X.shape[0], m, replace=False))]
        y = Y if Y.shape[0] == m else Y[np.sort(rng.choice(Y.shape[0], m, replace=False))]
        quantity = "Jensen-Shannon divergence"
        h_m = _entropy(jnp.concatenate([x, y], axis=0), s, quantity)
        value = h_m - 0.5 * (_entropy(x, s, quantity) + _entropy(y, s, quantity))
        return float(min(_nonnegative(value, quantity), math.log(2.0)))

    return _result(core(X, Y), core, (X, Y), uncertainty, paired=False, high=math.log(2.0))


def negentropy(
    X: ArrayLike,
    *,
    settings: InformationSettings | None = None,
    uncertainty: Uncertainty | None = None,
) -> np.ndarray | Estimate:
    """Marginal negentropy ``J(Xᵢ) = H(N(μᵢ, σᵢ²)) − H(Xᵢ)`` of every column, in nats.

    The non-Gaussianity of each marginal: 0 for a Gaussian column, positive otherwise.
    ``H(Xᵢ)`` is the bias-corrected spacing estimate; the estimator's mean on Gaussian
    data of the same size (its residual bias) is subtracted, and the result cut at 0.

    Args:
        X: Samples, shape ``(n_samples, n_dims)`` (1-D: one column).
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`; its
            ``spacing`` is the one used).
        uncertainty: If given, return an :class:`~gauss_flows.Estimate` whose fields are
            arrays, one entry per column.

    Returns:
        A float64 array of shape ``(n_dims,)``, or an :class:`~gauss_flows.Estimate`.

    Raises:
        ValueError: For NaN/inf, constant columns or fewer than 20 rows.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> X = np.column_stack([rng.normal(size=5000), rng.uniform(size=5000)])
        >>> J = gf.negentropy(X)  # uniform: ½ log(2πe/12) = 0.179
        >>> float(J[0]), bool(abs(J[1] - 0.179) < 0.02)
        (0.0, True)

    References:
        Vasicek (1976); Laparra et al. (2011); see :mod:`gauss_flows.information`.
    """
    s = _settings("negentropy", settings, {})
    uncertainty = _check_uncertainty(uncertainty)
    X = _samples(X, "X")

    def core(X: Array) -> np.ndarray:
        m = check_spacing(s.spacing, X.shape[0])
        bias = negentropy_null(X.shape[0], m, str(X.dtype))[0]
        return np.maximum(np.asarray(_negentropy(X, m), np.float64) - bias, 0.0)

    return _result(core(X), core, (X,), uncertainty, paired=True)


@dataclass(frozen=True)
class InformationReduction:
    """How iterative Gaussianization removes the total correlation of a sample, layer by layer.

    Attributes:
        gaussian: The Gaussian part ``−½ log det R`` (bias removed), which the first
            decorrelation removes.
        layers: The information each rank-RBIG layer removed after it (the Gaussian
            reference's mean subtracted), one entry per layer run.
        counted: How many leading layers stand clear of the reference's noise; their sum
            is the non-Gaussian part of the estimate.
        radial: Where the elliptical-copula candidate is chosen, what its radial
            Gaussianization removed beyond the Gaussian part (the layers then run on the
            radially Gaussianized rows); 0 otherwise.

    Example:
        >>> r = InformationReduction(0.5, np.array([0.1, 0.0]), 1)
        >>> r.total
        0.6
    """

    gaussian: float
    layers: np.ndarray
    counted: int
    radial: float = 0.0

    @property
    def total(self) -> float:
        """The total-correlation estimate: the Gaussian and radial parts plus the counted layers."""
        head = self.gaussian + self.radial
        return float(head + max(float(np.sum(self.layers[: self.counted])), 0.0))

    @property
    def cumulative(self) -> np.ndarray:
        """Information removed after each layer, the Gaussian and radial parts first
        (length ``1 + layers``)."""
        head = self.gaussian + self.radial
        return head + np.concatenate([[0.0], np.cumsum(self.layers)])


def information_reduction(
    X: ArrayLike, *, settings: InformationSettings | None = None
) -> InformationReduction:
    """The per-layer information reduction of iterative Gaussianization on ``X``.

    The estimate of :func:`~gauss_flows.total_correlation` broken into its parts: the
    Gaussian part in closed form, the radial part where the elliptical-copula candidate
    is chosen (``InformationSettings.elliptical_max_dims``), then what each rank-RBIG
    layer (rotation, marginal Gaussianization, decorrelation) removed. Layers run until
    ``patience`` in a row do not stand clear of the Gaussian reference.

    Args:
        X: Samples, shape ``(n_samples, n_dims)`` with ``n_dims ≥ 2``.
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).

    Returns:
        An :class:`InformationReduction`; its ``total`` is the estimate of
        :func:`~gauss_flows.total_correlation` (to rounding).

    Raises:
        ValueError: As :func:`~gauss_flows.total_correlation`, and for a single column.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> x = np.random.default_rng(0).normal(size=2000)
        >>> r = gf.information_reduction(np.column_stack([x, x**2 + 0.3 * np.sin(3 * x)]))
        >>> r.counted > 0 and r.total > r.gaussian
        True

    References:
        Laparra et al. (2011, 2020); Lyu & Simoncelli (2009) for the radial part; see
        :mod:`gauss_flows.information`.
    """
    s = _settings("information_reduction", settings, {})
    X = _columns(X, 2, "information reduction")
    z = _scores(X, Labels((("X", 0, X.shape[1]),)), s, "information reduction")
    gaussian, radial, rest = GroupTotalCorrelations(z, s).parts(0)
    return InformationReduction(gaussian, rest.gains, rest.counted, radial)


_PAIR_CHUNK = 256


def pairwise_mutual_information(
    X: ArrayLike, *, method: str = "rbig", settings: InformationSettings | None = None
) -> np.ndarray:
    """The matrix of mutual informations ``I(Xᵢ; Xⱼ)`` between every two columns, in nats.

    The Gaussian parts of all pairs come in closed form from one correlation matrix of the
    normal scores (``−½ log(1 − ρᵢⱼ²)`` less its exact bias). With ``method="rbig"`` the
    non-Gaussian remainder of every pair is added, all pairs running the rank-RBIG loop
    together in vectorised chunks, so 100+ columns take seconds to minutes rather than one
    call per pair. Where the elliptical-copula candidate of
    :func:`~gauss_flows.total_correlation` is chosen on all columns (at most
    ``InformationSettings.elliptical_max_dims`` of them), every pair is instead measured
    under that elliptical family (its radial part, then the remainder of the radially
    Gaussianized pair), as :func:`~gauss_flows.mutual_information` measures it.

    Args:
        X: Samples, shape ``(n_samples, n_dims)`` with ``n_dims ≥ 2``.
        method: ``"rbig"`` (Gaussian part and non-Gaussian remainder) or ``"gaussian"``
            (the Gaussian part alone: exact for Gaussian copulas, a lower bound otherwise,
            and immediate for thousands of columns).
        settings: How to estimate (:class:`~gauss_flows.InformationSettings`).

    Returns:
        A symmetric float64 array ``(n_dims, n_dims)``, never negative, with ``inf`` on
        the diagonal (a continuous variable's information about itself).

    Raises:
        ValueError: For a bad ``method``, fewer than 2 columns, and as
            :func:`~gauss_flows.mutual_information` for degenerate pairs.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).multivariate_normal(
        ...     [0, 0, 0], [[1, 0.6, 0], [0.6, 1, 0], [0, 0, 1]], size=2000)
        >>> np.round(gf.pairwise_mutual_information(X), 1)[0]  # truth (inf, 0.22, 0)
        array([inf, 0.2, 0. ])

    References:
        Laparra et al. (2020); see :mod:`gauss_flows.information_suite`.
    """
    if method not in ("rbig", "gaussian"):
        raise ValueError(f"method must be 'rbig' or 'gaussian'; got {method!r}")
    s = _settings("pairwise_mutual_information", settings, {})
    X = _columns(X, 2, "pairwise mutual information")
    n, d = X.shape
    z = _scores(X, Labels((("X", 0, d),)), s, "pairwise mutual information")
    i, j = np.triu_indices(d, 1)
    chosen = GroupTotalCorrelations(z, s).chosen if method == "rbig" else None
    if chosen is not None:
        # The elliptical family chosen on all columns, for every pair: the path of
        # total_correlation and mutual_information (a pair's TC is its MI).
        out = np.zeros((d, d))
        zn = np.asarray(z, np.float64)
        radial, u = zip(*(radially_gaussianized(zn[:, [a, b]], chosen.nu, s) for a, b in zip(i, j)))
        stack = jnp.asarray(np.stack(u), z.dtype)
        value = np.asarray(radial) + _pair_remainders(stack, np.arange(len(i)), None, s)
        out[i, j] = out[j, i] = value
    else:
        r = np.asarray(correlation(z), np.float64)
        rho2 = np.minimum(r**2, 1.0 - np.finfo(np.float64).eps)
        out = -0.5 * np.log1p(-rho2) - logdet_bias(n, 2)
        if method == "rbig":
            rest = _pair_remainders(z, i, j, s)
            out[i, j] += rest
            out[j, i] += rest
    out = np.maximum(out, 0.0)
    np.fill_diagonal(out, np.inf)
    return out


def _pair_remainders(
    z: Array, i: np.ndarray, j: np.ndarray | None, s: InformationSettings
) -> np.ndarray:
    """The non-Gaussian remainder of every column pair ``(i[k], j[k])`` of scores ``z``.

    With ``j=None``, ``z`` is a stack of two-column samples, shape ``(pairs, n, 2)``, and
    ``i`` indexes it.
    """
    stacked = j is None
    n = z.shape[1] if stacked else z.shape[0]
    dtype = str(z.dtype)
    spacing = check_spacing(s.spacing, n)
    mean, spread = null_profile(n, 2, spacing, s.n_reference, dtype, s.max_layers)
    cut = s.threshold * spread
    j_bias = negentropy_null(n, spacing, dtype)[0]
    g_bias = logdet_bias(n, 2)
    mean_j, cut_j = jnp.asarray(mean, z.dtype), jnp.asarray(cut, z.dtype)

    @jax.jit
    def chunk(pairs: Array, keys: Array) -> tuple[Array, Array]:
        def one(pair: Array, key: Array) -> tuple[Array, Array]:
            w, _ = whiten(z[pair[0]] if stacked else z[:, pair])
            return gains_until_quiet(
                w, key, mean_j, cut_j, spacing=spacing, patience=s.patience,
                j_bias=j_bias, g_bias=g_bias,
            )

        return jax.vmap(one)(pairs, keys)

    pairs = np.column_stack([i, i if stacked else j])
    base = jr.key(s.random_state)
    values = np.empty(len(pairs))
    for start in range(0, len(pairs), _PAIR_CHUNK):
        block = pairs[start : start + _PAIR_CHUNK]
        padded = np.concatenate([block, np.repeat(block[-1:], _PAIR_CHUNK - len(block), 0)])
        keys = jax.vmap(lambda k: jr.fold_in(base, k))(jnp.arange(start, start + _PAIR_CHUNK))
        gains, ran = chunk(jnp.asarray(padded), keys)
        gains = np.asarray(gains)[: len(block)]
        ran = np.asarray(ran)[: len(block)]
        layer = np.arange(gains.shape[1])
        useful = (gains > cut[None, :]) & (layer[None, :] < ran[:, None])
        counted = np.where(useful.any(axis=1), gains.shape[1] - np.argmax(useful[:, ::-1], axis=1), 0)
        kept = np.where(layer[None, :] < counted[:, None], gains, 0.0).sum(axis=1)
        values[start : start + len(block)] = np.maximum(kept, 0.0)
    return values
