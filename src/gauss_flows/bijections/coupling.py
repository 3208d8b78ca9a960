"""Mixture-CDF coupling: one part of the dimensions sets the marginal maps of the other."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._arrays import as_float_array, broadcast_float_arrays
from gauss_flows._validation import check_int
from gauss_flows.bijections._deprecated import AliasMeta, resolve
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
    # Plain ints: the sizes become static fields of the MLP.
    width, depth = check_int("nn_width", width), check_int("nn_depth", depth, least=0)
    mlp = eqx.nn.MLP(
        int(in_size), int(out_size), width, depth, activation=activation,
        use_final_bias=False, key=key,
    )
    return eqx.tree_at(lambda m: m.layers[-1].weight, mlp, mlp.layers[-1].weight * output_scale)


class MixtureGaussianCDFCoupling(AbstractBijection):
    r"""Coupling layer whose transformer is the mixture-CDF Gaussianization.

    The ``d`` dimensions are split at ``split`` (default ``d // 2``). With
    ``cond_first=True`` the leading ``split`` dimensions :math:`x_c` pass through unchanged
    and condition the others :math:`x_t`; with ``cond_first=False`` the roles swap. Every
    transformed dimension :math:`i` is mapped by :math:`z_i = \Phi^{-1}(F_i(x_i \mid x_c))`,
    the same map (and numerics, from ``mixture_cdf``) as
    :class:`~gauss_flows.bijections.MixtureGaussianCDF`, with ``K`` mixture parameters

    .. math::
        \theta_i(x_c) = \theta^0_i + b \tanh(\mathrm{MLP}(s(x_c))_i / b),

    an unbounded trainable base :math:`\theta^0` (the arrays ``logits``, ``means``,
    ``log_scales``) plus a bounded, conditioner-dependent offset (bound ``offset_bound``
    for logits and means, ``log_scale_bound`` for log scales), so training cannot push
    scales to 0 or infinity through the network. Each transformed dimension takes ``3K``
    conditioner outputs (logit, mean and log-scale offsets). The conditioner's input is
    soft-clipped, :math:`s(x) = c \tanh(x / c)` with ``c = input_bound``, which keeps it
    finite far outside the data; a conditional layer (``cond_dim`` set) appends the
    condition, unclipped, to that input. An unconditional layer ignores any condition.

    The base lives in the layer, not in the conditioner: the MLP has no final bias. So
    with a zero final weight the layer is exactly the diagonal mixture-CDF map given by the
    base on the transformed dimensions (the zero-kernel contract), which is how a greedy
    fit is written in this layer (:meth:`from_mixture`). The inverse is the safeguarded
    Newton solve of ``mixture_cdf`` with implicit-function gradients.

    Built from a key, the base is random (as in :meth:`random`) and the conditioner's
    output weights have equinox's default initialisation, so a fresh layer couples. The
    other constructors: :meth:`from_parameters` (a conditioner and base arrays),
    :meth:`from_mixture` (base arrays and a fresh conditioner, zero output weights by
    default) and :meth:`random` (the cold start of the package's coupling flows).

    Args:
        key: JAX random key (base mixtures and conditioner).
        shape: Event shape ``(d,)``, ``d >= 2``.
        n_components: Mixture components per transformed dimension, ``K``.
        nn_width: Hidden width of the conditioner MLP.
        nn_depth: Number of hidden layers of the conditioner MLP.
        log_scale_bound: Bound of the conditioner's offset to log scales.
        cond_dim: Size of the condition appended to the conditioner's input; ``None``
            for an unconditional layer.
        nn_activation: Hidden activation of the conditioner.
        output_scale: Factor on the conditioner's initial output weights.
        split: Index splitting the dimensions (defaults to ``d // 2``).
        cond_first: Whether the dimensions before ``split`` condition those after.
        input_bound: Soft clip of the conditioner's inputs.
        offset_bound: Bound of the conditioner's offset to logits and means.
        max_inverse_steps: Iteration cap of the inverse solver.
        mean_scale: Spread of the random base component means.
        log_scale_center: Centre of the random base component log scales.
        log_scale_spread: Spread of the random base component log scales.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import MixtureGaussianCDFCoupling
        >>> layer = MixtureGaussianCDFCoupling(
        ...     jr.key(0), shape=(2,), n_components=8, nn_width=32, nn_depth=2)
        >>> [lin.weight.shape for lin in layer._coupling.conditioner.layers]
        [(32, 1), (32, 32), (24, 32)]
        >>> x = jnp.array([0.1, -1.0])
        >>> z, log_det = layer.transform_and_log_det(x)
        >>> bool(z[0] == x[0]), bool(jnp.allclose(layer.inverse(z), x))
        (True, True)

    References:
        Dinh, Sohl-Dickstein and Bengio (2017), "Density estimation using Real NVP", ICLR.
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
    """

    conditioner: eqx.nn.MLP
    logits: Array
    means: Array
    log_scales: Array
    shape: tuple[int, ...]
    cond_shape: tuple[int, ...] | None = eqx.field(static=True)
    split: int = eqx.field(static=True)
    cond_first: bool = eqx.field(static=True)
    input_bound: float = eqx.field(static=True)
    offset_bound: float = eqx.field(static=True)
    log_scale_bound: float = eqx.field(static=True)
    max_inverse_steps: int = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        shape: tuple[int, ...],
        n_components: int = 8,
        nn_width: int = 64,
        nn_depth: int = 2,
        log_scale_bound: float = 5.0,
        cond_dim: int | None = None,
        nn_activation: Callable[[Array], Array] = jax.nn.silu,
        output_scale: float = 1.0,
        split: int | None = None,
        cond_first: bool = True,
        input_bound: float = 4.0,
        offset_bound: float = 3.0,
        max_inverse_steps: int = 100,
        mean_scale: float = 1.0,
        log_scale_center: float = -0.5,
        log_scale_spread: float = 0.5,
    ):
        n_dims = _event_dim(shape)
        split = _check_split(n_dims, split)
        cond_dim = _check_cond_dim(cond_dim)
        n_components = check_int("n_components", n_components)
        n_cond, n_trans = _part_sizes(n_dims, split, cond_first)
        k_base, k_nn = _random_keys(key)
        base = random_mixture_parameters(
            k_base,
            (n_trans, n_components),
            mean_scale=mean_scale,
            log_scale_center=log_scale_center,
            log_scale_spread=log_scale_spread,
        )
        conditioner = conditioner_mlp(
            k_nn,
            in_size=n_cond + (cond_dim or 0),
            out_size=3 * n_components * n_trans,
            width=nn_width,
            depth=nn_depth,
            activation=nn_activation,
            output_scale=output_scale,
        )
        logits, means, log_scales = _check_parts(conditioner, *base, n_cond, n_trans, cond_dim)
        _check_bounds(
            input_bound=input_bound, offset_bound=offset_bound, log_scale_bound=log_scale_bound
        )
        self.conditioner = conditioner
        self.logits, self.means, self.log_scales = logits, means, log_scales
        self.shape = (n_dims,)
        self.cond_shape = None if cond_dim is None else (cond_dim,)
        self.split = split
        self.cond_first = bool(cond_first)
        self.input_bound = float(input_bound)
        self.offset_bound = float(offset_bound)
        self.log_scale_bound = float(log_scale_bound)
        self.max_inverse_steps = check_int("max_inverse_steps", max_inverse_steps)

    @classmethod
    def from_parameters(
        cls,
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
        cond_dim: int | None = None,
    ) -> "MixtureGaussianCDFCoupling":
        """The layer with the given conditioner and base mixtures.

        Args:
            conditioner: MLP from ``n_cond (+ cond_dim)`` inputs to ``3 · K · n_trans``
                outputs.
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
            cond_dim: Size of the condition appended to the conditioner's input
                (``None``: unconditional).

        Raises:
            ValueError: If the sizes do not fit together or a bound is not positive.

        Example:
            >>> import jax.numpy as jnp
            >>> import jax.random as jr
            >>> from gauss_flows.bijections.coupling import conditioner_mlp
            >>> mlp = conditioner_mlp(jr.key(0), in_size=1, out_size=6, width=8, depth=1)
            >>> zeros = jnp.zeros((1, 2))
            >>> layer = MixtureGaussianCDFCoupling.from_parameters(
            ...     mlp, zeros, zeros, zeros, n_dims=2)
            >>> layer.n_components
            2
        """
        split = _check_split(n_dims, split)
        cond_dim = _check_cond_dim(cond_dim)
        n_cond, n_trans = _part_sizes(n_dims, split, cond_first)
        arrays = _check_parts(conditioner, logits, means, log_scales, n_cond, n_trans, cond_dim)
        _check_bounds(
            input_bound=input_bound, offset_bound=offset_bound, log_scale_bound=log_scale_bound
        )
        # equinox modules have one __init__ (the key-first one): trace it for the static
        # settings only, without computing anything, then put the given arrays in place.
        skeleton = eqx.filter_eval_shape(
            lambda: cls(
                jr.key(0),
                shape=(n_dims,),
                n_components=arrays[0].shape[1],
                nn_width=1,
                nn_depth=0,
                log_scale_bound=log_scale_bound,
                cond_dim=cond_dim,
                split=split,
                cond_first=cond_first,
                input_bound=input_bound,
                offset_bound=offset_bound,
                max_inverse_steps=max_inverse_steps,
            )
        )
        return eqx.tree_at(
            lambda layer: (layer.conditioner, layer.logits, layer.means, layer.log_scales),
            skeleton,
            (conditioner, *arrays),
        )

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
    ) -> "MixtureGaussianCDFCoupling":
        """A layer with the given base mixtures and a fresh conditioner.

        With ``output_scale=0`` (the default) the conditioner's output weights are zero,
        so the layer computes exactly the unconditional mixture-CDF map of the base on the
        transformed dimensions; its hidden layers are random from ``key``, so gradients
        reach the output weights. ``options`` go to :meth:`from_parameters` (``split``,
        ``cond_first``, ``cond_dim``, the bounds, ``max_inverse_steps``).

        Example:
            >>> import jax.numpy as jnp
            >>> import jax.random as jr
            >>> zeros = jnp.zeros((1, 4))
            >>> layer = MixtureGaussianCDFCoupling.from_mixture(
            ...     jr.key(0), zeros, zeros, zeros, n_dims=2)
            >>> x = jnp.array([0.3, -0.7])
            >>> bool(jnp.allclose(layer.transform(x), x))  # all-standard-normal base: identity
            True
        """
        logits = as_float_array(logits)
        split = _check_split(n_dims, options.get("split"))
        n_cond, n_trans = _part_sizes(n_dims, split, options.get("cond_first", True))
        conditioner = conditioner_mlp(
            key,
            in_size=n_cond + (_check_cond_dim(options.get("cond_dim")) or 0),
            out_size=3 * logits.shape[-1] * n_trans,
            width=nn_width,
            depth=nn_depth,
            activation=nn_activation,
            output_scale=output_scale,
        )
        return cls.from_parameters(conditioner, logits, means, log_scales, n_dims=n_dims, **options)

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
    ) -> "MixtureGaussianCDFCoupling":
        """A randomly initialised layer (the cold start of the coupling flows).

        The base mixtures are drawn as in :meth:`MixtureGaussianCDF.random`; the
        conditioner's output weights are equinox's default scaled by ``output_scale``.
        ``options`` go to :meth:`from_mixture` (``split``, ``cond_first``, ``nn_width``,
        ``nn_depth``, ``nn_activation``) and on to :meth:`from_parameters`.

        Example:
            >>> import jax.random as jr
            >>> layer = MixtureGaussianCDFCoupling.random(jr.key(0), n_dims=5, n_components=3)
            >>> layer.logits.shape  # 5 - 5 // 2 transformed dimensions
            (3, 3)
        """
        split = _check_split(n_dims, options.get("split"))
        _, n_trans = _part_sizes(n_dims, split, options.get("cond_first", True))
        k_base, k_nn = _random_keys(key)
        base = random_mixture_parameters(
            k_base,
            (n_trans, check_int("n_components", n_components)),
            mean_scale=mean_scale,
            log_scale_center=log_scale_center,
            log_scale_spread=log_scale_spread,
        )
        return cls.from_mixture(k_nn, *base, n_dims=n_dims, output_scale=output_scale, **options)

    @property
    def _coupling(self) -> "MixtureGaussianCDFCoupling":
        """The layer itself, for one attribute path across the coupling menu.

        Every coupling of the package exposes its conditioner MLP as
        ``layer._coupling.conditioner``: on the flowjax-based couplings
        (:class:`~gauss_flows.bijections.AffineCoupling` and its siblings) ``_coupling``
        is the wrapped ``flowjax.bijections.Coupling``; this layer is its own coupling, so
        ``layer._coupling.conditioner is layer.conditioner``.
        """
        return self

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

    def mixture_params(
        self, x_cond: Array, condition: Array | None = None
    ) -> tuple[Array, Array, Array]:
        """Mixture parameters ``(logits, means, log_scales)`` of the transformed dimensions.

        Args:
            x_cond: The conditioning part of one sample, shape ``(n_cond,)``.
            condition: The condition of a conditional layer, shape ``cond_shape``
                (ignored by an unconditional layer).

        Returns:
            Three arrays of shape ``(n_trans, K)``.
        """
        nn_input = _soft_bound(x_cond, self.input_bound)
        if self.cond_shape is not None:
            nn_input = jnp.concatenate([nn_input, jnp.asarray(condition, nn_input.dtype)])
        raw = self.conditioner(nn_input).reshape(3, *self.logits.shape)
        return (
            self.logits + _soft_bound(raw[0], self.offset_bound),
            self.means + _soft_bound(raw[1], self.offset_bound),
            self.log_scales + _soft_bound(raw[2], self.log_scale_bound),
        )

    def transform_and_log_det(self, x, condition=None):
        x_cond, x_trans = self._parts(x)
        z, log_dz_dx = mixture_gaussianize(x_trans, *self.mixture_params(x_cond, condition))
        return self._join(x_cond, z), log_dz_dx.sum()

    def inverse_and_log_det(self, y, condition=None):
        y_cond, y_trans = self._parts(y)
        x, log_dx_dz = mixture_degaussianize(
            y_trans, *self.mixture_params(y_cond, condition), max_steps=self.max_inverse_steps
        )
        return self._join(y_cond, x), log_dx_dz.sum()


class _MixtureCDFCoupling(metaclass=AliasMeta):
    """Deprecated: :class:`MixtureGaussianCDFCoupling` with its former positional constructor.

    ``MixtureCDFCoupling(conditioner, logits, means, log_scales, n_dims=..., ...)`` builds
    ``MixtureGaussianCDFCoupling.from_parameters(conditioner, logits, means, log_scales,
    n_dims=..., ...)``; ``.random`` and ``.from_mixture`` are the new class's.
    """

    def __new__(cls, conditioner, logits, means, log_scales, **options):
        return MixtureGaussianCDFCoupling.from_parameters(
            conditioner, logits, means, log_scales, **options
        )

    from_parameters = MixtureGaussianCDFCoupling.from_parameters
    from_mixture = MixtureGaussianCDFCoupling.from_mixture
    random = MixtureGaussianCDFCoupling.random


_MixtureCDFCoupling.__name__ = _MixtureCDFCoupling.__qualname__ = "MixtureCDFCoupling"

_MixtureCDFCoupling.target = MixtureGaussianCDFCoupling

_DEPRECATED = {
    "MixtureCDFCoupling": (
        _MixtureCDFCoupling,
        "MixtureGaussianCDFCoupling(key, shape=(d,), ...) or "
        "MixtureGaussianCDFCoupling.from_parameters(conditioner, logits, means, log_scales, "
        "n_dims=...)",
    )
}


def deprecated_name(name: str, stacklevel: int = 2) -> object:
    """The deprecated alias ``name`` of this module, with a ``DeprecationWarning``."""
    return resolve(__name__, _DEPRECATED, name, stacklevel + 1)


def __getattr__(name: str) -> object:
    return deprecated_name(name, stacklevel=2)


def _random_keys(key: PRNGKeyArray) -> tuple[tuple[Array, Array, Array], Array]:
    """``((k_logit, k_mean, k_scale), k_conditioner)`` of a layer's random initialisation."""
    k_logit, k_mean, k_scale, k_nn = jr.split(key, 4)
    return (k_logit, k_mean, k_scale), k_nn


def _event_dim(shape: tuple[int, ...]) -> int:
    shape = tuple(shape)
    if len(shape) != 1:
        raise ValueError(f"a coupling layer needs a 1-D event shape (d,); got {shape!r}")
    return check_int("shape[0]", shape[0])


def _check_cond_dim(cond_dim: int | None) -> int | None:
    if cond_dim is None:
        return None
    return check_int("cond_dim", cond_dim)


def _check_parts(
    conditioner: eqx.nn.MLP,
    logits: ArrayLike,
    means: ArrayLike,
    log_scales: ArrayLike,
    n_cond: int,
    n_trans: int,
    cond_dim: int | None,
) -> list[Array]:
    """The base arrays as float arrays, after checking they fit the conditioner."""
    logits, means, log_scales = broadcast_float_arrays(logits, means, log_scales)
    if logits.ndim != 2 or logits.shape[0] != n_trans:
        raise ValueError(
            f"mixture parameters must have shape ({n_trans}, n_components) for the "
            f"{n_trans} transformed dimensions; got {logits.shape}"
        )
    n_in = n_cond + (cond_dim or 0)
    n_out = 3 * logits.shape[1] * n_trans
    if conditioner.in_size != n_in or conditioner.out_size != n_out:
        raise ValueError(
            f"the conditioner must map {n_in} inputs to {n_out} outputs; got "
            f"{conditioner.in_size} → {conditioner.out_size}"
        )
    return [logits, means, log_scales]


def _check_bounds(**bounds: float) -> None:
    for name, value in bounds.items():
        if not value > 0:
            raise ValueError(f"{name} must be positive; got {value!r}")


def _check_split(n_dims: int, split: int | None) -> int:
    n_dims = check_int("n_dims", n_dims)
    if n_dims < 2:
        raise ValueError(f"a coupling layer needs n_dims >= 2; got {n_dims!r}")
    split = n_dims // 2 if split is None else check_int("split", split)
    if not 1 <= split <= n_dims - 1:
        raise ValueError(f"split must lie in [1, {n_dims - 1}]; got {split!r}")
    return split


def _part_sizes(n_dims: int, split: int, cond_first: bool) -> tuple[int, int]:
    """``(n_cond, n_trans)`` for a split."""
    return (split, n_dims - split) if cond_first else (n_dims - split, split)
