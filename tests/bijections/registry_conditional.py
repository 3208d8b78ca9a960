"""Examples of the conditional layers for the shared property checks.

Every example here has a ``cond_shape``; the property tests bind it to the fixed condition
:func:`example_condition` (:class:`WithCondition`), so round trips, log-determinants,
gradients (with respect to the condition too) and jit/vmap are checked for the map
``x -> T(x | y)`` at that ``y``. The networks' output weights are random (non-zero), so
the layers really depend on the condition.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection

from gauss_flows import bijections as gb
from gauss_flows.flows import gaussianization_flow
from gauss_flows.layout import gaussianizer

N_DIMS = 3
COND_DIM = 2


def example_condition(cond_shape: tuple[int, ...], dtype=jnp.float64) -> jax.Array:
    """The fixed condition the property tests use for a conditional example."""
    return (1.5 * jr.normal(jr.key(7), cond_shape)).astype(dtype)


class WithCondition(AbstractBijection):
    """A conditional bijection with its condition bound: ``x -> T(x | condition)``."""

    layer: AbstractBijection
    condition: jax.Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: None = eqx.field(static=True, default=None)

    def __init__(self, layer: AbstractBijection, condition: jax.Array):
        self.layer, self.condition, self.shape = layer, condition, layer.shape

    def transform_and_log_det(self, x, condition=None):
        return self.layer.transform_and_log_det(x, self.condition)

    def inverse_and_log_det(self, y, condition=None):
        return self.layer.inverse_and_log_det(y, self.condition)


def _conditional_marginal(key):
    k1, k2 = jr.split(key)
    base = gb.MixtureGaussianCDF.random(k1, n_dims=N_DIMS, n_components=3)
    return gb.ConditionalMixtureGaussianCDF(
        k2, shape=(N_DIMS,), cond_dim=COND_DIM, marginal=base, nn_width=8, output_scale=0.5
    )


def _conditional_stack(key):
    k1, k2 = jr.split(key)
    flow = gaussianization_flow(
        k1, n_dims=N_DIMS, n_layers=2, n_components=3,
        loc=jnp.array([0.5, -1.0, 2.0]), scale=jnp.array([2.0, 0.5, 1.5]),
    )
    return gb.ConditionalGaussianizationStack(
        k2, gaussianizer(flow), jnp.array([1.0, -0.5]), jnp.array([2.0, 0.5]),
        nn_width=8, output_scale=0.5,
    )


def _affine(key):
    return gb.AffineCoupling(key, shape=(N_DIMS,), nn_width=8, nn_depth=2, cond_dim=COND_DIM)


def _spline(key):
    return gb.RQSplineCoupling(
        key, shape=(N_DIMS,), n_bins=6, interval=4.0, nn_width=8, nn_depth=2, cond_dim=COND_DIM
    )


def _deep_sigmoid(key):
    return gb.DeepSigmoidCoupling(
        key, shape=(N_DIMS,), n_components=4, nn_width=8, nn_depth=2, cond_dim=COND_DIM
    )


def _mixture(key):
    return gb.MixtureGaussianCDFCoupling(
        key, shape=(N_DIMS,), n_components=3, nn_width=8, nn_depth=2, cond_dim=COND_DIM
    )


#: Class -> factory of an example instance from a JAX key.
REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gb.ConditionalMixtureGaussianCDF: _conditional_marginal,
    gb.ConditionalGaussianizationStack: _conditional_stack,
}

#: Every coupling family of the layer menu, conditional (``cond_dim`` set).
VARIANTS: dict[str, Callable[[jax.Array], eqx.Module]] = {
    "AffineCoupling[cond]": _affine,
    "RQSplineCoupling[cond]": _spline,
    "DeepSigmoidCoupling[cond]": _deep_sigmoid,
    "MixtureGaussianCDFCoupling[cond]": _mixture,
}
