"""Shared property checks over every registered bijection (see ``bijection_registry``).

Round trip, log-determinant against ``jax.jacobian`` in both directions, finite values
far outside the data in float32 and float64, finite gradients that match finite
differences, and agreement under ``jax.jit`` and ``jax.vmap``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import paramax
import pytest
from flowjax.bijections.bijection import AbstractBijection

import gauss_flows
from bijection_registry import CONDITIONS, N_DIMS, REGISTRY, SLOW, UNIT_INTERVAL, VARIANTS, examples

EXAMPLES = examples()
# Stacks of parts that are checked on their own run in the slow set only.
NAMES = [
    pytest.param(name, marks=pytest.mark.slow)
    if (name in VARIANTS and name.startswith("GaussianizationStack[")) or name in SLOW
    else name
    for name in sorted(EXAMPLES)
]
# The coupling stack runs the coupling block (checked on its own) under flowjax's Scan;
# the checks that cost most are run on its parts only (and on the conditional couplings).
PARTS = [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
    for name in sorted(set(EXAMPLES) - set(VARIANTS) | {n for n in VARIANTS if n in CONDITIONS})
]


class _Conditioned(AbstractBijection):
    """A conditional layer with its condition fixed, so the checks call it like the others."""

    layer: AbstractBijection
    condition: jax.Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: None = None

    def transform_and_log_det(self, x, condition=None):
        return self.layer.transform_and_log_det(x, self.condition)

    def inverse_and_log_det(self, y, condition=None):
        return self.layer.inverse_and_log_det(y, self.condition)


def _cast(tree, dtype):
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)


@functools.cache
def _built(name):
    """The registered example ``name`` as its factory builds it."""
    return EXAMPLES[name](jr.key(0))


@functools.cache
def _example(name, dtype=jnp.float64):
    """The registered example ``name`` in ``dtype``, a conditional one with its condition
    bound; built once per test module (layers are immutable pytrees, so tests share them)."""
    layer = _built(name)
    if layer.cond_shape is not None:
        assert name in CONDITIONS, f"give the conditional example {name} a condition in CONDITIONS"
        assert CONDITIONS[name].shape == layer.cond_shape, name
        # The condition is frozen (not trained), so the gradient check leaves it alone.
        layer = _Conditioned(layer, paramax.NonTrainable(CONDITIONS[name]), layer.shape)
    return _cast(layer, dtype)


def _points(dtype=jnp.float64, n=8, spread=2.0):
    return (spread * jr.normal(jr.key(1), (n, N_DIMS))).astype(dtype)


def _on_side(name, side, points):
    """``points`` mapped into the domain of ``name``'s data or latent side."""
    if UNIT_INTERVAL.get(name) == side:
        return jax.scipy.special.ndtr(points / 2.0)
    return points


def _data_and_latent_points(name, dtype=jnp.float64, n=8):
    x = _points(dtype, n)
    return _on_side(name, "data", x), _on_side(name, "latent", x)


def _package_bijection_classes() -> set[type]:
    """Every concrete ``AbstractBijection`` subclass defined in a gauss_flows module."""
    found = set()
    for info in pkgutil.walk_packages(gauss_flows.__path__, prefix="gauss_flows."):
        if info.name.endswith("__main__"):
            continue  # running it is the command line
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            defined_here = obj.__module__ == module.__name__
            if not (defined_here and issubclass(obj, AbstractBijection)):
                continue
            # equinox marks a class abstract by its abstract methods or AbstractVars.
            if not (inspect.isabstract(obj) or obj.__abstractvars__):
                found.add(obj)
    return found


def test_registry_covers_every_bijection_class():
    missing = _package_bijection_classes() - set(REGISTRY)
    assert not missing, f"register these in bijection_registry.py: {sorted(c.__name__ for c in missing)}"
    for cls in REGISTRY:
        assert type(_built(cls.__name__)) is cls


@eqx.filter_jit
def _round_trips(layer, x, z):
    forward_first = jax.vmap(layer.inverse)(jax.vmap(layer.transform)(x))
    inverse_first = jax.vmap(layer.transform)(jax.vmap(layer.inverse)(z))
    return forward_first, inverse_first


@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name):
    x, z = _data_and_latent_points(name)
    forward_first, inverse_first = _round_trips(_example(name), x, z)
    np.testing.assert_allclose(forward_first, x, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(inverse_first, z, rtol=1e-6, atol=1e-8)


@eqx.filter_jit
def _log_dets_and_jacobians(layer, x, z):
    def both(f, f_and_log_det, points):
        jacobian_log_det = jax.vmap(lambda v: jnp.linalg.slogdet(jax.jacobian(f)(v))[1])(points)
        return jax.vmap(f_and_log_det)(points)[1], jacobian_log_det

    return both(layer.transform, layer.transform_and_log_det, x), both(
        layer.inverse, layer.inverse_and_log_det, z
    )


@pytest.mark.parametrize("name", NAMES)
def test_log_det_matches_jacobian(name):
    forward, inverse = _log_dets_and_jacobians(_example(name), *_data_and_latent_points(name, n=3))
    np.testing.assert_allclose(*forward, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(*inverse, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_finite_far_outside_the_data(name, dtype):
    far = jnp.array([[1e3, -1e3, 0.0], [-5e2, 2e2, 1e3], [40.0, -40.0, 25.0]], dtype)
    (z, log_det), (x, inv_log_det) = _both_directions(_example(name, dtype), far, jnp.clip(far, -8, 8))
    assert z.dtype == dtype and log_det.dtype == dtype
    assert bool(jnp.all(jnp.isfinite(z))) and bool(jnp.all(jnp.isfinite(log_det)))
    assert bool(jnp.all(jnp.isfinite(x))) and bool(jnp.all(jnp.isfinite(inv_log_det)))


@eqx.filter_jit
def _both_directions(layer, x, z):
    return jax.vmap(layer.transform_and_log_det)(x), jax.vmap(layer.inverse_and_log_det)(z)


@pytest.mark.parametrize("name", PARTS)
def test_gradients_are_finite_and_match_finite_differences(name):
    layer = _example(name)
    x, _ = _data_and_latent_points(name, n=4)
    # Leaves wrapped in paramax.NonTrainable (the fixed standardisation) get no gradient.
    frozen = lambda leaf: isinstance(leaf, paramax.NonTrainable)
    params, static = eqx.partition(layer, eqx.is_inexact_array, is_leaf=frozen)

    @eqx.filter_jit
    def loss(p):
        z, log_det = jax.vmap(eqx.combine(p, static).transform_and_log_det)(x)
        return jnp.sum(jnp.sin(z)) + jnp.sum(log_det)

    if not jax.tree.leaves(params):  # nothing trainable
        return
    grads = eqx.filter_jit(jax.grad(loss))(params)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    direction = jax.tree.map(lambda a: jr.normal(jr.key(2), a.shape, a.dtype), params)
    eps = 1e-6
    up = jax.tree.map(lambda p, d: p + eps * d, params, direction)
    down = jax.tree.map(lambda p, d: p - eps * d, params, direction)
    numeric = (loss(up) - loss(down)) / (2 * eps)
    analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grads), jax.tree.leaves(direction)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", PARTS)
def test_jit_and_vmap_agree_with_single_calls(name):
    layer = _example(name)
    x, _ = _data_and_latent_points(name, n=2)
    single = eqx.filter_jit(lambda b, v: b.transform_and_log_det(v))
    singles = [single(layer, row) for row in x]
    jit_of_vmap = eqx.filter_jit(lambda b, v: jax.vmap(b.transform_and_log_det)(v))(layer, x)
    vmap_of_jit = jax.vmap(single, in_axes=(None, 0))(layer, x)
    for batched in (jit_of_vmap, vmap_of_jit):
        for i, (z, log_det) in enumerate(singles):
            np.testing.assert_allclose(batched[0][i], z, rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(batched[1][i], log_det, rtol=1e-10, atol=1e-12)
