"""Per-dimension Gaussianization by a Gaussian-mixture CDF."""

from __future__ import annotations

import functools
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._arrays import broadcast_float_arrays
from gauss_flows._validation import as_data_matrix, check_int
from gauss_flows.bijections._deprecated import AliasMeta, resolve
from gauss_flows.bijections._elementwise import check_event_shape, spread_components
from gauss_flows.bijections.mixture_cdf import mixture_degaussianize, mixture_gaussianize

__all__ = ["MixtureGaussianCDF", "random_mixture_parameters"]

#: The default layout's means are the normal quantiles shrunk by this factor.
_DEFAULT_SPREAD = 0.5


def explicit_parameters(
    layer: str, logits: ArrayLike | None, means: ArrayLike | None, log_scales: ArrayLike | None
) -> list[Array] | None:
    """The three mixture arrays as float arrays of one shape ``(d, K)``, or ``None`` if absent.

    Raises:
        ValueError: If only some of the arrays are given, or they are not 2-D.
    """
    given = [a is not None for a in (logits, means, log_scales)]
    if not any(given):
        return None
    if not all(given):
        raise ValueError(
            f"{layer}: give all of logits=, means= and log_scales=, or none of them"
        )
    arrays = broadcast_float_arrays(logits, means, log_scales)
    if arrays[0].ndim != 2:
        raise ValueError(
            f"{layer}: mixture parameters must have shape (n_dims, n_components); "
            f"got {arrays[0].shape}"
        )
    return arrays


class MixtureGaussianCDF(AbstractBijection):
    r"""Gaussianize every dimension on its own through a Gaussian-mixture CDF.

    Dimension :math:`i` is mapped by :math:`z_i = \Phi^{-1}(F_i(x_i))` with
    :math:`F_i(x) = \sum_k w_{ik} \Phi((x - \mu_{ik}) / \sigma_{ik})`, weights
    :math:`w_i = \mathrm{softmax}(\text{logits}_i)` and
    :math:`\sigma_{ik} = \exp(\text{log\_scales}_{ik})`; every array is an unconstrained
    parameter. The forward map (data → Gaussian) and its log-determinant
    :math:`\sum_i \log f_i(x_i) - \log \phi(z_i)` are computed in log space, so they stay
    finite far outside the data. The inverse is a safeguarded Newton solve inside an exact
    bracket, whose gradients come from the implicit function theorem.

    Built from sizes, the layer has zero logits, means at the normal quantiles
    :math:`\tfrac12 \Phi^{-1}((k - \tfrac12)/K)` and a common scale chosen so that each
    mixture has variance one: a smooth map close to the identity (exactly the identity
    for ``K = 1``), whose components differ so that training can tell them apart.

    Args:
        n_components: Mixture components per dimension, ``K``.
        shape: Event shape ``(d,)``.
        logits: Unnormalised log mixture weights, shape ``(d, K)``.
        means: Component means, shape ``(d, K)``.
        log_scales: Log component standard deviations, shape ``(d, K)``.
        max_inverse_steps: Iteration cap of the inverse's solver.

    When the three arrays are given (all of them, as keywords) they define the layer and
    ``n_components``/``shape``, if set, must agree with them.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import MixtureGaussianCDF
        >>> layer = MixtureGaussianCDF(n_components=4, shape=(3,))
        >>> z, log_det = layer.transform_and_log_det(jnp.array([0.1, -1.0, 2.0]))
        >>> bool(jnp.allclose(layer.inverse(z), jnp.array([0.1, -1.0, 2.0])))
        True

    References:
        Meng, Song, Song and Ermon (2020), "Gaussianization flows", AISTATS.
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """

    logits: Array
    means: Array
    log_scales: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None
    max_inverse_steps: int = eqx.field(static=True, default=100)

    def __init__(
        self,
        n_components: int = 8,
        shape: tuple[int, ...] = (1,),
        *,
        logits: ArrayLike | None = None,
        means: ArrayLike | None = None,
        log_scales: ArrayLike | None = None,
        max_inverse_steps: int = 100,
    ):
        self.max_inverse_steps = check_int("max_inverse_steps", max_inverse_steps)
        arrays = explicit_parameters("MixtureGaussianCDF", logits, means, log_scales)
        if arrays is None:
            n_components = check_int("n_components", n_components)
            shape = check_event_shape(shape)
            logits0, means0, variance = spread_components(n_components, shape, _DEFAULT_SPREAD)
            arrays = broadcast_float_arrays(
                logits0, means0, jnp.full(means0.shape, 0.5 * math.log(variance))
            )
        else:
            d, k = arrays[0].shape
            sizes = (n_components, tuple(shape) if isinstance(shape, (tuple, list)) else shape)
            if sizes not in ((8, (1,)), (k, (d,))):
                raise ValueError(
                    f"MixtureGaussianCDF: n_components={n_components!r} and shape={shape!r} "
                    f"disagree with parameter arrays of shape {(d, k)}"
                )
        self.logits, self.means, self.log_scales = arrays
        self.shape = (self.logits.shape[0],)

    @classmethod
    def identity(cls, *, n_dims: int, n_components: int) -> MixtureGaussianCDF:
        """A layer whose every component is the standard normal: the identity map.

        Example:
            >>> import jax.numpy as jnp
            >>> from gauss_flows.bijections import MixtureGaussianCDF
            >>> layer = MixtureGaussianCDF.identity(n_dims=2, n_components=3)
            >>> bool(jnp.allclose(layer.transform(jnp.ones(2)), 1.0))
            True
        """
        zeros = jnp.zeros((check_int("n_dims", n_dims), check_int("n_components", n_components)))
        return cls(logits=zeros, means=zeros, log_scales=zeros)

    @classmethod
    def random(
        cls,
        key: PRNGKeyArray,
        *,
        n_dims: int,
        n_components: int,
        mean_scale: float = 1.0,
        log_scale_center: float = -0.5,
        log_scale_spread: float = 0.5,
    ) -> MixtureGaussianCDF:
        """A randomly initialised layer: means ~ N(0, mean_scale²), log scales ~ N(c, s²).

        Example:
            >>> import jax.random as jr
            >>> from gauss_flows.bijections import MixtureGaussianCDF
            >>> MixtureGaussianCDF.random(jr.key(0), n_dims=2, n_components=3).means.shape
            (2, 3)
        """
        logits, means, log_scales = random_mixture_parameters(
            jr.split(key, 3),
            (check_int("n_dims", n_dims), check_int("n_components", n_components)),
            mean_scale=mean_scale,
            log_scale_center=log_scale_center,
            log_scale_spread=log_scale_spread,
        )
        return cls(logits=logits, means=means, log_scales=log_scales)

    @classmethod
    def from_data(
        cls, x: ArrayLike, n_components: int = 8, *, n_em_steps: int = 30
    ) -> MixtureGaussianCDF:
        """A layer fitted to the columns of ``x``, one mixture per column.

        Each column's mixture starts with equal weights, means at the evenly spaced
        quantiles ``(k − ½)/K`` of the column and scales equal to the column's standard
        deviation over ``K``, and is refined by ``n_em_steps`` steps of EM (deterministic;
        every scale is kept above 1e-3 of the column's standard deviation and every weight
        above 1e-6). The fitted layer maps each column close to N(0, 1).

        Args:
            x: Data, shape ``(n_samples, d)``.
            n_components: Mixture components per dimension.
            n_em_steps: EM steps after the quantile start (0: the start itself).

        Raises:
            ValueError: If ``x`` is not a finite 2-D array with at least two rows and no
                constant column, or a size is not a positive integer.

        Example:
            >>> import jax
            >>> import jax.numpy as jnp
            >>> import jax.random as jr
            >>> from gauss_flows.bijections import MixtureGaussianCDF
            >>> x = jnp.concatenate(
            ...     [jr.normal(jr.key(0), (500, 1)) - 3, jr.normal(jr.key(1), (500, 1)) + 3])
            >>> z = jax.vmap(MixtureGaussianCDF.from_data(x, 2).transform)(x)
            >>> bool(abs(float(z.std()) - 1.0) < 0.1)
            True
        """
        x = as_data_matrix(x, name="x")
        n_components = check_int("n_components", n_components)
        n_em_steps = check_int("n_em_steps", n_em_steps, least=0)
        logits, means, log_scales = _fit_columns(x, n_components, n_em_steps)
        return cls(logits=logits, means=means, log_scales=log_scales)

    @property
    def n_components(self) -> int:
        """Number of mixture components per dimension."""
        return self.logits.shape[-1]

    def transform_and_log_det(self, x, condition=None):
        z, log_dz_dx = mixture_gaussianize(x, self.logits, self.means, self.log_scales)
        return z, log_dz_dx.sum()

    def inverse_and_log_det(self, y, condition=None):
        x, log_dx_dz = mixture_degaussianize(
            y, self.logits, self.means, self.log_scales, max_steps=self.max_inverse_steps
        )
        return x, log_dx_dz.sum()


@functools.partial(jax.jit, static_argnums=(1, 2))
def _fit_columns(x: Array, n_components: int, n_em_steps: int) -> tuple[Array, Array, Array]:
    """Quantile-started EM fit of a ``K``-component mixture to every column of ``x``."""
    n = x.shape[0]
    levels = (jnp.arange(n_components, dtype=x.dtype) + 0.5) / n_components
    means = jnp.quantile(x, levels, axis=0).T  # (d, K)
    std = jnp.std(x, axis=0)
    log_floor = jnp.log(1e-3 * std)[:, None]
    log_scales = jnp.broadcast_to(jnp.log(std / n_components)[:, None], means.shape)
    log_w = jnp.full(means.shape, -math.log(n_components), x.dtype)
    xt = x.T[:, :, None]  # (d, n, 1)

    def em_step(_, state):
        log_w, means, log_scales = state
        t = (xt - means[:, None, :]) * jnp.exp(-log_scales)[:, None, :]
        log_joint = log_w[:, None, :] - 0.5 * t * t - log_scales[:, None, :]
        resp = jax.nn.softmax(log_joint, axis=-1)  # (d, n, K)
        nk = resp.sum(axis=1) + 1e-12
        means = jnp.einsum("dnk,dn->dk", resp, x.T) / nk
        var = jnp.einsum("dnk,dnk->dk", resp, (xt - means[:, None, :]) ** 2) / nk
        log_scales = jnp.maximum(0.5 * jnp.log(jnp.maximum(var, 0.0) + 1e-300), log_floor)
        log_w = jnp.log(jnp.maximum(nk / n, 1e-6))
        return log_w, means, log_scales

    log_w, means, log_scales = jax.lax.fori_loop(0, n_em_steps, em_step, (log_w, means, log_scales))
    return log_w - jax.nn.logsumexp(log_w, axis=-1, keepdims=True), means, log_scales


def random_mixture_parameters(
    keys: PRNGKeyArray,
    size: tuple[int, int],
    *,
    mean_scale: float = 1.0,
    log_scale_center: float = -0.5,
    log_scale_spread: float = 0.5,
) -> tuple[Array, Array, Array]:
    """Random mixture parameters ``(logits, means, log_scales)`` of shape ``size``.

    Logits ~ N(0, 0.1²), means ~ N(0, mean_scale²) and log scales ~
    N(log_scale_center, log_scale_spread²), each drawn with its own key of ``keys``.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.bijections.marginal import random_mixture_parameters
        >>> [p.shape for p in random_mixture_parameters(jr.split(jr.key(0), 3), (2, 4))]
        [(2, 4), (2, 4), (2, 4)]
    """
    k_logit, k_mean, k_scale = keys
    return (
        0.1 * jr.normal(k_logit, size),
        mean_scale * jr.normal(k_mean, size),
        log_scale_center + log_scale_spread * jr.normal(k_scale, size),
    )


class _MixtureCDFGaussianization(metaclass=AliasMeta):
    """Deprecated: :class:`MixtureGaussianCDF` with its former positional constructor.

    ``MixtureCDFGaussianization(logits, means, log_scales)`` builds
    ``MixtureGaussianCDF(logits=logits, means=means, log_scales=log_scales)``.
    """

    def __new__(cls, logits, means, log_scales, *, max_inverse_steps: int = 100):
        return MixtureGaussianCDF(
            logits=logits, means=means, log_scales=log_scales, max_inverse_steps=max_inverse_steps
        )

    identity = MixtureGaussianCDF.identity
    random = MixtureGaussianCDF.random


_MixtureCDFGaussianization.target = MixtureGaussianCDF

_DEPRECATED = {
    "MixtureCDFGaussianization": (
        _MixtureCDFGaussianization,
        "MixtureGaussianCDF(logits=..., means=..., log_scales=...)",
    )
}


def deprecated_name(name: str, stacklevel: int = 2) -> object:
    """The deprecated alias ``name`` of this module, with a ``DeprecationWarning``."""
    return resolve(__name__, _DEPRECATED, name, stacklevel + 1)


def __getattr__(name: str) -> object:
    return deprecated_name(name, stacklevel=2)
