"""A continuous flow warm-started from a greedy fit: the Gaussianizer, then an FFJORD at the identity.

The greedy fit :func:`~gauss_flows.fit_rbig` Gaussianizes the data in seconds; an FFJORD
whose drift starts at exactly zero is the identity, so the composed flow starts with the
greedy fit's likelihood and gradient training only has to correct what is left.

Example:
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> from gauss_flows.continuous import warm_start_ffjord
    >>> X = jr.normal(jr.key(0), (200, 2))
    >>> greedy = gf.fit_rbig(X, n_layers=2, n_components=3)
    >>> flow = warm_start_ffjord(greedy, jr.key(1), hidden=(8,))
    >>> bool(abs(flow.log_prob(X[:5]) - greedy.log_prob(X[:5])).max() < 1e-4)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections import Chain
from flowjax.distributions import Transformed
from jaxtyping import Array, PRNGKeyArray, PyTree

from gauss_flows import layout
from gauss_flows.continuous.ffjord import FFJORD
from gauss_flows.continuous.vector_field import DiffeqMLP

__all__ = ["ode_parameters", "warm_start_ffjord"]


def warm_start_ffjord(
    flow: Transformed,
    key: PRNGKeyArray,
    *,
    hidden: Sequence[int] = (64, 64),
    activation: Callable[[Array], Array] = jnp.tanh,
    **ffjord_options: Any,
) -> Transformed:
    """``Transformed(N(0, I), Chain([FFJORD, Invert(G)]))``: the Gaussianizer ``G``, then an FFJORD.

    ``log_prob`` runs the data through ``G`` (data → latent), then the FFJORD's inverse;
    the FFJORD's drift is a :class:`DiffeqMLP` with a zero output layer, so the new flow's
    density equals ``flow``'s until it is trained (up to the solver's tolerances, here
    exact: a zero drift is integrated exactly).

    Args:
        flow: A Gaussianization flow of the library (e.g. from :func:`~gauss_flows.fit_rbig`).
        key: Key of the drift's hidden layers and of the FFJORD's probes.
        hidden: Widths of the drift's hidden layers.
        activation: Activation of the drift's hidden layers.
        **ffjord_options: Further :class:`FFJORD` options (``divergence_mode``, ``rtol``, ...).

    Returns:
        The composed flow; train it with :func:`~gauss_flows.train_flow`, all of it, or the
        FFJORD alone with ``trainable=ode_parameters(flow)``. :func:`~gauss_flows.save`
        writes it, trained or not, to a model file.

    Raises:
        TypeError: If ``flow`` does not have the library's layout.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows.continuous import warm_start_ffjord
        >>> X = np.random.default_rng(0).standard_exponential((300, 2))
        >>> greedy = gf.fit_rbig(X, n_layers=2)
        >>> warm = warm_start_ffjord(greedy, jr.key(0), hidden=(8,))
        >>> bool(jnp.allclose(warm.log_prob(X[:5]), greedy.log_prob(X[:5]), atol=1e-6))
        True
    """
    stack = layout.gaussianizer(flow)
    d = stack.shape[0]
    k_vf, k_probe = jr.split(key)
    drift = DiffeqMLP(k_vf, in_dim=d, control_dim=0, hidden=hidden, activation=activation, zero_output=True)
    ffjord = FFJORD(k_probe, shape=(d,), vector_field=drift, **ffjord_options)
    return Transformed(flow.base_dist, Chain([ffjord, flow.bijection]))


def ode_parameters(flow: PyTree) -> PyTree[bool]:
    """``train_flow``'s ``trainable`` that picks the inexact arrays of the FFJORD layers only.

    Example:
        >>> import jax
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> from gauss_flows.continuous import ode_parameters, warm_start_ffjord
        >>> flow = warm_start_ffjord(gf.gaussianization_flow(jr.key(0), n_dims=2), jr.key(1), hidden=(4,))
        >>> import equinox as eqx
        >>> spec = ode_parameters(flow)
        >>> sum(jax.tree.leaves(spec)) == len(jax.tree.leaves(eqx.filter(flow.bijection.bijections[0], eqx.is_inexact_array)))
        True
    """
    is_ffjord = lambda node: isinstance(node, FFJORD)  # noqa: E731

    def mark(node):
        if isinstance(node, FFJORD):
            return jax.tree.map(eqx.is_inexact_array, node)
        return jax.tree.map(lambda _: False, node)

    return jax.tree.map(mark, flow, is_leaf=is_ffjord)
