"""One registry of every bijection class in ``gauss_flows``, with a small example of each.

Every concrete subclass of flowjax's ``AbstractBijection`` defined in the package must
have an entry here; ``test_bijection_properties.py`` runs the shared property checks over
all entries and fails for a class that is missing. A new layer gets the checks by being
registered: add a factory that builds a non-trivial instance (random parameters, couplings
that really couple) of dimension :data:`N_DIMS`.
"""

from __future__ import annotations

import importlib
import pathlib
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr

from gauss_flows import bijections as gb
from gauss_flows.flows import coupling_gaussianization_flow, gaussianization_flow
from gauss_flows.layout import gaussianizer

N_DIMS = 3


def _marginal(key):
    return gb.MixtureGaussianCDF.random(key, n_dims=N_DIMS, n_components=3)


def _coupling(key, cond_first=True):
    # output_scale 0.5: the conditioner's output is far from zero, so the layer couples.
    return gb.MixtureGaussianCDFCoupling.random(
        key, n_dims=N_DIMS, n_components=3, nn_width=8, cond_first=cond_first, output_scale=0.5
    )


def _diagonal_block(key):
    k1, k2 = jr.split(key)
    return gb.GaussianizationBlock(gb.HouseholderRotation.random(k1, n_dims=N_DIMS), _marginal(k2))


def _coupling_block(key):
    k1, k2, k3 = jr.split(key, 3)
    return gb.CouplingGaussianizationBlock(
        gb.HouseholderRotation.random(k1, n_dims=N_DIMS), _coupling(k2), _coupling(k3, False)
    )


def _moments():
    return jnp.array([0.5, -1.0, 2.0]), jnp.array([2.0, 0.5, 1.5])


def _diagonal_stack(key):
    loc, scale = _moments()
    return gaussianizer(
        gaussianization_flow(key, n_dims=N_DIMS, n_layers=2, n_components=3, loc=loc, scale=scale)
    )


def _coupling_stack(key):
    loc, scale = _moments()
    flow = coupling_gaussianization_flow(
        key, n_dims=N_DIMS, n_layers=2, n_components=3, nn_width=8, loc=loc, scale=scale,
        output_scale=0.5,
    )
    return gaussianizer(flow)


def _standardization(key):
    return _diagonal_stack(key).standardizer


#: Class -> factory of an example instance from a JAX key.
REGISTRY: dict[type, Callable[[jax.Array], eqx.Module]] = {
    gb.MixtureGaussianCDF: _marginal,
    gb.HouseholderRotation: lambda key: gb.HouseholderRotation(  # K = 5 > d, with signs
        params=jr.normal(key, (5, N_DIMS)), signs=jnp.array([1, -1, 1])
    ),
    gb.MixtureGaussianCDFCoupling: _coupling,
    gb.GaussianizationBlock: _diagonal_block,
    gb.CouplingGaussianizationBlock: _coupling_block,
    gb.GaussianizationStack: _diagonal_stack,
    gb.Standardization: _standardization,
}

#: Further examples of registered classes worth checking on their own.
VARIANTS: dict[str, Callable[[jax.Array], eqx.Module]] = {
    "GaussianizationStack[coupling]": _coupling_stack,
}

#: Examples (by name) with a side on the unit interval: ``"data"`` (the input of
#: ``transform`` lies in (0, 1)) or ``"latent"`` (its output does). The property tests map
#: their real-line points onto that side through ``ndtr``.
UNIT_INTERVAL: dict[str, str] = {}

#: Examples (by name) of conditional classes (``cond_shape`` not ``None``) and the
#: condition the property tests pass to every call.
CONDITIONS: dict[str, jax.Array] = {}

#: Examples (by name) whose property checks run in the slow set only (each check compiles
#: an adaptive ODE solve).
SLOW: set[str] = set()

# Layer families register their classes in ``registry_*.py`` modules beside this one,
# each defining its own ``REGISTRY`` and optionally ``VARIANTS``, ``UNIT_INTERVAL`` and
# ``CONDITIONS`` and ``SLOW``.
for _fragment in sorted(pathlib.Path(__file__).parent.glob("registry_*.py")):
    _module = importlib.import_module(_fragment.stem)
    REGISTRY.update(_module.REGISTRY)
    VARIANTS.update(getattr(_module, "VARIANTS", {}))
    UNIT_INTERVAL.update(getattr(_module, "UNIT_INTERVAL", {}))
    CONDITIONS.update(getattr(_module, "CONDITIONS", {}))
    SLOW.update(getattr(_module, "SLOW", set()))


def examples() -> dict[str, Callable[[jax.Array], eqx.Module]]:
    """Every example by name: one per registered class, then the variants."""
    named = {cls.__name__: factory for cls, factory in REGISTRY.items()}
    return named | VARIANTS
