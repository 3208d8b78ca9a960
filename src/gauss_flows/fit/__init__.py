"""Greedy, gradient-free fitting of Gaussianization flows."""

from gauss_flows.fit.em import MixtureParams, fit_mixture_em, mixture_log_likelihood
from gauss_flows.fit.rbig import fit_rbig
from gauss_flows.fit.rbig_coupling import fit_rbig_coupling
from gauss_flows.fit.rotations import (
    ROTATIONS,
    marginal_negentropy,
    pca_rotation,
    random_rotation,
    sliced_rotation,
)

__all__ = [
    "ROTATIONS",
    "MixtureParams",
    "fit_mixture_em",
    "fit_rbig",
    "fit_rbig_coupling",
    "marginal_negentropy",
    "mixture_log_likelihood",
    "pca_rotation",
    "random_rotation",
    "sliced_rotation",
]
