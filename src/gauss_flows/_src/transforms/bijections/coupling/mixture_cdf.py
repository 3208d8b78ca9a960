"""The series' private path of :class:`gauss_flows.MixtureGaussianCDFCoupling` (same class)."""

from gauss_flows.bijections.coupling import MixtureGaussianCDFCoupling

__all__ = ["MixtureGaussianCDFCoupling"]
