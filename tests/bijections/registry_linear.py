"""Registry fragment: the rotation, structured linear and normalisation layers.

Picked up by ``bijection_registry.py``; every example has dimension 3 and parameters
away from their initial values, so the checks see a non-trivial map.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from gauss_flows import bijections as gb

_D = 3


def _orthogonal(key):
    return gb.OrthogonalRotation(shape=(_D,), skew_params=jr.normal(key, (_D * (_D - 1) // 2,)))


def _fixed(key):
    mixing = jnp.array([[2.0, 0.5, 0.0], [0.0, 1.0, -0.7], [0.3, 0.0, 0.4]])
    return gb.FixedRotation.from_data(jr.normal(key, (400, _D)) @ mixing)


def _conv(key):
    k1, k2, k3, k4 = jr.split(key, 4)
    conv = gb.Invertible1x1Conv(k1, n_channels=_D)
    return eqx.tree_at(
        lambda m: (m.lower_params, m.upper_params, m.log_diag_u),
        conv,
        (jr.normal(k2, (3,)), jr.normal(k3, (3,)), 0.5 * jr.normal(k4, (_D,))),
    )


def _actnorm(key, cls=gb.ActNorm):
    k1, k2 = jr.split(key)
    return cls(shape=(_D,), loc=jr.normal(k1, (_D,)), log_scale=jr.normal(k2, (_D,)))


#: Class -> factory of an example instance from a JAX key.
REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gb.OrthogonalRotation: _orthogonal,
    gb.FixedRotation: _fixed,
    gb.Invertible1x1Conv: _conv,
    gb.ActNorm: _actnorm,
    gb.ActNorm1D: lambda key: _actnorm(key, gb.ActNorm1D),
}

#: Further examples: the built-in initialisations and the exact decomposition.
VARIANTS: dict[str, Callable[[jax.Array], eqx.Module]] = {
    "HouseholderRotation[default K=2]": lambda key: gb.HouseholderRotation(
        n_reflections=2, shape=(_D,)
    ),
    "HouseholderRotation[from_matrix]": lambda key: gb.HouseholderRotation.from_matrix(
        -jnp.linalg.qr(jr.normal(key, (_D, _D)))[0]
    ),
    "Invertible1x1Conv[init]": lambda key: gb.Invertible1x1Conv(key, n_channels=_D),
}
