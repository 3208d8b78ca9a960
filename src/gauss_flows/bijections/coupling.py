"""Mixture-CDF coupling: one part of the dimensions sets the marginal maps of the other."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._arrays import as_float_array, broadcast_float_arrays
from gauss_flows.bijections.mixture_cdf import mixture_degaussianize, mixture_gaussianize
from gauss_flows.bijections.marginal import random_mixture_parameters


#: Conditioner activations a model file can name.
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "silu": jax.nn.silu,
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "elu": jax.nn.elu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "softplus": jax.nn.softplus,
    "leaky_relu": jax.nn.leaky_relu,
}


def activation_name(activation: Callable[[Array], Array]) -> str:
    """The name under which :data:`ACTIVATIONS` holds ``activation``.

    Raises:
        ValueError: If ``activation`` is not one of :data:`ACTIVATIONS`.

    Example:
        >>> import jax
        >>> from gauss_flows.bijections.coupling import activation_name
        >>> activation_name(jax.nn.silu)
        'silu'
    """
    for name, known in ACTIVATIONS.items():
        if activation is known:
            return name
    raise ValueError(
        f"the conditioner activation {activation!r} is not one of "
        f"{', '.join(ACTIVATIONS)}, so a model file cannot name it"
    )


def _soft_bound(raw: Array, bound: float) -> Array:
    """``bound · tanh(raw / bound)``: the identity near 0, never beyond ``±bound``."""
    return bound * jnp.tanh(raw / bound)


def conditioner_mlp(
    key: PRNGKeyArray,
    *,
    in_size: int,
    out_size: int,
    width: int,
    depth: int,
    activation: Callable[[Array], Array] = jax.nn.silu,
    output_scale: float = 0.0,
) -> eqx.nn.MLP:
    """The conditioner network: an ``equinox.nn.MLP`` without a final bias.

    The hidden layers get equinox's default random initialisation. The output layer's
    weights are equinox's default scaled by ``output_scale``; with ``output_scale=0`` the
    network outputs exactly zero for every input, while gradients still reach the output
    weights through the random hidden features.

    Args:
        key: JAX random key.
        in_size: Number of conditioning inputs.
        out_size: Number of outputs.
        width: Hidden width.
        depth: Number of hidden layers.
        activation: Hidden activation.
        output_scale: Factor on the output layer's initial weights.

    Returns:
        The MLP.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections.coupling import conditioner_mlp
        >>> mlp = conditioner_mlp(jr.key(0), in_size=1, out_size=6, width=8, depth=1)
        >>> bool(jnp.all(mlp(jnp.ones(1)) == 0))
        True
    """
    mlp = eqx.nn.MLP(
        in_size, out_size, width, depth, activation=activation, use_final_bias=False, key=key
    )
    return eqx.tree_at(lambda m: m.layers[-1].weight, mlp, mlp.layers[-1].weight * output_scale)


class MixtureCDFCoupling(AbstractBijection):
    r"""Coupling layer whose transformer is the mixture-CDF Gaussianization.

    The ``d`` dimensions are split at ``split`` (default ``d // 2``). With
    ``cond_first=True`` the leading ``split`` dimensions :math:`x_c` pass through unchanged
    and condition the others :math:`x_t`; with ``cond_first=False`` the roles swap. Every
    transformed dimension :math:`i` is mapped by :math:`z_i = \Phi^{-1}(F_i(x_i \mid x_c))`,
    the same map (and numerics, from ``mixture_cdf``) as :class:`MixtureCDFGaussianization`,
    with ``K`` mixture parameters

    .. math::
        \theta_i(x_c) = \theta^0_i + b \tanh(\mathrm{MLP}(s(x_c))_i / b),

    an unbounded trainable base :math:`\theta^0` plus a bounded, conditioner-dependent
    offset (bound ``offset_bound`` for logits and means, ``log_scale_bound`` for log
    scales), so training cannot push scales to 0 or infinity through the network. The
    conditioner's input is soft-clipped, :math:`s(x) = c \tanh(x / c)` with
    ``c = input_bound``, which keeps it finite far outside the data. The MLP has no final
    bias, so with zero output weights the layer is exactly the unconditional marginal map
    given by the base: that is how a greedy fit is written in this layer
    (:meth:`from_mixture`).

    Args:
        conditioner: MLP from ``n_cond`` inputs to ``3 · K · n_trans`` outputs.
        logits: Base unnormalised log weights, shape ``(n_trans, K)``.
        means: Base component means, shape ``(n_trans, K)``.
        log_scales: Base log standard deviations, shape ``(n_trans, K)``.
        n_dims: Total dimension ``d ≥ 2``.
        split: Index splitting the dimensions (defaults to ``d // 2``).
        cond_first: Whether the dimensions before ``split`` condition those after.
        input_bound: Soft clip of the conditioner's inputs.
        offset_bound: Bound of the conditioner's offset to logits and means.
        log_scale_bound: Bound of the conditioner's offset to log scales.
        max_inverse_steps: Iteration cap of the inverse solver.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import MixtureCDFCoupling
        >>> layer = MixtureCDFCoupling.random(jr.key(0), n_dims=3, n_components=4)
        >>> z, log_det = layer.transform_and_log_det(jnp.array([0.1, -1.0, 2.0]))

    References:
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
    """

    conditioner: eqx.nn.MLP
    logits: Array
    means: Array
    log_scales: Array
    shape: tuple[int, ...]
    cond_shape: ClassVar[None] = None
    split: int = eqx.field(static=True)
    cond_first: bool = eqx.field(static=True)
    input_bound: float = eqx.field(static=True)
    offset_bound: float = eqx.field(static=True)
    log_scale_bound: float = eqx.field(static=True)
    max_inverse_steps: int = eqx.field(static=True)

    def __init__(
        self,
        conditioner: eqx.nn.MLP,
        logits: ArrayLike,
        means: ArrayLike,
        log_scales: ArrayLike,
        *,
        n_dims: int,
        split: int | None = None,
        cond_first: bool = True,
        input_bound: float = 4.0,
        offset_bound: float = 3.0,
        log_scale_bound: float = 2.0,
        max_inverse_steps: int = 100,
    ):
        split = _check_split(n_dims, split)
        n_cond, n_trans = _part_sizes(n_dims, split, cond_first)
        logits, means, log_scales = broadcast_float_arrays(logits, means, log_scales)
        if logits.ndim != 2 or logits.shape[0] != n_trans:
            raise ValueError(
                f"mixture parameters must have shape ({n_trans}, n_components) for the "
                f"{n_trans} transformed dimensions; got {logits.shape}"
            )
        n_out = 3 * logits.shape[1] * n_trans
        if conditioner.in_size != n_cond or conditioner.out_size != n_out:
            raise ValueError(
                f"the conditioner must map {n_cond} inputs to {n_out} outputs; got "
                f"{conditioner.in_size} → {conditioner.out_size}"
            )
        for name, value in (
            ("input_bound", input_bound),
            ("offset_bound", offset_bound),
            ("log_scale_bound", log_scale_bound),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive; got {value!r}")
        self.conditioner = conditioner
        self.logits, self.means, self.log_scales = logits, means, log_scales
        self.shape = (n_dims,)
        self.split = split
        self.cond_first = bool(cond_first)
        self.input_bound = float(input_bound)
        self.offset_bound = float(offset_bound)
        self.log_scale_bound = float(log_scale_bound)
        self.max_inverse_steps = max_inverse_steps

    @classmethod
    def from_mixture(
        cls,
        key: PRNGKeyArray,
        logits: ArrayLike,
        means: ArrayLike,
        log_scales: ArrayLike,
        *,
        n_dims: int,
        nn_width: int = 32,
        nn_depth: int = 1,
        nn_activation: Callable[[Array], Array] = jax.nn.silu,
        output_scale: float = 0.0,
        **options,
    ) -> "MixtureCDFCoupling":
        """A layer with the given base mixtures and a fresh conditioner.

        With ``output_scale=0`` (the default) the conditioner's output weights are zero,
        so the layer computes exactly the unconditional mixture-CDF map of the base on the
        transformed dimensions; its hidden layers are random from ``key``, so gradients
        reach the output weights. ``options`` go to the constructor (``split``,
        ``cond_first``, the bounds, ``max_inverse_steps``).

        Example:
            >>> import jax.numpy as jnp
            >>> import jax.random as jr
            >>> zeros = jnp.zeros((1, 4))
            >>> layer = MixtureCDFCoupling.from_mixture(jr.key(0), zeros, zeros, zeros, n_dims=2)
            >>> x = jnp.array([0.3, -0.7])
            >>> bool(jnp.allclose(layer.transform(x), x))  # all-standard-normal base: identity
            True
        """
        logits = as_float_array(logits)
        split = _check_split(n_dims, options.get("split"))
        n_cond, n_trans = _part_sizes(n_dims, split, options.get("cond_first", True))
        conditioner = conditioner_mlp(
            key,
            in_size=n_cond,
            out_size=3 * logits.shape[-1] * n_trans,
            width=nn_width,
            depth=nn_depth,
            activation=nn_activation,
            output_scale=output_scale,
        )
        return cls(conditioner, logits, means, log_scales, n_dims=n_dims, **options)

    @classmethod
    def random(
        cls,
        key: PRNGKeyArray,
        *,
        n_components: int,
        n_dims: int,
        output_scale: float = 0.1,
        mean_scale: float = 1.0,
        log_scale_center: float = -0.5,
        log_scale_spread: float = 0.5,
        **options,
    ) -> "MixtureCDFCoupling":
        """A randomly initialised layer (the cold start).

        The base mixtures are drawn as in :meth:`MixtureCDFGaussianization.random`; the
        conditioner's output weights are equinox's default scaled by ``output_scale``.
        ``options`` go to :meth:`from_mixture` (``split``, ``cond_first``, ``nn_width``,
        ``nn_depth``, ``nn_activation``) and on to the constructor.

        Example:
            >>> import jax.random as jr
            >>> layer = MixtureCDFCoupling.random(jr.key(0), n_dims=5, n_components=3)
            >>> layer.logits.shape  # 5 - 5 // 2 transformed dimensions
            (3, 3)
        """
        split = _check_split(n_dims, options.get("split"))
        _, n_trans = _part_sizes(n_dims, split, options.get("cond_first", True))
        k_logit, k_mean, k_scale, k_nn = jr.split(key, 4)
        base = random_mixture_parameters(
            (k_logit, k_mean, k_scale),
            (n_trans, n_components),
            mean_scale=mean_scale,
            log_scale_center=log_scale_center,
            log_scale_spread=log_scale_spread,
        )
        return cls.from_mixture(k_nn, *base, n_dims=n_dims, output_scale=output_scale, **options)

    @property
    def n_components(self) -> int:
        """Number of mixture components per transformed dimension."""
        return self.logits.shape[-1]

    def _parts(self, x: Array) -> tuple[Array, Array]:
        """``(conditioning, transformed)`` parts of one sample."""
        head, tail = x[: self.split], x[self.split :]
        return (head, tail) if self.cond_first else (tail, head)

    def _join(self, x_cond: Array, x_trans: Array) -> Array:
        parts = (x_cond, x_trans) if self.cond_first else (x_trans, x_cond)
        return jnp.concatenate(parts)

    def mixture_params(self, x_cond: Array) -> tuple[Array, Array, Array]:
        """Mixture parameters ``(logits, means, log_scales)`` of the transformed dimensions.

        Args:
            x_cond: The conditioning part of one sample, shape ``(n_cond,)``.

        Returns:
            Three arrays of shape ``(n_trans, K)``.
        """
        nn_input = _soft_bound(x_cond, self.input_bound)
        raw = self.conditioner(nn_input).reshape(3, *self.logits.shape)
        return (
            self.logits + _soft_bound(raw[0], self.offset_bound),
            self.means + _soft_bound(raw[1], self.offset_bound),
            self.log_scales + _soft_bound(raw[2], self.log_scale_bound),
        )

    def transform_and_log_det(self, x, condition=None):
        x_cond, x_trans = self._parts(x)
        z, log_dz_dx = mixture_gaussianize(x_trans, *self.mixture_params(x_cond))
        return self._join(x_cond, z), log_dz_dx.sum()

    def inverse_and_log_det(self, y, condition=None):
        y_cond, y_trans = self._parts(y)
        x, log_dx_dz = mixture_degaussianize(
            y_trans, *self.mixture_params(y_cond), max_steps=self.max_inverse_steps
        )
        return self._join(y_cond, x), log_dx_dz.sum()


def _check_split(n_dims: int, split: int | None) -> int:
    if isinstance(n_dims, bool) or not isinstance(n_dims, int) or n_dims < 2:
        raise ValueError(f"a coupling layer needs n_dims >= 2; got {n_dims!r}")
    split = n_dims // 2 if split is None else split
    if not 1 <= split <= n_dims - 1:
        raise ValueError(f"split must lie in [1, {n_dims - 1}]; got {split!r}")
    return split


def _part_sizes(n_dims: int, split: int, cond_first: bool) -> tuple[int, int]:
    """``(n_cond, n_trans)`` for a split."""
    return (split, n_dims - split) if cond_first else (n_dims - split, split)
