"""Registry entries for the general diagonal block and the spline coupling block."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from gauss_flows import bijections as gb
from gauss_flows.flows import coupling_gaussianization_flow, gaussianization_flow
from gauss_flows.layout import gaussianizer

_D = 3


def _rotation_marginal_block(key):
    k_rot, k_marg = jr.split(key)
    x = 1.5 * jr.normal(k_marg, (400, _D)) + jnp.array([0.5, -0.3, 0.2])
    return gb.RotationMarginalBlock(
        gb.HouseholderRotation.random(k_rot, n_dims=_D), gb.RQSplineMarginal.from_data(x, n_bins=6)
    )


def _spline_coupling_block(key):
    k_rot, k_coupling = jr.split(key)
    return gb.SplineCouplingBlock(
        gb.HouseholderRotation.random(k_rot, n_dims=_D),
        gb.RQSplineCoupling(k_coupling, shape=(_D,), n_bins=5, nn_width=8, nn_depth=1),
    )


def _moments():
    return jnp.array([0.5, -1.0, 2.0]), jnp.array([2.0, 0.5, 1.5])


def _flow_stack(build, **sizes):
    def factory(key):
        loc, scale = _moments()
        return gaussianizer(build(key, n_dims=_D, n_layers=2, loc=loc, scale=scale, **sizes))

    return factory


REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gb.RotationMarginalBlock: _rotation_marginal_block,
    gb.SplineCouplingBlock: _spline_coupling_block,
}

VARIANTS: dict[str, Callable[[jax.Array], eqx.Module]] = {
    "GaussianizationStack[histogram, orthogonal]": _flow_stack(
        gaussianization_flow, marginal="histogram", rotation="orthogonal", n_bins=6
    ),
    "GaussianizationStack[logistic, 4 reflections]": _flow_stack(
        gaussianization_flow, marginal="logistic_mixture", n_components=3, n_reflections=4
    ),
    "GaussianizationStack[spline coupling]": _flow_stack(
        coupling_gaussianization_flow, n_bins=5, nn_width=8, nn_depth=1
    ),
}
