"""A diagonal Gaussian whose mean and log standard deviation are a network of the condition."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.distributions import AbstractDistribution
from jaxtyping import Array, PRNGKeyArray

from gauss_flows._validation import check_int

__all__ = ["ConditionalDiagGaussian"]

_LOG_2PI = float(jnp.log(2 * jnp.pi))


def _shape(name: str, value: object) -> tuple[int, ...]:
    try:
        shape = tuple(check_int(name, n) for n in value)  # type: ignore[union-attr]
    except TypeError:
        raise ValueError(f"{name} must be a tuple of one positive int; got {value!r}") from None
    if len(shape) != 1:
        raise ValueError(f"{name} must be a tuple of one positive int, like (2,); got {value!r}")
    return shape


class ConditionalDiagGaussian(AbstractDistribution):
    r"""The Gaussian :math:`\mathcal{N}(\mu(c), \operatorname{diag}\sigma(c)^2)` given a condition.

    One MLP maps the condition :math:`c` to :math:`2d` numbers, the mean :math:`\mu(c)`
    and the log standard deviation :math:`\log\sigma(c)`. With ``output_scale=0`` the
    MLP's final layer (weights and bias) starts at zero, so the distribution is exactly
    :math:`\mathcal{N}(0, I)` for every condition until training moves it; this is how a
    greedy fit hands a conditional flow a base whose dependence on the condition starts
    at zero. Used as the base of ``flowjax.distributions.Transformed`` it conditions a
    flow on the base slot only ("a per-condition shift and scale").

    Args:
        key: JAX random key (the network's initialisation).
        event_shape: Shape of one sample, ``(d,)``.
        cond_shape: Shape of one condition, ``(c,)``.
        nn_width: Hidden width of the network.
        nn_depth: Number of hidden layers.
        activation: Hidden activation.
        output_scale: Factor on the final layer's initial weights and bias (0: exactly
            standard normal at initialisation).

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> from gauss_flows import ConditionalDiagGaussian
        >>> base = ConditionalDiagGaussian(jr.key(0), event_shape=(2,), cond_shape=(1,),
        ...                                output_scale=0.0)
        >>> round(float(base.log_prob(jnp.zeros(2), condition=jnp.ones(1))), 4)  # -log(2 pi)
        -1.8379

    References:
        Winkler, C. et al. (2019). Learning likelihoods with conditional normalizing
        flows. arXiv:1912.00042.
    """

    net: eqx.nn.MLP
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        event_shape: tuple[int, ...],
        cond_shape: tuple[int, ...],
        nn_width: int = 64,
        nn_depth: int = 2,
        activation: Callable[[Array], Array] = jnp.tanh,
        output_scale: float = 1.0,
    ):
        self.shape = _shape("event_shape", event_shape)
        self.cond_shape = _shape("cond_shape", cond_shape)
        net = eqx.nn.MLP(
            self.cond_shape[0],
            2 * self.shape[0],
            check_int("nn_width", nn_width),
            check_int("nn_depth", nn_depth, least=0),
            activation=activation,
            key=key,
        )
        final = net.layers[-1]
        self.net = eqx.tree_at(
            lambda n: (n.layers[-1].weight, n.layers[-1].bias),
            net,
            (float(output_scale) * final.weight, float(output_scale) * final.bias),
        )

    def loc_and_log_scale(self, condition: Array) -> tuple[Array, Array]:
        """The mean and log standard deviation for one condition of shape ``cond_shape``."""
        out = self.net(jnp.asarray(condition, self.net.layers[0].weight.dtype))
        d = self.shape[0]
        return out[:d], out[d:]

    def _log_prob(self, x, condition=None):
        loc, log_scale = self.loc_and_log_scale(_required(condition))
        u = (x - loc) * jnp.exp(-log_scale)
        return -0.5 * jnp.sum(u**2 + _LOG_2PI) - jnp.sum(log_scale)

    def _sample(self, key, condition=None):
        loc, log_scale = self.loc_and_log_scale(_required(condition))
        return loc + jnp.exp(log_scale) * jr.normal(key, self.shape, loc.dtype)


def _required(condition: Array | None) -> Array:
    if condition is None:
        raise ValueError("ConditionalDiagGaussian needs a condition; got condition=None")
    return condition
