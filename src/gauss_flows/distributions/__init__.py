"""Distributions for conditional flows: a conditional Gaussian base and a SurVAE-style flow."""

from gauss_flows.distributions.conditional_gaussian import ConditionalDiagGaussian
from gauss_flows.distributions.survae import SurVAEFlow

__all__ = ["ConditionalDiagGaussian", "SurVAEFlow"]
