"""gauss_flows: Gaussianization on JAX.

Greedy RBIG fits (:func:`fit_rbig`) and trainable Gaussianization flows
(:func:`gaussianization_flow`) are one and the same flowjax object, so a greedy fit
warm-starts gradient training (:func:`train_flow`).
"""

from gauss_flows import bijections, fit
from gauss_flows import datasets
from gauss_flows.bijections import HouseholderRotation, MixtureCDFGaussianization
from gauss_flows.fit import fit_mixture_em, fit_rbig
from gauss_flows.flows import gaussianization_flow
from gauss_flows.bijections import MixtureCDFCoupling
from gauss_flows.fit import fit_rbig_coupling
from gauss_flows.flows import coupling_gaussianization_flow
from gauss_flows.io import ModelFileError, load, read_header, save
from gauss_flows.sklearn import GaussianizationDensity
from gauss_flows.recipe import fit_density
from gauss_flows.train import train_flow
from gauss_flows.information import entropy, kl_divergence, mutual_information, total_correlation
from gauss_flows.inspect import Intermediates, LayerTable, forward_with_intermediates, inspect_layers

__version__ = "0.1.0"

__all__ = [
    "MixtureCDFCoupling",
    "coupling_gaussianization_flow",
    "fit_rbig_coupling",
    "GaussianizationDensity",
    "ModelFileError",
    "HouseholderRotation",
    "MixtureCDFGaussianization",
    "__version__",
    "bijections",
    "datasets",
    "fit",
    "fit_density",
    "fit_mixture_em",
    "fit_rbig",
    "gaussianization_flow",
    "load",
    "read_header",
    "save",
    "train_flow",
    "Intermediates",
    "LayerTable",
    "entropy",
    "forward_with_intermediates",
    "inspect_layers",
    "kl_divergence",
    "mutual_information",
    "total_correlation",
]
