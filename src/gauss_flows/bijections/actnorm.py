"""Activation normalisation: a trainable per-channel shift and positive scale."""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from flowjax.bijections.bijection import AbstractBijection
from jaxtyping import Array, ArrayLike

from gauss_flows._arrays import as_float_array
from gauss_flows._validation import as_data_matrix, check_int
from gauss_flows.bijections._elementwise import check_event_shape

__all__ = ["AbstractActNorm", "ActNorm", "ActNorm1D", "actnorm_scale", "inverse_actnorm_scale"]

#: The floor added to the softplus, so the scale never reaches zero.
MIN_SCALE = 1e-5


def actnorm_scale(log_scale: Array) -> Array:
    """The positive scale ``softplus(log_scale) + 1e-5`` of an ActNorm layer.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections.actnorm import actnorm_scale
        >>> round(float(actnorm_scale(jnp.zeros(()))), 6)
        0.693157
    """
    return jax.nn.softplus(log_scale) + MIN_SCALE


def inverse_actnorm_scale(scale: np.ndarray) -> np.ndarray:
    """The ``log_scale`` whose :func:`actnorm_scale` is ``scale`` (host, float64).

    Scales at or below the floor ``1e-5`` map to the ``log_scale`` of ``1e-5 + 1e-12``.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.bijections.actnorm import inverse_actnorm_scale
        >>> inverse_actnorm_scale(np.array([1.0 + 1e-5])).round(6).tolist()
        [0.541325]
    """
    excess = np.maximum(np.asarray(scale, np.float64) - MIN_SCALE, 1e-12)
    return excess + np.log(-np.expm1(-excess))  # softplus⁻¹, stable for small and large


class AbstractActNorm(AbstractBijection):
    r"""Shared map of the ActNorm layers: :math:`y = (x - \text{loc}) / s`, :math:`s = \mathrm{softplus}(\text{log\_scale}) + 10^{-5}`.

    ``loc`` and ``log_scale`` hold one value per channel (the last axis of the event) and
    broadcast over the other axes; the log-determinant is :math:`-\sum \log s` times the
    number of positions (the product of the other axes, one for a 1-D event).
    """

    loc: eqx.AbstractVar[Array]
    log_scale: eqx.AbstractVar[Array]
    shape: eqx.AbstractVar[tuple[int, ...]]

    @classmethod
    @abc.abstractmethod
    def from_data(cls, X: ArrayLike) -> AbstractActNorm:
        """The layer whose output on ``X`` has mean 0 and standard deviation 1 per channel."""

    @property
    def scale(self) -> Array:
        """The positive per-channel scale ``s``."""
        return actnorm_scale(self.log_scale)

    def _positions(self) -> int:
        return math.prod(self.shape[:-1])

    def transform_and_log_det(self, x, condition=None):
        s = actnorm_scale(self.log_scale)
        log_det = -jnp.sum(jnp.log(s))
        if self._positions() != 1:
            log_det = log_det * self._positions()
        return (x - self.loc) / s, log_det

    def inverse_and_log_det(self, y, condition=None):
        s = actnorm_scale(self.log_scale)
        log_det = jnp.sum(jnp.log(s))
        if self._positions() != 1:
            log_det = log_det * self._positions()
        return y * s + self.loc, log_det


def _parameters(
    layer: str, n_channels: int, loc: ArrayLike | None, log_scale: ArrayLike | None
) -> tuple[Array, Array]:
    arrays = []
    for name, value in (("loc", loc), ("log_scale", log_scale)):
        value = as_float_array(np.zeros(n_channels) if value is None else value)
        if value.shape != (n_channels,):
            raise ValueError(f"{layer}: {name} must have shape ({n_channels},); got {value.shape}")
        arrays.append(value)
    return arrays[0], arrays[1]


def _standardising_parameters(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``loc`` and ``log_scale`` making each channel (last axis) mean 0 and std 1."""
    channels = data.reshape(-1, data.shape[-1])
    loc = channels.mean(axis=0)
    std = np.sqrt(np.mean((channels - loc) ** 2, axis=0))
    return loc, inverse_actnorm_scale(std)


class ActNorm(AbstractActNorm):
    r"""Per-channel affine normalisation :math:`y = (x - \text{loc}) / s` (Glow's ActNorm).

    :math:`s = \mathrm{softplus}(\text{log\_scale}) + 10^{-5}`, so both arrays are
    unconstrained trainable parameters and the scale stays positive. ``loc`` and
    ``log_scale`` have one entry per channel, the last axis of ``shape``; for an event
    with more axes (``(H, W, C)``) they broadcast over the others and the
    log-determinant, :math:`-\sum \log s`, is multiplied by the number of positions.
    The default ``loc = 0``, ``log_scale = 0`` gives :math:`s = \log 2 + 10^{-5}`;
    :meth:`from_data` sets both so that the output has mean 0 and standard deviation 1.

    Args:
        shape: Event shape; its last axis is the channel axis ``C``.
        loc: Optional per-channel shift, shape ``(C,)``; zeros by default.
        log_scale: Optional per-channel raw scale, shape ``(C,)``; zeros by default.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import ActNorm
        >>> layer = ActNorm(shape=(4,))
        >>> y, log_det = layer.transform_and_log_det(jnp.ones(4))
        >>> bool(jnp.allclose(y, 1 / (jnp.log(2.0) + 1e-5)))
        True

    References:
        Kingma and Dhariwal (2018), "Glow: generative flow with invertible 1x1
        convolutions", NeurIPS.
    """

    loc: Array
    log_scale: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(
        self,
        shape: tuple[int, ...],
        *,
        loc: ArrayLike | None = None,
        log_scale: ArrayLike | None = None,
    ):
        if not isinstance(shape, (tuple, list)) or len(shape) == 0:
            raise ValueError(f"ActNorm: shape must be a non-empty tuple; got {shape!r}")
        shape = tuple(check_int(f"shape[{i}]", n) for i, n in enumerate(shape))
        self.loc, self.log_scale = _parameters("ActNorm", shape[-1], loc, log_scale)
        self.shape = shape

    @classmethod
    def from_data(cls, X: ArrayLike) -> ActNorm:
        """The layer whose output on ``X`` has mean 0 and (population) std 1 per channel.

        Args:
            X: Data of shape ``(n_samples, *shape)``; statistics are taken over every axis
                but the last (the channels).

        Example:
            >>> import jax
            >>> import numpy as np
            >>> from gauss_flows.bijections import ActNorm
            >>> X = np.random.default_rng(0).normal(3.0, 2.0, size=(100, 2))
            >>> Y = np.asarray(jax.vmap(ActNorm.from_data(X).transform)(X))
            >>> bool(np.allclose(Y.mean(0), 0.0, atol=1e-5)), bool(np.allclose(Y.std(0), 1.0))
            (True, True)
        """
        if np.ndim(X) == 2:
            data = as_data_matrix(X, check_constant=False)
            host = np.asarray(data, dtype=np.float64)
        else:
            data = jnp.asarray(X)
            if data.ndim < 2 or not jnp.issubdtype(data.dtype, jnp.number):
                raise ValueError(
                    f"ActNorm.from_data needs numeric data of shape (n_samples, *shape); got {data.shape}"
                )
            host = np.asarray(data, dtype=np.float64)
            if not np.all(np.isfinite(host)):
                raise ValueError("ActNorm.from_data: X contains NaN or inf values")
        loc, log_scale = _standardising_parameters(host)
        dtype = data.dtype if jnp.issubdtype(data.dtype, jnp.floating) else float
        return cls(tuple(host.shape[1:]), loc=loc.astype(dtype), log_scale=log_scale.astype(dtype))


class ActNorm1D(AbstractActNorm):
    r"""ActNorm for a 1-D event ``(d,)``: :math:`y = (x - \text{loc}) / s`, one entry per dimension.

    The same map as :class:`ActNorm` with ``shape=(d,)``:
    :math:`s = \mathrm{softplus}(\text{log\_scale}) + 10^{-5}` and log-determinant
    :math:`-\sum \log s`.

    Args:
        shape: Event shape ``(d,)``.
        loc: Optional shift, shape ``(d,)``; zeros by default.
        log_scale: Optional raw scale, shape ``(d,)``; zeros by default.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import ActNorm1D
        >>> layer = ActNorm1D(shape=(2,), loc=jnp.array([1.0, -1.0]))
        >>> bool(jnp.allclose(layer.inverse(layer.transform(jnp.array([0.3, 2.0]))),
        ...                   jnp.array([0.3, 2.0])))
        True

    References:
        Kingma and Dhariwal (2018), "Glow: generative flow with invertible 1x1
        convolutions", NeurIPS.
    """

    loc: Array
    log_scale: Array
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(
        self,
        shape: tuple[int, ...],
        *,
        loc: ArrayLike | None = None,
        log_scale: ArrayLike | None = None,
    ):
        (d,) = check_event_shape(shape)
        self.loc, self.log_scale = _parameters("ActNorm1D", d, loc, log_scale)
        self.shape = (d,)

    @classmethod
    def from_data(cls, X: ArrayLike) -> ActNorm1D:
        """The layer whose output on ``X`` (shape ``(n_samples, d)``) has mean 0 and std 1.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.bijections import ActNorm1D
            >>> X = np.random.default_rng(0).normal(size=(50, 3))
            >>> ActNorm1D.from_data(X).loc.shape
            (3,)
        """
        data = as_data_matrix(X, check_constant=False)
        loc, log_scale = _standardising_parameters(np.asarray(data, dtype=np.float64))
        return cls((data.shape[1],), loc=loc.astype(data.dtype), log_scale=log_scale.astype(data.dtype))
