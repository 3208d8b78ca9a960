"""Regularised maximum likelihood for continuous flows: kinetic-energy and Jacobian penalties.

Penalising the kinetic energy :math:`\\int \\|f\\|^2 \\mathrm{d}t` and the Jacobian's
Frobenius norm :math:`\\int \\|\\partial f / \\partial x\\|_F^2 \\mathrm{d}t` favours straight,
smooth paths, which an adaptive solver integrates in fewer steps: training and
evaluation get cheaper at little cost in likelihood.

Example:
    >>> import jax.numpy as jnp
    >>> import jax.random as jr
    >>> from flowjax.distributions import Normal, Transformed
    >>> import gauss_flows as gf
    >>> from gauss_flows.continuous import RegularisedNLL
    >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, hidden=(8,), zero_output=True)
    >>> flow = Transformed(Normal(jnp.zeros(2)), gf.FFJORD(jr.key(1), shape=(2,), vector_field=vf))
    >>> round(float(RegularisedNLL(kinetic=0.1)(flow, jnp.zeros((4, 2)))), 4)
    1.8379

References:
    Finlay, C., Jacobsen, J.-H., Nurbekyan, L. & Oberman, A. (2020). How to train your
    neural ODE: the world of Jacobian and kinetic regularization. ICML.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from flowjax.distributions import AbstractDistribution, Transformed
from jaxtyping import Array

from gauss_flows import layout
from gauss_flows._validation import check_number
from gauss_flows.continuous.ffjord import FFJORD
from gauss_flows.train.losses import AbstractLoss

__all__ = ["RegularisedNLL", "data_to_latent_layers"]


def data_to_latent_layers(flow: AbstractDistribution) -> list:
    """:func:`gauss_flows.layout.data_to_latent_layers`, with a ``ValueError`` for a non-flow."""
    if not isinstance(flow, Transformed):
        raise ValueError(f"expected a flowjax Transformed distribution; got {type(flow).__name__}")
    return layout.data_to_latent_layers(flow)


class RegularisedNLL(AbstractLoss):
    """Mean NLL plus ``kinetic`` × mean kinetic energy plus ``jacobian`` × mean Jacobian norm.

    One solve per FFJORD layer gives the log-density and both penalties. The flow is
    ``Transformed(base, FFJORD)`` or ``Transformed(base, Chain([...]))`` with FFJORD layers
    among others (such as a greedy Gaussianizer in front, see
    :func:`~gauss_flows.continuous.warm_start_ffjord`); the penalties are summed over its
    FFJORD layers. With both weights 0 it is the plain mean NLL.

    Args:
        kinetic: Weight of the kinetic energy.
        jacobian: Weight of the Jacobian's squared Frobenius norm.

    Example:
        >>> from gauss_flows.continuous import RegularisedNLL
        >>> RegularisedNLL(kinetic=0.01, jacobian=0.01).kinetic
        0.01
    """

    kinetic: float = eqx.field(static=True, default=0.0)
    jacobian: float = eqx.field(static=True, default=0.0)

    def __check_init__(self):
        check_number("kinetic", self.kinetic, low_open=False)
        check_number("jacobian", self.jacobian, low_open=False)

    def _terms(self, flow: AbstractDistribution, X: Array) -> tuple[Array, Array, Array]:
        z, log_det = X, jnp.zeros(X.shape[0], X.dtype)
        kinetic = jacobian = jnp.zeros((), X.dtype)
        for layer in data_to_latent_layers(flow):
            if isinstance(layer, FFJORD):
                z, ld, k, j = jax.vmap(layer.inverse_and_penalties)(z)
                kinetic, jacobian = kinetic + jnp.mean(k), jacobian + jnp.mean(j)
            else:
                z, ld = jax.vmap(layer.inverse_and_log_det)(z)
            log_det = log_det + ld
        nll = -jnp.mean(flow.base_dist.log_prob(z) + log_det)
        return nll, kinetic, jacobian

    def __call__(
        self, flow: AbstractDistribution, X: Array, condition: Array | None = None
    ) -> Array:
        _unconditional(condition)
        nll, kinetic, jacobian = self._terms(flow, X)
        return nll + self.kinetic * kinetic + self.jacobian * jacobian

    def progress(
        self, flow: AbstractDistribution, X: Array, condition: Array | None = None
    ) -> dict[str, float]:
        """The mean number of vector-field evaluations of the FFJORD solves on ``X``."""
        _unconditional(condition)
        return {"nfe": _mean_nfe(flow, X)}


def _unconditional(condition: Array | None) -> None:
    if condition is not None:
        raise ValueError(
            "RegularisedNLL trains unconditional continuous flows; got a condition "
            "(train a conditional flow with the default loss, MeanNLL)"
        )


def _mean_nfe(flow: AbstractDistribution, X: Array) -> float:
    total, z = 0.0, X
    for layer in data_to_latent_layers(flow):
        if isinstance(layer, FFJORD):
            total += float(jnp.mean(_nfe(layer, z)))
        z = _inverse(layer, z)
    return total


@eqx.filter_jit
def _nfe(layer: FFJORD, z: Array) -> Array:
    return jax.vmap(layer.solve_stats)(z)["nfe"]


@eqx.filter_jit
def _inverse(layer, z: Array) -> Array:
    return jax.vmap(layer.inverse)(z)
