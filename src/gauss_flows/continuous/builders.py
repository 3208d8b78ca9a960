"""The FFJORD density builder, and the architecture that model files store for it.

Example:
    >>> import jax.random as jr
    >>> from gauss_flows.continuous import ffjord_architecture, ffjord_flow
    >>> flow = ffjord_flow(jr.key(0), n_dims=2, hidden=(8,))
    >>> ffjord_architecture(flow)["hidden"]
    [8]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import jax.random as jr
from flowjax.distributions import Normal, Transformed
from jaxtyping import PRNGKeyArray

from gauss_flows.bijections.coupling import ACTIVATIONS, activation_name
from gauss_flows.continuous.ffjord import FFJORD
from gauss_flows.continuous.vector_field import DiffeqMLP

__all__ = ["ffjord_architecture", "ffjord_flow"]


def ffjord_flow(
    key: PRNGKeyArray,
    *,
    n_dims: int,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    divergence_mode: str = "exact",
    n_hutchinson_samples: int = 1,
    probe_distribution: str = "rademacher",
    solver: str = "tsit5",
    adjoint: str = "recursive_checkpoint",
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_steps: int = 4096,
    t0: float = 0.0,
    t1: float = 1.0,
) -> Transformed:
    """``Transformed(Normal(zeros(n_dims)), FFJORD)`` with a :class:`DiffeqMLP` drift.

    Args:
        key: Key of the drift's weights and of the Hutchinson probes.
        n_dims: Dimension of the data.
        hidden: Widths of the drift's hidden layers.
        activation: Name of the drift's activation (one of the coupling layers' names).
        divergence_mode: As for :class:`FFJORD`.
        n_hutchinson_samples: As for :class:`FFJORD`.
        probe_distribution: As for :class:`FFJORD`.
        solver: As for :class:`FFJORD`.
        adjoint: As for :class:`FFJORD`.
        rtol: As for :class:`FFJORD`.
        atol: As for :class:`FFJORD`.
        max_steps: As for :class:`FFJORD`.
        t0: Start of the integration interval.
        t1: End of the integration interval.

    Raises:
        ValueError: For an unknown activation name or bad FFJORD options.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.continuous import ffjord_flow
        >>> flow = ffjord_flow(jr.key(0), n_dims=2, hidden=(8,))
        >>> flow.log_prob(jnp.zeros(2)).shape
        ()
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    k_vf, k_probe = jr.split(key)
    drift = DiffeqMLP(k_vf, in_dim=n_dims, hidden=tuple(hidden), activation=ACTIVATIONS[activation])
    ffjord = FFJORD(
        k_probe, shape=(n_dims,), vector_field=drift, divergence_mode=divergence_mode,
        n_hutchinson_samples=n_hutchinson_samples, probe_distribution=probe_distribution,
        solver=solver, adjoint=adjoint, rtol=rtol, atol=atol, max_steps=max_steps, t_span=(t0, t1),
    )
    return Transformed(Normal(jnp.zeros(n_dims)), ffjord)


def ffjord_architecture(flow: Any) -> dict[str, Any]:
    """The :func:`ffjord_flow` arguments that rebuild ``flow``'s structure.

    Model files store these arguments beside the arrays (see :func:`gauss_flows.save`).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.continuous import ffjord_architecture, ffjord_flow
        >>> ffjord_architecture(ffjord_flow(jr.key(0), n_dims=2, hidden=(8,)))["hidden"]
        [8]

    Raises:
        TypeError: If ``flow`` is not ``Transformed(Normal, FFJORD)`` with an autonomous
            :class:`DiffeqMLP` drift.
    """
    if not (isinstance(flow, Transformed) and isinstance(flow.bijection, FFJORD)
            and isinstance(flow.base_dist, Normal)):
        raise TypeError(f"not an FFJORD flow Transformed(Normal, FFJORD); got {type(flow).__name__}")
    ffjord = flow.bijection
    drift = ffjord.vector_field
    if not isinstance(drift, DiffeqMLP) or drift.control_dim:
        raise TypeError("only FFJORD flows with an autonomous DiffeqMLP drift can be saved")
    return {
        "n_dims": ffjord.shape[0],
        "hidden": [layer.out_features for layer in drift.layers[:-1]],
        "activation": activation_name(drift.activation),
        "divergence_mode": ffjord.divergence_mode,
        "n_hutchinson_samples": ffjord.n_hutchinson_samples,
        "probe_distribution": ffjord.probe_distribution,
        "solver": ffjord.solver,
        "adjoint": ffjord.adjoint,
        "rtol": ffjord.rtol,
        "atol": ffjord.atol,
        "max_steps": ffjord.max_steps,
        "t0": ffjord.t_span[0],
        "t1": ffjord.t_span[1],
    }
