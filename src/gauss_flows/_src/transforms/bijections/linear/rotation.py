"""The series' private path of :class:`gauss_flows.HouseholderRotation` (same class)."""

from gauss_flows.bijections.rotation import HouseholderRotation

__all__ = ["HouseholderRotation"]
