"""The tutorial series' path of the divergence functions (see :mod:`gauss_flows.continuous.divergence`)."""

from gauss_flows.continuous.divergence import exact_divergence, hutchinson_divergence

__all__ = ["exact_divergence", "hutchinson_divergence"]
