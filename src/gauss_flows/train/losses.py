"""The training objective: the mean negative log-likelihood of a batch of rows.

Maximum-likelihood training minimises ``-mean(log p(x))`` over the training rows; a
Gaussianization flow's ``log p`` is the standard normal log-density of its latent point
plus the log-determinant of its Jacobian.

References:
    Meng, C., Song, Y., Song, J. & Ermon, S. (2020). Gaussianization flows. AISTATS.

Example:
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> from gauss_flows.train import mean_nll
    >>> X = jr.normal(jr.key(0), (64, 2))
    >>> flow = gf.gaussianization_flow(jr.key(1), n_dims=2, n_layers=1, n_components=2)
    >>> mean_nll(flow, X).shape
    ()
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from flowjax.distributions import AbstractDistribution
from jaxtyping import Array, PyTree

__all__ = ["mean_nll", "partitioned_mean_nll"]


def mean_nll(flow: AbstractDistribution, X: Array, condition: Array | None = None) -> Array:
    """Mean negative log-likelihood (nats per row) of the rows ``X`` under ``flow``.

    A pure JAX function: it can be jitted and differentiated, and does not check ``X``.

    Args:
        flow: Any flowjax distribution over vectors.
        X: Rows, shape ``(n_samples, n_dims)``.
        condition: For a conditional flow, one condition row per row of ``X``.

    Returns:
        The scalar ``-mean(flow.log_prob(X, condition))``.

    Example:
        >>> import jax.numpy as jnp
        >>> from flowjax.distributions import Normal
        >>> from gauss_flows.train import mean_nll
        >>> round(float(mean_nll(Normal(jnp.zeros(2)), jnp.zeros((3, 2)))), 4)
        1.8379
    """
    return -jnp.mean(flow.log_prob(X, condition))


def partitioned_mean_nll(
    params: PyTree, static: PyTree, X: Array, condition: Array | None = None
) -> Array:
    """:func:`mean_nll` of the flow ``eqx.combine(params, static)``.

    The form the training step differentiates: the gradient is taken with respect to
    ``params`` alone, the trained arrays of an ``eqx.partition`` of the flow.

    Args:
        params: The trained arrays of the flow.
        static: The rest of the flow.
        X: Rows, shape ``(n_samples, n_dims)``.
        condition: For a conditional flow, one condition row per row of ``X``.

    Returns:
        The scalar mean negative log-likelihood.

    Example:
        >>> import equinox as eqx
        >>> import jax.numpy as jnp
        >>> from flowjax.distributions import Normal
        >>> from gauss_flows.train.losses import partitioned_mean_nll
        >>> params, static = eqx.partition(Normal(jnp.zeros(2)), eqx.is_inexact_array)
        >>> round(float(partitioned_mean_nll(params, static, jnp.zeros((3, 2)))), 4)
        1.8379
    """
    return mean_nll(eqx.combine(params, static), X, condition)
