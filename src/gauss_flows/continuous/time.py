"""Time as a condition: packing ``[t, *control]`` and a learned scalar gate of time.

Continuous-time layers take their time (and any control signal) through flowjax's
``condition`` argument, as one packed vector ``[t, c_1, …, c_C]``, so they compose with
``Chain`` and ``Transformed`` like every other conditional bijection.

Example:
    >>> from gauss_flows import pack_time_control
    >>> pack_time_control(0.5).tolist()
    [0.5]
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._validation import check_int, check_number

__all__ = ["TimeTanh", "pack_time_control", "time_of"]


def pack_time_control(t: ArrayLike, control: ArrayLike | None = None) -> Array:
    """The condition vector ``[t, *control]`` of a continuous-time layer.

    Args:
        t: The time: a scalar (a Python float or a traced JAX scalar), or a batch of
            times of shape ``(...)`` or ``(..., 1)``.
        control: Optional control values, shape ``(C,)`` (or ``(..., C)`` matching a
            batch of times).

    Returns:
        Shape ``(1,)`` (or ``(..., 1)``) holding ``t``, or ``(1 + C,)`` (``(..., 1 + C)``)
        holding ``t`` then the control.

    Raises:
        ValueError: If ``control`` is not at least one-dimensional.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows import pack_time_control
        >>> pack_time_control(1.0, jnp.array([2.0, 3.0])).tolist()
        [1.0, 2.0, 3.0]
    """
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(float)
    if t.ndim == 0:
        t = t[None]
    elif t.shape[-1] != 1:
        t = t[..., None]
    if control is None:
        return t
    control = jnp.asarray(control)
    if control.ndim == 0:
        raise ValueError(f"control must have shape (C,) or (..., C); got a scalar {control!r}")
    batch = jnp.broadcast_shapes(t.shape[:-1], control.shape[:-1])
    dtype = jnp.result_type(t.dtype, control.dtype, float)
    return jnp.concatenate(
        [jnp.broadcast_to(t, (*batch, 1)).astype(dtype),
         jnp.broadcast_to(control, (*batch, control.shape[-1])).astype(dtype)],
        axis=-1,
    )


def time_of(condition: Array | None, layer: str) -> Array:
    """The time ``t`` (a scalar) held first in a packed condition.

    Raises:
        ValueError: If ``condition`` is missing.
    """
    if condition is None:
        raise ValueError(
            f"{layer} needs a condition: the packed time pack_time_control(t), shape (1,)"
        )
    return jnp.asarray(condition)[0]


class TimeTanh(eqx.Module):
    r"""A learned scalar gate of time, :math:`h(t) = \sum_i w_i \tanh(a_i t)`, with :math:`h(0) = 0`.

    Every parameter value gives :math:`h(0) = 0` exactly, so a layer gated by it is the
    identity at :math:`t = 0` throughout training.

    Args:
        key: Key for the initial rates :math:`a_i \sim N(0, 1)` and weights
            :math:`w_i \sim N(0, \text{weight\_scale}^2)`.
        embedding_dim: Number of terms.
        weight_scale: Standard deviation of the initial weights.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows import TimeTanh
        >>> gate = TimeTanh(jr.key(0), embedding_dim=8)
        >>> float(gate(0.0))
        0.0

    References:
        Bilos, M. et al. (2021). Neural flows: efficient alternative to neural ODEs. NeurIPS.
    """

    weights: Array
    rates: Array

    def __init__(self, key: PRNGKeyArray, embedding_dim: int = 16, weight_scale: float = 0.1):
        embedding_dim = check_int("embedding_dim", embedding_dim)
        weight_scale = check_number("weight_scale", weight_scale)
        k_rate, k_weight = jr.split(key)
        self.rates = jr.normal(k_rate, (embedding_dim,), dtype=float)
        self.weights = weight_scale * jr.normal(k_weight, (embedding_dim,), dtype=float)

    def __call__(self, t: ArrayLike) -> Array:
        """:math:`h(t)` for a scalar time of shape ``()`` or ``(1,)``."""
        t = jnp.reshape(jnp.asarray(t), ())
        return jnp.sum(self.weights * jnp.tanh(self.rates * t))
