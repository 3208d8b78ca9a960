"""Helpers shared by the per-dimension (marginal) layers: argument checks and log-space probits."""

from __future__ import annotations

import math
from statistics import NormalDist

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr
from jaxtyping import Array

from gauss_flows._validation import check_int
from gauss_flows.bijections.mixture_cdf import log_ndtri


def check_event_shape(shape: object, name: str = "shape") -> tuple[int]:
    """``shape`` as a 1-tuple ``(d,)`` with ``d`` a positive integer.

    Raises:
        ValueError: If ``shape`` is not a tuple (or list) holding one positive integer.

    Example:
        >>> from gauss_flows.bijections._elementwise import check_event_shape
        >>> check_event_shape((3,))
        (3,)
    """
    if not isinstance(shape, (tuple, list)) or len(shape) != 1:
        raise ValueError(f"{name} must be a 1-tuple (n_dims,); got {shape!r}")
    return (check_int(f"{name}[0]", shape[0]),)


def normal_quantiles(n: int) -> np.ndarray:
    """``Φ⁻¹((k − ½)/n)`` for ``k = 1 … n``: ``n`` evenly spaced quantiles of N(0, 1).

    Computed on the host in float64 (no compilation).

    Example:
        >>> from gauss_flows.bijections._elementwise import normal_quantiles
        >>> normal_quantiles(1).tolist()
        [0.0]
    """
    std = NormalDist()
    return np.array([std.inv_cdf((k + 0.5) / n) for k in range(n)], dtype=np.float64)


def spread_components(
    n_components: int, shape: tuple[int], spread: float
) -> tuple[np.ndarray, np.ndarray, float]:
    """Default mixture layout: means at shrunken normal quantiles, total variance one.

    The means are ``spread · Φ⁻¹((k − ½)/K)`` and every component has the same variance
    ``1 − Var(means)``, so the mixture has mean 0 and variance 1 and its CDF is close to
    that of N(0, 1); for ``K = 1`` it is exactly N(0, 1).

    Returns:
        ``(logits, means, component_variance)``: zero logits and the means, both of shape
        ``shape + (K,)``, and the common component variance.
    """
    q = spread * normal_quantiles(n_components)
    variance = 1.0 - float(np.mean(q * q))
    means = np.broadcast_to(q, (*shape, n_components)).copy()
    return np.zeros_like(means), means, variance


def probit_from_log_tails(log_lower: Array, log_upper: Array) -> Array:
    """``Φ⁻¹(u)`` from ``log u`` and ``log(1 − u)``, taken from whichever tail is smaller.

    Both logarithms are needed so that ``z`` stays finite and accurate where ``u`` rounds
    to 0 or 1; the result is exact in ``log u`` (``log_ndtri`` holds to ``z ≈ −1e4``).
    """
    use_lower = log_lower <= log_upper
    return jnp.where(use_lower, log_ndtri(log_lower), -log_ndtri(log_upper))


def normal_log_tails(z: Array) -> tuple[Array, Array]:
    """``(log Φ(z), log Φ(−z))``, each accurate deep in its own tail."""
    return log_ndtr(z), log_ndtr(-z)


LOG_HALF = math.log(0.5)
