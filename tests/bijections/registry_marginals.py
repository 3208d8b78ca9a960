"""Registry fragment: the per-dimension (marginal) layers, each with a non-trivial example.

Picked up by ``bijection_registry.py``; every example has dimension 3.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from gauss_flows import bijections as gb

_D = 3


def _logistic_mixture(key):
    k1, k2, k3 = jr.split(key, 3)
    return gb.MixtureLogisticCDF(
        logits=0.3 * jr.normal(k1, (_D, 4)),
        means=jr.normal(k2, (_D, 4)),
        log_scales=-0.7 + 0.3 * jr.normal(k3, (_D, 4)),
    )


def _skewed_data(key, n=20_000):
    """Data whose histograms cover the property tests' points (about ±6) densely."""
    k1, k2 = jr.split(key)
    return 3.0 * jr.normal(k1, (n, _D)) + jr.exponential(k2, (n, _D))


def _histogram(key):
    return gb.HistogramCDF(n_bins=32, shape=(_D,)).fit(_skewed_data(key))


def _histogram_gaussian(key):
    return gb.HistogramGaussianCDF(n_bins=32, shape=(_D,)).fit(_skewed_data(key))


def _perturbed_spline(key):
    """A spline with 0.8·N(0, 1) added to every leaf: far from the identity."""
    spline = gb.RQSplineMarginal(n_bins=6, shape=(_D,), interval=4.0)
    params, static = eqx.partition(spline, eqx.is_inexact_array)
    leaves, tree = jax.tree.flatten(params)
    keys = jr.split(key, len(leaves))
    leaves = [a + 0.8 * jr.normal(k, a.shape, a.dtype) for a, k in zip(leaves, keys, strict=True)]
    return eqx.combine(jax.tree.unflatten(tree, leaves), static)


def _bimodal(key, n=2_000):
    k1, k2 = jr.split(key)
    signs = jnp.where(jr.bernoulli(k1, 0.4, (n, _D)), 1.5, -1.5)
    return signs + 0.5 * jr.normal(k2, (n, _D))


#: Class -> factory of an example instance from a JAX key.
REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gb.MixtureLogisticCDF: _logistic_mixture,
    gb.HistogramCDF: _histogram,
    gb.HistogramGaussianCDF: _histogram_gaussian,
    gb.InverseGaussCDF: lambda key: gb.InverseGaussCDF(shape=(_D,)),
    gb.RQSplineMarginal: _perturbed_spline,
}

#: Examples with a side on the unit interval (see ``bijection_registry.UNIT_INTERVAL``).
UNIT_INTERVAL: dict[str, str] = {"InverseGaussCDF": "data", "HistogramCDF": "latent"}

#: Fitted examples, checked as well.
VARIANTS: dict[str, Callable[[jax.Array], eqx.Module]] = {
    "MixtureGaussianCDF[from_data]": lambda key: gb.MixtureGaussianCDF.from_data(_bimodal(key), 3),
    "RQSplineMarginal[from_data]": lambda key: gb.RQSplineMarginal.from_data(_bimodal(key), 8),
}
