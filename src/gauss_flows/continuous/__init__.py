"""Continuous-time Gaussianization: FFJORD, the matrix-exponential flow and their pieces.

Importing this package does not import diffrax; the ODE solves import it on first use.

Example:
    >>> import gauss_flows as gf
    >>> gf.pack_time_control(1.0).shape
    (1,)
"""

from gauss_flows.continuous.builders import (
    WARM_FFJORD_PREFIX,
    ffjord_architecture,
    ffjord_flow,
    warm_ffjord_architecture,
)
from gauss_flows.continuous.divergence import exact_divergence, hutchinson_divergence
from gauss_flows.continuous.ffjord import FFJORD
from gauss_flows.continuous.matrix_exponential import MatrixExponential
from gauss_flows.continuous.regularisation import RegularisedNLL
from gauss_flows.continuous.time import TimeTanh, pack_time_control
from gauss_flows.continuous.vector_field import AbstractVectorField, DiffeqMLP
from gauss_flows.continuous.warm_start import ode_parameters, warm_start_ffjord

__all__ = [
    "FFJORD",
    "WARM_FFJORD_PREFIX",
    "AbstractVectorField",
    "DiffeqMLP",
    "MatrixExponential",
    "RegularisedNLL",
    "TimeTanh",
    "exact_divergence",
    "ffjord_architecture",
    "ffjord_flow",
    "hutchinson_divergence",
    "ode_parameters",
    "pack_time_control",
    "warm_ffjord_architecture",
    "warm_start_ffjord",
]
