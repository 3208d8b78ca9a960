"""Greedy, gradient-free fitting of Gaussianization flows."""

from gauss_flows.fit.em import MixtureParams, fit_mixture_em, mixture_log_likelihood
from gauss_flows.fit.rbig import fit_rbig
from gauss_flows.fit.rbig_coupling import fit_rbig_coupling
from gauss_flows.fit.rotations import (
    ROTATIONS,
    ica_rotation,
    marginal_negentropy,
    pca_rotation,
    random_rotation,
    sliced_rotation,
    wasserstein_to_normal,
)

__all__ = [
    "ROTATIONS",
    "MixtureParams",
    "fit_mixture_em",
    "fit_rbig",
    "fit_rbig_coupling",
    "ica_rotation",
    "marginal_negentropy",
    "mixture_log_likelihood",
    "pca_rotation",
    "random_rotation",
    "sliced_rotation",
    "wasserstein_to_normal",
]
