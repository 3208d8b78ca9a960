"""Vector fields ``f(t, x, condition) -> dx/dt`` that drive continuous-time flows.

A vector field is a single-point module: ``x`` has shape ``(in_dim,)``; ``condition`` is
``None`` for an autonomous field (``control_dim == 0``) or the packed vector
``pack_time_control(t_query, control)`` of shape ``(1 + control_dim,)``.

Example:
    >>> import jax.numpy as jnp
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=2, control_dim=0, hidden=(16, 16))
    >>> vf(0.5, jnp.zeros(2), None).shape
    (2,)
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._validation import check_int

__all__ = ["AbstractVectorField", "DiffeqMLP"]


class AbstractVectorField(eqx.Module):
    """A time-dependent vector field ``f(t, x, condition)`` on ``R^in_dim``.

    The drift of an :class:`~gauss_flows.FFJORD`: a subclass gives ``in_dim``,
    ``control_dim`` (0 for an autonomous field, which takes ``condition=None``) and
    ``__call__``.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.continuous import AbstractVectorField
        >>> class Rotation(AbstractVectorField):
        ...     in_dim: int = 2
        ...     control_dim: int = 0
        ...     def __call__(self, t, x, condition=None):
        ...         return jnp.array([-x[1], x[0]])
        >>> Rotation()(0.0, jnp.array([1.0, 0.0]), None).tolist()
        [-0.0, 1.0]
    """

    in_dim: eqx.AbstractVar[int]
    control_dim: eqx.AbstractVar[int]

    @abc.abstractmethod
    def __call__(self, t: ArrayLike, x: Array, condition: Array | None) -> Array:
        """The velocity ``dx/dt`` at time ``t`` and point ``x`` (shape ``(in_dim,)``)."""


def _condition_vector(field: AbstractVectorField, condition: Array | None) -> list[Array]:
    if field.control_dim == 0:
        return []  # an autonomous field ignores a condition passed to it
    if condition is None:
        raise ValueError(
            f"the vector field has control_dim={field.control_dim} and needs a condition "
            f"pack_time_control(t, control) of shape ({1 + field.control_dim},)"
        )
    condition = jnp.asarray(condition)
    if condition.shape != (1 + field.control_dim,):
        raise ValueError(
            f"the condition must have shape ({1 + field.control_dim},), the packed "
            f"[t, control]; got {condition.shape}"
        )
    return [condition]


class DiffeqMLP(AbstractVectorField):
    """A multilayer perceptron on ``[t, x]`` (and the packed condition, when controlled).

    The input is the concatenation of the time, the point and, for ``control_dim > 0``,
    the packed condition ``[t_query, control]``: ``1 + in_dim`` values, or
    ``2 + in_dim + control_dim``. Every hidden layer applies ``activation``; the output
    layer is linear. ``zero_output=True`` starts the output layer at zero, so the field is
    exactly zero and a flow driven by it is the identity until it is trained.

    Args:
        key: Key for the weights (equinox's default ``Linear`` initialisation).
        in_dim: Dimension of the state ``x`` (and of the output).
        control_dim: Dimension of the control signal; 0 for an autonomous field.
        hidden: Widths of the hidden layers.
        activation: Elementwise activation of the hidden layers.
        zero_output: Start the output layer's weights and bias at zero.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> vf = gf.DiffeqMLP(jr.key(0), in_dim=3, control_dim=0, zero_output=True)
        >>> vf(0.0, jnp.ones(3), None).tolist()
        [0.0, 0.0, 0.0]

    References:
        Chen, R. T. Q. et al. (2018). Neural ordinary differential equations. NeurIPS.
    """

    layers: tuple[eqx.nn.Linear, ...]
    activation: Callable[[Array], Array] = eqx.field(static=True)
    in_dim: int = eqx.field(static=True)
    control_dim: int = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        in_dim: int,
        control_dim: int = 0,
        hidden: Sequence[int] = (64, 64),
        activation: Callable[[Array], Array] = jnp.tanh,
        zero_output: bool = False,
    ):
        self.in_dim = check_int("in_dim", in_dim)
        self.control_dim = check_int("control_dim", control_dim, least=0)
        hidden = tuple(check_int("hidden width", w) for w in hidden)
        if not callable(activation):
            raise ValueError(f"activation must be callable; got {activation!r}")
        self.activation = activation
        n_in = 1 + self.in_dim + (1 + self.control_dim if self.control_dim else 0)
        sizes = (n_in, *hidden, self.in_dim)
        keys = jr.split(key, len(sizes) - 1)
        layers = [eqx.nn.Linear(a, b, key=k) for a, b, k in zip(sizes[:-1], sizes[1:], keys)]
        if zero_output:
            last = layers[-1]
            layers[-1] = eqx.tree_at(
                lambda l: (l.weight, l.bias), last, (jnp.zeros_like(last.weight), jnp.zeros_like(last.bias))
            )
        self.layers = tuple(layers)

    def __call__(self, t: ArrayLike, x: Array, condition: Array | None = None) -> Array:
        """The velocity at time ``t`` (a scalar) and point ``x`` of shape ``(in_dim,)``."""
        x = jnp.asarray(x)
        if x.shape != (self.in_dim,):
            raise ValueError(f"the vector field takes a point of shape ({self.in_dim},); got {x.shape}")
        dtype = self.layers[0].weight.dtype
        t = jnp.reshape(jnp.asarray(t, dtype), (1,))
        h = jnp.concatenate([t, x.astype(dtype), *(c.astype(dtype) for c in _condition_vector(self, condition))])
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        return self.layers[-1](h)
