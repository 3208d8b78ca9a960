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

import abc

import equinox as eqx
import jax.numpy as jnp
from flowjax.distributions import AbstractDistribution
from jaxtyping import Array, PyTree

__all__ = ["AbstractLoss", "MeanNLL", "mean_nll", "partitioned_mean_nll"]


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


class AbstractLoss(eqx.Module):
    """A training objective of a flow on a batch of rows: the mean NLL and any extra terms.

    A loss is a value (its settings are its fields), so :func:`~gauss_flows.train_flow`
    compiles one training step per loss and reuses it.

    Example:
        >>> import jax.numpy as jnp
        >>> from flowjax.distributions import Normal
        >>> from gauss_flows.train.losses import AbstractLoss, mean_nll
        >>> class PenalisedNLL(AbstractLoss):
        ...     weight: float = 0.1
        ...     def __call__(self, flow, X, condition=None):
        ...         return mean_nll(flow, X, condition) + self.weight * jnp.mean(X**2)
        ...     def progress(self, flow, X, condition=None):
        ...         return {}
        >>> round(float(PenalisedNLL()(Normal(jnp.zeros(2)), jnp.ones((3, 2)))), 4)
        2.9379
    """

    @abc.abstractmethod
    def __call__(
        self, flow: AbstractDistribution, X: Array, condition: Array | None = None
    ) -> Array:
        """The scalar objective on the rows ``X`` (a pure, differentiable JAX function);
        ``condition`` holds one row per row of ``X`` for a conditional flow."""

    @abc.abstractmethod
    def progress(
        self, flow: AbstractDistribution, X: Array, condition: Array | None = None
    ) -> dict[str, float]:
        """Extra figures for the progress bar, from the flow and a few rows (may be empty)."""


class MeanNLL(AbstractLoss):
    """The mean negative log-likelihood, :func:`mean_nll`: ``train_flow``'s default loss.

    Example:
        >>> import jax.numpy as jnp
        >>> from flowjax.distributions import Normal
        >>> from gauss_flows.train.losses import MeanNLL
        >>> round(float(MeanNLL()(Normal(jnp.zeros(2)), jnp.zeros((3, 2)))), 4)
        1.8379
    """

    def __call__(
        self, flow: AbstractDistribution, X: Array, condition: Array | None = None
    ) -> Array:
        return mean_nll(flow, X, condition)

    def progress(
        self, flow: AbstractDistribution, X: Array, condition: Array | None = None
    ) -> dict[str, float]:
        return {}
