"""Examples of the conditional layers for the shared property checks.

Every example here has a ``cond_shape``; the property tests bind it to its fixed condition
in :data:`CONDITIONS`, so round trips, log-determinants, gradients and jit/vmap are
checked for the map ``x -> T(x | y)`` at that ``y``. The networks' output weights are random (non-zero), so
the layers really depend on the condition.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from gauss_flows import bijections as gb
from gauss_flows.flows import gaussianization_flow
from gauss_flows.layout import gaussianizer

N_DIMS = 3
COND_DIM = 2


def _conditional_marginal(key):
    k1, k2 = jr.split(key)
    base = gb.MixtureGaussianCDF.random(k1, n_dims=N_DIMS, n_components=3)
    return gb.ConditionalMixtureGaussianCDF(
        k2, shape=(N_DIMS,), cond_dim=COND_DIM, marginal=base, nn_width=8, output_scale=0.5
    )


def _conditional_stack(key, architecture="diagonal"):
    k1, k2 = jr.split(key)
    flow = gaussianization_flow(
        k1, n_dims=N_DIMS, n_layers=2, n_components=3,
        loc=jnp.array([0.5, -1.0, 2.0]), scale=jnp.array([2.0, 0.5, 1.5]),
    )
    return gb.ConditionalGaussianizationStack(
        k2, gaussianizer(flow), jnp.array([1.0, -0.5]), jnp.array([2.0, 0.5]),
        nn_width=8, output_scale=0.5, architecture=architecture,
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
    "ConditionalGaussianizationStack[coupling]": partial(_conditional_stack, architecture="coupling"),
    "AffineCoupling[cond]": _affine,
    "RQSplineCoupling[cond]": _spline,
    "DeepSigmoidCoupling[cond]": _deep_sigmoid,
    "MixtureGaussianCDFCoupling[cond]": _mixture,
}

#: The condition each conditional example is checked at (one fixed draw per shape).
CONDITIONS: dict[str, jax.Array] = {
    name: 1.5 * jr.normal(jr.key(7), (COND_DIM,)) for name in [*VARIANTS, *(c.__name__ for c in REGISTRY)]
}

#: The conditional couplings compile the couplings' checks again with a condition: slow set.
SLOW = set(VARIANTS)
