"""gauss_flows: Gaussianization on JAX.

Greedy RBIG fits (:func:`fit_rbig`) and trainable Gaussianization flows
(:func:`gaussianization_flow`) are one and the same flowjax object, so a greedy fit
warm-starts gradient training (:func:`train_flow`). :func:`fit_density` is the
recommended one-call recipe.
"""

from gauss_flows import bijections, datasets, distributions, fit, layout, train
from gauss_flows._version import __version__
from gauss_flows.continuous import (
    FFJORD,
    DiffeqMLP,
    MatrixExponential,
    TimeTanh,
    pack_time_control,
)
from gauss_flows.bijections import (
    AbstractGaussianizationBlock,
    ActNorm,
    ActNorm1D,
    AffineCoupling,
    CouplingGaussianizationBlock,
    DeepSigmoidCoupling,
    FixedRotation,
    GaussianizationBlock,
    GaussianizationStack,
    HistogramCDF,
    HistogramGaussianCDF,
    HouseholderRotation,
    InverseGaussCDF,
    Invertible1x1Conv,
    MixtureGaussianCDF,
    MixtureGaussianCDFCoupling,
    MixtureLogisticCDF,
    OrthogonalRotation,
    RotationMarginalBlock,
    RQSplineCoupling,
    RQSplineMarginal,
    SplineCouplingBlock,
)
from gauss_flows.conditional_information import conditional_entropy
from gauss_flows.distributions import ConditionalDiagGaussian, SurVAEFlow
from gauss_flows.fit import (
    HistogramFit,
    KDEFit,
    MixtureFit,
    SplineFit,
    fit_mixture_em,
    fit_rbig,
    fit_rbig_coupling,
)
from gauss_flows.flows import (
    conditional_gaussianization_flow,
    coupling_gaussianization_flow,
    gaussianization_flow,
)
from gauss_flows.information import (
    DiscreteDataWarning,
    Estimate,
    InformationSettings,
    Uncertainty,
    UnresolvedDependenceWarning,
    entropy,
    kl_divergence,
    mutual_information,
    total_correlation,
)
from gauss_flows._information.closed_forms import (
    gaussian_conditional_mutual_information,
    gaussian_entropy,
    gaussian_kl_divergence,
    gaussian_mutual_information,
    gaussian_total_correlation,
)
from gauss_flows.information_flow import (
    flow_entropy,
    flow_kl_divergence,
    flow_mutual_information,
    flow_total_correlation,
)
from gauss_flows.information_suite import (
    InformationReduction,
    conditional_mutual_information,
    dual_total_correlation,
    information_reduction,
    interaction_information,
    jensen_shannon_divergence,
    negentropy,
    o_information,
    pairwise_mutual_information,
)
from gauss_flows.inspect import (
    Intermediates,
    LayerTable,
    forward_with_intermediates,
    inspect_layers,
)
from gauss_flows.io import ModelFileError, load, read_header, save
from gauss_flows.recipe import fit_density
from gauss_flows.sklearn import GaussianizationDensity
from gauss_flows.sklearn_conditional import ConditionalGaussianizationDensity
from gauss_flows.train import TrainingLog, train_flow

__all__ = [
    "AbstractGaussianizationBlock",
    "ActNorm",
    "ActNorm1D",
    "AffineCoupling",
    "ConditionalDiagGaussian",
    "ConditionalGaussianizationDensity",
    "CouplingGaussianizationBlock",
    "DeepSigmoidCoupling",
    "DiffeqMLP",
    "DiscreteDataWarning",
    "FFJORD",
    "FixedRotation",
    "GaussianizationBlock",
    "GaussianizationDensity",
    "GaussianizationStack",
    "HistogramCDF",
    "HistogramFit",
    "HistogramGaussianCDF",
    "HouseholderRotation",
    "InformationSettings",
    "Intermediates",
    "InverseGaussCDF",
    "Invertible1x1Conv",
    "KDEFit",
    "LayerTable",
    "MatrixExponential",
    "MixtureFit",
    "MixtureGaussianCDF",
    "MixtureGaussianCDFCoupling",
    "MixtureLogisticCDF",
    "ModelFileError",
    "OrthogonalRotation",
    "RQSplineCoupling",
    "RQSplineMarginal",
    "RotationMarginalBlock",
    "SplineCouplingBlock",
    "SplineFit",
    "SurVAEFlow",
    "TimeTanh",
    "TrainingLog",
    "__version__",
    "bijections",
    "conditional_gaussianization_flow",
    "conditional_entropy",
    "coupling_gaussianization_flow",
    "datasets",
    "distributions",
    "entropy",
    "fit",
    "fit_density",
    "fit_mixture_em",
    "fit_rbig",
    "fit_rbig_coupling",
    "forward_with_intermediates",
    "gaussianization_flow",
    "inspect_layers",
    "layout",
    "kl_divergence",
    "load",
    "mutual_information",
    "pack_time_control",
    "read_header",
    "save",
    "total_correlation",
    "train",
    "train_flow",
    # information measures: uncertainty, the suite, closed forms, measures of a fitted flow
    "Estimate",
    "Uncertainty",
    "UnresolvedDependenceWarning",
    "gaussian_conditional_mutual_information",
    "gaussian_entropy",
    "gaussian_kl_divergence",
    "gaussian_mutual_information",
    "gaussian_total_correlation",
    "flow_entropy",
    "flow_kl_divergence",
    "flow_mutual_information",
    "flow_total_correlation",
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


def __getattr__(name: str) -> object:
    """Deprecated names, resolved on first use with a ``DeprecationWarning``."""
    if name in ("MixtureCDFGaussianization", "MixtureCDFCoupling"):
        return getattr(bijections, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
