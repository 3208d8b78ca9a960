"""Gaussianization layers: flowjax bijections whose forward map sends data towards N(0, I)."""

from gauss_flows.bijections.coupling import MixtureCDFCoupling
from gauss_flows.bijections.marginal import MixtureCDFGaussianization
from gauss_flows.bijections.rotation import (
    HouseholderRotation,
    householder_decomposition,
    householder_product,
)
from gauss_flows.bijections.stack import GaussianizationBlock, GaussianizationStack

__all__ = [
    "GaussianizationBlock",
    "GaussianizationStack",
    "HouseholderRotation",
    "MixtureCDFCoupling",
    "MixtureCDFGaussianization",
    "householder_decomposition",
    "householder_product",
]
