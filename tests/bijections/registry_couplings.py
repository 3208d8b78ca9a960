"""Examples of the coupling layers of the tutorial-series menu for the shared property checks.

Each factory builds a layer of dimension 3 whose conditioner has a random (non-zero)
final layer, so the layer really couples; :class:`SumOfSigmoids` is checked as an
elementwise layer with random parameters. ``MixtureGaussianCDFCoupling`` is registered in
``bijection_registry``; its key-first constructor is checked here as a variant.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.random as jr

from gauss_flows import bijections as gb

N_DIMS = 3


def _affine(key):
    return gb.AffineCoupling(key, shape=(N_DIMS,), nn_width=8, nn_depth=2)


def _spline(key):
    return gb.RQSplineCoupling(key, shape=(N_DIMS,), n_bins=6, interval=4.0, nn_width=8, nn_depth=2)


def _deep_sigmoid(key):
    return gb.DeepSigmoidCoupling(key, shape=(N_DIMS,), n_components=4, nn_width=8, nn_depth=2)


def _mixture(key):
    return gb.MixtureGaussianCDFCoupling(
        key, shape=(N_DIMS,), n_components=3, nn_width=8, nn_depth=2
    )


def _sum_of_sigmoids(key):
    layer = gb.SumOfSigmoids(n_components=4, shape=(N_DIMS,))
    keys = jr.split(key, 4)
    return eqx.tree_at(
        lambda s: (s.raw_slope, s.raw_weights, s.raw_rates, s.shifts),
        layer,
        (
            jr.normal(keys[0], layer.raw_slope.shape),
            jr.normal(keys[1], layer.raw_weights.shape),
            jr.normal(keys[2], layer.raw_rates.shape),
            2.0 * jr.normal(keys[3], layer.shifts.shape),
        ),
    )


#: Class -> factory of an example instance from a JAX key.
REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gb.AffineCoupling: _affine,
    gb.RQSplineCoupling: _spline,
    gb.DeepSigmoidCoupling: _deep_sigmoid,
    gb.SumOfSigmoids: _sum_of_sigmoids,
}

#: The key-first constructor of the mixture-CDF coupling (the class itself is registered,
#: through ``random``, in ``bijection_registry``).
VARIANTS: dict[str, Callable[[jax.Array], eqx.Module]] = {
    "MixtureGaussianCDFCoupling[key]": _mixture,
}
