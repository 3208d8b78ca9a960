"""A per-dimension mixture-CDF Gaussianization whose mixture parameters depend on a condition."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, PRNGKeyArray

from gauss_flows._validation import check_int
from gauss_flows.bijections.coupling import conditioner_mlp
from gauss_flows.bijections.marginal import MixtureGaussianCDF
from gauss_flows.bijections.mixture_cdf import mixture_degaussianize, mixture_gaussianize

__all__ = ["ConditionalMixtureGaussianCDF", "conditional_offsets"]


def _soft_bound(raw: Array, bound: float) -> Array:
    return bound * jnp.tanh(raw / bound)


def conditional_offsets(
    raw: Array, shape: tuple[int, int], offset_bound: float, log_scale_bound: float
) -> tuple[Array, Array, Array]:
    """Bounded offsets ``(logits, means, log_scales)`` from ``3·d·K`` raw network outputs.

    Logit and mean offsets lie in ``±offset_bound``, log-scale offsets in
    ``±log_scale_bound`` (``b tanh(r / b)``, the identity near 0, exactly 0 at 0).

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections.conditional_marginal import conditional_offsets
        >>> [o.shape for o in conditional_offsets(jnp.zeros(12), (2, 2), 3.0, 2.0)]
        [(2, 2), (2, 2), (2, 2)]
    """
    raw = raw.reshape(3, *shape)
    return (
        _soft_bound(raw[0], offset_bound),
        _soft_bound(raw[1], offset_bound),
        _soft_bound(raw[2], log_scale_bound),
    )


class ConditionalMixtureGaussianCDF(AbstractBijection):
    r"""Mixture-CDF Gaussianization of every dimension with parameters that depend on ``y``.

    Each dimension :math:`i` is mapped by :math:`z_i = \Phi^{-1}(F_i(x_i \mid y))`, with
    :math:`F_i(\cdot \mid y)` a ``K``-component Gaussian-mixture CDF whose parameters are

    .. math::
        \theta_i(y) = \theta^0_i + b \tanh(\mathrm{MLP}(y)_i / b),

    a trainable base :math:`\theta^0` (``logits``, ``means``, ``log_scales``, shape
    ``(d, K)``) plus a bounded offset computed from the condition by a network without a
    final bias. It is the conditional counterpart of
    :class:`~gauss_flows.bijections.MixtureGaussianCDF` and uses the same numerics
    (log-space forward, safeguarded Newton inverse with implicit gradients). With the
    network's output weights at zero (``output_scale=0``, the default) the layer equals
    the unconditional marginal map of its base for every condition, exactly; gradients
    still reach the output weights, so training learns the dependence on ``y``.

    Args:
        key: JAX random key (the network's hidden layers).
        shape: Event shape ``(d,)``.
        cond_dim: Size of the condition.
        n_components: Mixture components per dimension.
        nn_width: Hidden width of the network.
        nn_depth: Number of hidden layers.
        nn_activation: Hidden activation.
        output_scale: Factor on the network's initial output weights (0: no dependence
            on the condition at initialisation).
        offset_bound: Bound of the offsets to logits and means.
        log_scale_bound: Bound of the offsets to log scales.
        marginal: The base mixture (default: the identity-like spread of
            :class:`MixtureGaussianCDF`'s default); its sizes override ``shape`` and
            ``n_components``.

    Example:
        >>> import jax.numpy as jnp, jax.random as jr
        >>> from gauss_flows.bijections import ConditionalMixtureGaussianCDF, MixtureGaussianCDF
        >>> base = MixtureGaussianCDF.random(jr.key(0), n_dims=2, n_components=3)
        >>> layer = ConditionalMixtureGaussianCDF(jr.key(1), shape=(2,), cond_dim=1, marginal=base)
        >>> x = jnp.array([0.3, -1.0])
        >>> bool(jnp.all(layer.transform(x, jnp.ones(1)) == base.transform(x)))
        True

    References:
        Winkler, C. et al. (2019). Learning likelihoods with conditional normalizing
        flows. arXiv:1912.00042.
    """

    conditioner: eqx.nn.MLP
    logits: Array
    means: Array
    log_scales: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] = eqx.field(static=True)
    offset_bound: float = eqx.field(static=True)
    log_scale_bound: float = eqx.field(static=True)
    max_inverse_steps: int = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        shape: tuple[int, ...],
        cond_dim: int,
        n_components: int = 8,
        nn_width: int = 32,
        nn_depth: int = 1,
        nn_activation: Callable[[Array], Array] = jax.nn.silu,
        output_scale: float = 0.0,
        offset_bound: float = 3.0,
        log_scale_bound: float = 3.0,
        marginal: MixtureGaussianCDF | None = None,
    ):
        if marginal is None:
            marginal = MixtureGaussianCDF(n_components, tuple(shape))
        if not isinstance(marginal, MixtureGaussianCDF):
            raise TypeError(f"marginal must be a MixtureGaussianCDF; got {type(marginal).__name__}")
        if tuple(shape) != marginal.shape:
            raise ValueError(f"shape {tuple(shape)} differs from the marginal's shape {marginal.shape}")
        for name, value in (("offset_bound", offset_bound), ("log_scale_bound", log_scale_bound)):
            if not float(value) > 0:
                raise ValueError(f"{name} must be positive; got {value!r}")
        cond_dim = check_int("cond_dim", cond_dim)
        d, k = marginal.logits.shape
        self.conditioner = conditioner_mlp(
            key, in_size=cond_dim, out_size=3 * d * k, width=nn_width, depth=nn_depth,
            activation=nn_activation, output_scale=output_scale,
        )
        self.logits, self.means, self.log_scales = marginal.logits, marginal.means, marginal.log_scales
        self.shape, self.cond_shape = marginal.shape, (cond_dim,)
        self.offset_bound, self.log_scale_bound = float(offset_bound), float(log_scale_bound)
        self.max_inverse_steps = marginal.max_inverse_steps

    @property
    def n_components(self) -> int:
        """Number of mixture components per dimension."""
        return self.logits.shape[-1]

    def mixture_params(self, condition: Array) -> tuple[Array, Array, Array]:
        """The mixture parameters ``(logits, means, log_scales)`` for one condition."""
        if condition is None:
            raise ValueError(
                f"ConditionalMixtureGaussianCDF needs a condition of shape {self.cond_shape}"
            )
        raw = self.conditioner(jnp.asarray(condition, self.logits.dtype))
        offsets = conditional_offsets(
            raw, self.logits.shape, self.offset_bound, self.log_scale_bound
        )
        base = (self.logits, self.means, self.log_scales)
        return tuple(b + o for b, o in zip(base, offsets))

    def marginal_at(self, condition: Array) -> MixtureGaussianCDF:
        """The unconditional marginal map this layer applies given ``condition``."""
        logits, means, log_scales = self.mixture_params(condition)
        return MixtureGaussianCDF(
            logits=logits, means=means, log_scales=log_scales,
            max_inverse_steps=self.max_inverse_steps,
        )

    def transform_and_log_det(self, x, condition=None):
        z, log_dz_dx = mixture_gaussianize(x, *self.mixture_params(condition))
        return z, log_dz_dx.sum()

    def inverse_and_log_det(self, y, condition=None):
        x, log_dx_dz = mixture_degaussianize(
            y, *self.mixture_params(condition), max_steps=self.max_inverse_steps
        )
        return x, log_dx_dz.sum()
