"""Greedy, gradient-free fitting of Gaussianization flows.

The fit's options are values: a rotation rule (:class:`AbstractRotationRule`, or the
shorthand names in :data:`ROTATIONS`) and a marginal family with its settings
(:class:`AbstractMarginalFit`: :class:`MixtureFit`, :class:`KDEFit`,
:class:`HistogramFit`, :class:`SplineFit`, or the names in :data:`MARGINAL_FITS`). The depth rule is :func:`~gauss_flows.fit.depth.depth_decision`.
"""

from gauss_flows.fit.em import MixtureParams, fit_mixture_em, mixture_log_likelihood
from gauss_flows.fit.marginal_families import (
    MARGINAL_FITS,
    HistogramFit,
    KDEFit,
    SplineFit,
    as_marginal_fit,
)
from gauss_flows.fit.marginal_fit import AbstractMarginalFit, MixtureFit
from gauss_flows.fit.rbig import fit_rbig
from gauss_flows.fit.rbig_coupling import fit_rbig_coupling
from gauss_flows.fit.rotations import (
    ROTATIONS,
    AbstractRotationRule,
    ICARule,
    MaxSlicedRule,
    PCARule,
    RandomRule,
    SlicedRule,
    as_rotation_rule,
    ica_rotation,
    pca_rotation,
    random_rotation,
    sliced_rotation,
    wasserstein_to_normal,
)

__all__ = [
    "MARGINAL_FITS",
    "ROTATIONS",
    "AbstractMarginalFit",
    "AbstractRotationRule",
    "HistogramFit",
    "ICARule",
    "KDEFit",
    "MaxSlicedRule",
    "MixtureFit",
    "MixtureParams",
    "PCARule",
    "RandomRule",
    "SlicedRule",
    "SplineFit",
    "as_marginal_fit",
    "as_rotation_rule",
    "fit_mixture_em",
    "fit_rbig",
    "fit_rbig_coupling",
    "ica_rotation",
    "mixture_log_likelihood",
    "pca_rotation",
    "random_rotation",
    "sliced_rotation",
    "wasserstein_to_normal",
]
