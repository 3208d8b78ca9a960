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
from flowjax.bijections import Chain
from flowjax.distributions import Normal, Transformed
from jaxtyping import PRNGKeyArray

from gauss_flows import layout
from gauss_flows.bijections.coupling import ACTIVATIONS, activation_name
from gauss_flows.continuous.ffjord import FFJORD
from gauss_flows.continuous.vector_field import DiffeqMLP

__all__ = ["WARM_FFJORD_PREFIX", "ffjord_architecture", "ffjord_flow", "warm_ffjord_architecture"]

#: Model files name a warm-started FFJORD's builder by this prefix and its Gaussianizer's
#: builder (``"ffjord_after_gaussianization_flow"``, ...).
WARM_FFJORD_PREFIX = "ffjord_after_"


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
    return {"n_dims": flow.bijection.shape[0], **_ffjord_options(flow.bijection)}


def _ffjord_options(ffjord: FFJORD) -> dict[str, Any]:
    """The :func:`ffjord_flow` arguments of one FFJORD layer, all but ``n_dims``."""
    drift = ffjord.vector_field
    if not isinstance(drift, DiffeqMLP) or drift.control_dim:
        raise TypeError("only FFJORD flows with an autonomous DiffeqMLP drift can be saved")
    return {
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


def warm_ffjord_architecture(flow: Any) -> tuple[str, dict[str, Any]]:
    """The builder name and arguments that rebuild a :func:`warm_start_ffjord` flow.

    The builder is :data:`WARM_FFJORD_PREFIX` followed by the Gaussianizer's builder; the
    arguments are the Gaussianizer's size arguments and the FFJORD's :func:`ffjord_flow`
    options (they share ``n_dims``). Model files store these (see :func:`gauss_flows.save`).

    Raises:
        TypeError: If ``flow`` is not ``Transformed(N(0, I), Chain([FFJORD, Invert(G)]))``
            with a library Gaussianizer ``G`` and an autonomous :class:`DiffeqMLP` drift.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows.continuous import warm_ffjord_architecture, warm_start_ffjord
        >>> greedy = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2, n_components=3)
        >>> builder, args = warm_ffjord_architecture(warm_start_ffjord(greedy, jr.key(1), hidden=(8,)))
        >>> builder, args["n_layers"], args["hidden"]
        ('ffjord_after_gaussianization_flow', 2, [8])
    """
    chain = flow.bijection if isinstance(flow, Transformed) else None
    layers = tuple(chain.bijections) if isinstance(chain, Chain) else ()
    if not (len(layers) == 2 and isinstance(layers[0], FFJORD)):
        raise TypeError(
            "not a warm-started FFJORD flow Transformed(N(0, I), Chain([FFJORD, Invert(G)])); "
            f"got {type(flow).__name__}"
        )
    greedy = Transformed(flow.base_dist, layers[1])
    builder, sizes = layout.gaussianizer(greedy).architecture()
    return WARM_FFJORD_PREFIX + builder, sizes | _ffjord_options(layers[0])
