"""Gaussianization layers: flowjax bijections whose forward map sends data towards N(0, I)."""

from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.coupling import MixtureCDFCoupling
from gauss_flows.bijections.coupling_block import CouplingGaussianizationBlock
from gauss_flows.bijections.diagonal_block import GaussianizationBlock
from gauss_flows.bijections.marginal import MixtureCDFGaussianization
from gauss_flows.bijections.rotation import (
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
    "AbstractGaussianizationBlock",
    "CouplingGaussianizationBlock",
    "GaussianizationBlock",
    "GaussianizationStack",
    "HouseholderRotation",
    "MixtureCDFCoupling",
    "MixtureCDFGaussianization",
    "Standardization",
    "householder_decomposition",
    "householder_product",
    "stack_blocks",
    "stack_depth",
]
