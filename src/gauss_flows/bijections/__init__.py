"""Gaussianization layers: flowjax bijections whose forward map sends data towards N(0, I)."""

from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.coupling import MixtureGaussianCDFCoupling
from gauss_flows.bijections.flowjax_couplings import (
    AbstractFlowjaxCoupling,
    AffineCoupling,
    DeepSigmoidCoupling,
    RQSplineCoupling,
)
from gauss_flows.bijections.sum_of_sigmoids import SumOfSigmoids
from gauss_flows.bijections.conditional_marginal import ConditionalMixtureGaussianCDF
from gauss_flows.bijections.conditional_stack import ConditionalGaussianizationStack
from gauss_flows.bijections.coupling_block import CouplingGaussianizationBlock
from gauss_flows.bijections.diagonal_block import GaussianizationBlock
from gauss_flows.bijections.histogram import HistogramCDF, HistogramGaussianCDF
from gauss_flows.bijections.logistic_mixture import MixtureLogisticCDF
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.probit import InverseGaussCDF
from gauss_flows.bijections.spline import RQSplineMarginal
from gauss_flows.bijections.actnorm import ActNorm, ActNorm1D
from gauss_flows.bijections.conv1x1 import Invertible1x1Conv
from gauss_flows.bijections.fixed_rotation import FixedRotation
from gauss_flows.bijections.orthogonal import OrthogonalRotation
from gauss_flows.bijections.rotation_marginal_block import RotationMarginalBlock
from gauss_flows.bijections.spline_coupling_block import SplineCouplingBlock
from gauss_flows.bijections.rotation import (
    AbstractRotation,
    HouseholderRotation,
    householder_decomposition,
    householder_product,
)
from gauss_flows.bijections.stack import (
    GaussianizationStack,
    Standardization,
    stack_blocks,
    stack_depth,
)

__all__ = [
    "AbstractFlowjaxCoupling",
    "AbstractGaussianizationBlock",
    "AbstractRotation",
    "ActNorm",
    "ActNorm1D",
    "AffineCoupling",
    "ConditionalGaussianizationStack",
    "ConditionalMixtureGaussianCDF",
    "CouplingGaussianizationBlock",
    "DeepSigmoidCoupling",
    "FixedRotation",
    "GaussianizationBlock",
    "GaussianizationStack",
    "HistogramCDF",
    "HistogramGaussianCDF",
    "HouseholderRotation",
    "Invertible1x1Conv",
    "InverseGaussCDF",
    "MixtureGaussianCDF",
    "MixtureGaussianCDFCoupling",
    "MixtureLogisticCDF",
    "OrthogonalRotation",
    "RQSplineCoupling",
    "RQSplineMarginal",
    "RotationMarginalBlock",
    "SplineCouplingBlock",
    "Standardization",
    "SumOfSigmoids",
    "householder_decomposition",
    "householder_product",
    "stack_blocks",
    "stack_depth",
]


def __getattr__(name: str) -> object:
    """Deprecated names, resolved on first use with a ``DeprecationWarning``."""
    if name == "MixtureCDFGaussianization":
        from gauss_flows.bijections import marginal

        return marginal.deprecated_name(name, stacklevel=2)
    if name == "MixtureCDFCoupling":
        from gauss_flows.bijections import coupling

        return coupling.deprecated_name(name, stacklevel=2)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
