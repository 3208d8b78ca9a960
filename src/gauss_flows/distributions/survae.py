"""A flow as an explicit list of layers from a base to the data, threading one condition."""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from flowjax.distributions import AbstractDistribution
from jaxtyping import Array, PRNGKeyArray

__all__ = ["SurVAEFlow"]


def _own_condition(part: eqx.Module, condition: Array | None) -> Array | None:
    """The condition for one part: unconditional parts (``cond_shape is None``) get none."""
    return None if part.cond_shape is None else condition


class SurVAEFlow(eqx.Module):
    r"""A base distribution and a list of bijections applied from the base to the data.

    Sampling draws :math:`z` from the base given the condition and applies each transform
    in order; :meth:`log_prob` runs each transform's ``inverse_and_log_det`` in reverse
    order and adds the base's log-density. The same condition goes to the base and to
    every transform; parts whose ``cond_shape`` is ``None`` ignore it, so one list can mix
    conditional and unconditional layers (the "which slot reads the condition" design).
    The random key of :meth:`log_prob` is threaded for stochastic layers; bijections do
    not use it.

    Args:
        base: The base distribution (flowjax ``AbstractDistribution``).
        transforms: flowjax bijections, ordered base → data, each of the base's shape.
        data_shape: Shape of one data point (default: the base's shape).

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> from flowjax.bijections import Permute
        >>> from flowjax.distributions import Normal
        >>> from gauss_flows import RQSplineCoupling, SurVAEFlow
        >>> layers = [RQSplineCoupling(jr.key(0), shape=(2,), n_bins=4, interval=3.0, cond_dim=1),
        ...           Permute(jnp.array([1, 0]))]
        >>> flow = SurVAEFlow(Normal(jnp.zeros(2)), layers)
        >>> flow.sample(jr.key(1), condition=jnp.ones(1)).shape
        (2,)
        >>> flow.log_prob(jnp.zeros(2), jr.key(2), condition=jnp.ones(1)).shape
        ()

    References:
        Nielsen, D. et al. (2020). SurVAE Flows: surjections to bridge the gap between
        VAEs and flows. NeurIPS.
    """

    base: AbstractDistribution
    transforms: tuple[AbstractBijection, ...]
    data_shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        base: AbstractDistribution,
        transforms: Sequence[AbstractBijection],
        data_shape: tuple[int, ...] | None = None,
    ):
        if not isinstance(base, AbstractDistribution):
            raise TypeError(f"base must be a flowjax AbstractDistribution; got {type(base).__name__}")
        transforms = tuple(transforms)
        for i, t in enumerate(transforms):
            if not isinstance(t, AbstractBijection):
                raise TypeError(f"transforms[{i}] must be a flowjax bijection; got {type(t).__name__}")
            if t.shape != base.shape:
                raise ValueError(
                    f"transforms[{i}] has shape {t.shape}, but the base has shape {base.shape}"
                )
        self.base, self.transforms = base, transforms
        self.data_shape = tuple(base.shape if data_shape is None else data_shape)
        if self.data_shape != tuple(base.shape):
            raise ValueError(
                f"data_shape {self.data_shape} differs from the base shape {base.shape}; "
                "only dimension-preserving transforms are supported"
            )

    @property
    def cond_shape(self) -> tuple[int, ...] | None:
        """The condition shape shared by the conditional parts (``None`` if there are none)."""
        shapes = {p.cond_shape for p in (self.base, *self.transforms)} - {None}
        if len(shapes) > 1:
            raise ValueError(f"the parts disagree on the condition shape: {sorted(shapes)}")
        return shapes.pop() if shapes else None

    def log_prob(self, x: Array, key: PRNGKeyArray, condition: Array | None = None) -> Array:
        """The log-density of one data point ``x`` (shape ``data_shape``) given the condition."""
        del key  # bijections are deterministic
        _check_condition(self.cond_shape, condition)
        z, total = jnp.asarray(x), 0.0
        for t in reversed(self.transforms):
            z, log_det = t.inverse_and_log_det(z, _own_condition(t, condition))
            total = total + log_det
        base_condition = _own_condition(self.base, condition)
        return self.base._log_prob(z, base_condition) + total

    def sample(
        self,
        key: PRNGKeyArray,
        sample_shape: tuple[int, ...] = (),
        condition: Array | None = None,
    ) -> Array:
        """Samples of shape ``sample_shape + data_shape`` given one condition."""
        _check_condition(self.cond_shape, condition)
        if sample_shape:
            n = int(jnp.prod(jnp.array(sample_shape)))
            one = lambda k: self.sample(k, (), condition)
            return jax.vmap(one)(jr.split(key, n)).reshape(*sample_shape, *self.data_shape)
        z = self.base._sample(key, _own_condition(self.base, condition))
        for t in self.transforms:
            z = t.transform(z, _own_condition(t, condition))
        return z


def _check_condition(cond_shape: tuple[int, ...] | None, condition: Array | None) -> None:
    if cond_shape is None:
        return
    if condition is None:
        raise ValueError(f"this flow is conditional (cond_shape {cond_shape}); pass a condition")
    if jnp.shape(condition) != cond_shape:
        raise ValueError(
            f"the condition must have shape {cond_shape} (one point); got {jnp.shape(condition)}"
        )
