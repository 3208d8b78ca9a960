"""Registry fragment: the continuous-time layers (FFJORD, the matrix-exponential flow).

Picked up by ``bijection_registry.py``. The FFJORD example solves with tight tolerances,
so its integrated log-determinant and its round trip meet the shared checks' float64
tolerances; the matrix-exponential layer is conditional and is checked at the time held
in :data:`CONDITIONS`.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

import gauss_flows as gf

_D = 3


def _ffjord(key):
    k_vf, k_probe = jr.split(key)
    vf = gf.DiffeqMLP(k_vf, in_dim=_D, control_dim=0, hidden=(8, 8))
    # Larger output weights: the flow moves points by O(1), so the checks see a real map.
    vf = eqx.tree_at(lambda f: f.layers[-1].weight, vf, 3.0 * vf.layers[-1].weight)
    return gf.FFJORD(k_probe, shape=(_D,), vector_field=vf, rtol=1e-12, atol=1e-12)


def _matrix_exponential(key):
    k_layer, k_gate = jr.split(key)
    return gf.MatrixExponential(
        k_layer, shape=(_D,), time_bias_net=gf.TimeTanh(k_gate, embedding_dim=4), w_init_scale=0.5
    )


#: Class -> factory of an example instance from a JAX key.
REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gf.FFJORD: _ffjord,
    gf.MatrixExponential: _matrix_exponential,
}

#: Example name -> the condition the shared checks pass (for classes with a cond_shape).
CONDITIONS: dict[str, jax.Array] = {
    "MatrixExponential": gf.pack_time_control(jnp.asarray(0.7)),
}

#: The FFJORD's checks compile adaptive ODE solves: they run with ``-m slow``.
SLOW = {"FFJORD"}
