"""The rotation and marginal layer families a Gaussianization block can be built from.

A family has a name (what builders take as ``rotation=`` / ``marginal=`` and what model
files store), a layer class, a way to build a fresh layer of given sizes, and the size
arguments read back from a layer. Blocks and builders ask this module, so a new family
plugs in here once.

Example:
    >>> import jax.random as jr
    >>> from gauss_flows.bijections.families import make_marginal, marginal_architecture
    >>> layer = make_marginal("spline", jr.key(0), n_dims=2, n_bins=6)
    >>> marginal_architecture(layer)
    {'marginal': 'spline', 'n_bins': 6, 'interval': 5.0}
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, PRNGKeyArray

from gauss_flows._validation import check_int, check_number
from gauss_flows.bijections.histogram import HistogramGaussianCDF
from gauss_flows.bijections.logistic_mixture import MixtureLogisticCDF
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.orthogonal import OrthogonalRotation
from gauss_flows.bijections.rotation import HouseholderRotation
from gauss_flows.bijections.spline import RQSplineMarginal

__all__ = [
    "MARGINAL_FAMILIES",
    "ROTATION_FAMILIES",
    "make_marginal",
    "make_rotation",
    "marginal_architecture",
    "rotation_architecture",
    "rotation_matrix",
]

#: Rotation family names and their layer classes.
ROTATION_FAMILIES: dict[str, type] = {
    "householder": HouseholderRotation,
    "orthogonal": OrthogonalRotation,
}

#: Marginal family names and their layer classes (each maps every dimension to N(0, 1)).
MARGINAL_FAMILIES: dict[str, type] = {
    "mixture": MixtureGaussianCDF,
    "logistic_mixture": MixtureLogisticCDF,
    "histogram": HistogramGaussianCDF,
    "spline": RQSplineMarginal,
}


def _family_name(families: dict[str, type], layer: AbstractBijection, kind: str) -> str:
    for name, cls in families.items():
        if type(layer) is cls:
            return name
    raise TypeError(
        f"a {type(layer).__name__} is not a {kind} layer of any family; use one of "
        + ", ".join(cls.__name__ for cls in families.values())
    )


def _check_family(families: dict[str, type], name: str, kind: str) -> str:
    if name not in families:
        raise ValueError(f"unknown {kind} family {name!r}; choose one of {', '.join(families)}")
    return name


def make_rotation(
    name: str, key: PRNGKeyArray, *, n_dims: int, n_reflections: int | None = None
) -> AbstractBijection:
    """A random rotation layer of family ``name`` (``"householder"`` or ``"orthogonal"``).

    Householder rotations get normally distributed reflection vectors (``n_reflections``
    of them, default ``n_dims``) and all-one signs; orthogonal (Cayley) rotations small
    random skew parameters, near the identity.

    Raises:
        ValueError: For an unknown family, or ``n_reflections`` given for a family that
            has none.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.bijections.families import make_rotation
        >>> make_rotation("householder", jr.key(0), n_dims=3, n_reflections=2).params.shape
        (2, 3)
    """
    _check_family(ROTATION_FAMILIES, name, "rotation")
    if name == "householder":
        k = n_dims if n_reflections is None else check_int("n_reflections", n_reflections)
        return HouseholderRotation(
            params=jr.normal(key, (k, n_dims)), signs=jnp.ones(n_dims, jnp.int32)
        )
    if n_reflections is not None:
        raise ValueError(f"n_reflections applies to Householder rotations, not {name!r}")
    m = n_dims * (n_dims - 1) // 2
    return OrthogonalRotation((n_dims,), skew_params=0.1 * jr.normal(key, (m,)))


def rotation_architecture(layer: AbstractBijection) -> dict[str, Any]:
    """The family name and size arguments of a rotation layer.

    Example:
        >>> from gauss_flows.bijections import OrthogonalRotation
        >>> from gauss_flows.bijections.families import rotation_architecture
        >>> rotation_architecture(OrthogonalRotation((3,)))
        {'rotation': 'orthogonal'}
    """
    name = _family_name(ROTATION_FAMILIES, layer, "rotation")
    if name == "householder":
        return {"rotation": name, "n_reflections": int(layer.params.shape[-2])}
    return {"rotation": name}


def rotation_matrix(layer: AbstractBijection) -> Array:
    """The matrix ``Q`` of a linear layer: ``layer.transform(x) == Q @ x``."""
    d = layer.shape[0]
    eye = jnp.eye(d, dtype=jnp.result_type(*jax.tree.leaves(layer), float))
    return jax.vmap(layer.transform)(eye).T


def make_marginal(
    name: str,
    key: PRNGKeyArray,
    *,
    n_dims: int,
    n_components: int = 8,
    n_bins: int = 16,
    interval: float = 5.0,
) -> AbstractBijection:
    """A fresh marginal layer of family ``name`` for a trainable flow's cold start.

    ``"mixture"``: random Gaussian mixtures (:meth:`MixtureGaussianCDF.random`);
    ``"logistic_mixture"``: the default logistic mixtures with means jittered from
    ``key``; ``"histogram"``: ``n_bins`` bins with the masses of N(0, 1) (near the
    identity); ``"spline"``: the identity spline of ``n_bins`` bins on
    ``[-interval, interval]``. ``n_components`` applies to the mixtures, ``n_bins`` to
    the histogram and spline, ``interval`` to the spline.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.bijections.families import make_marginal
        >>> type(make_marginal("histogram", jr.key(0), n_dims=2, n_bins=8)).__name__
        'HistogramGaussianCDF'
    """
    _check_family(MARGINAL_FAMILIES, name, "marginal")
    shape = (n_dims,)
    if name == "mixture":
        return MixtureGaussianCDF.random(key, n_dims=n_dims, n_components=n_components)
    if name == "logistic_mixture":
        layer = MixtureLogisticCDF(n_components=check_int("n_components", n_components), shape=shape)
        jitter = 0.1 * jr.normal(key, layer.means.shape, layer.means.dtype)
        return MixtureLogisticCDF(
            logits=layer.logits, means=layer.means + jitter, log_scales=layer.log_scales
        )
    if name == "histogram":
        return HistogramGaussianCDF(n_bins=check_int("n_bins", n_bins, least=2), shape=shape)
    return RQSplineMarginal(
        n_bins=check_int("n_bins", n_bins, least=2), shape=shape, interval=check_number("interval", interval)
    )


def marginal_architecture(layer: AbstractBijection) -> dict[str, Any]:
    """The family name and size arguments of a marginal layer.

    Example:
        >>> from gauss_flows.bijections import HistogramGaussianCDF
        >>> from gauss_flows.bijections.families import marginal_architecture
        >>> marginal_architecture(HistogramGaussianCDF(n_bins=8, shape=(2,)))
        {'marginal': 'histogram', 'n_bins': 8}
    """
    name = _family_name(MARGINAL_FAMILIES, layer, "marginal")
    if name in ("mixture", "logistic_mixture"):
        return {"marginal": name, "n_components": int(layer.logits.shape[-1])}
    if name == "histogram":
        return {"marginal": name, "n_bins": int(layer.n_bins)}
    return {"marginal": name, "n_bins": int(layer.n_bins), "interval": float(layer.interval)}
