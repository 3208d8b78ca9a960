r"""The matrix-exponential flow: the closed-form flow of the linear ODE :math:`\dot x = W x + \dot h(t)\, b`.

At time :math:`t` (the layer's condition) the map is

.. math::
    y = e^{W t} x + h(t)\, b, \qquad \log|\det \partial y / \partial x| = t \operatorname{tr}(W),

exactly the identity at :math:`t = 0` (the gate :math:`h` has :math:`h(0) = 0`), with the
inverse :math:`x = e^{-W t}(y - h(t)\, b)`. No ODE is solved.

Example:
    >>> import jax.numpy as jnp
    >>> import jax.random as jr
    >>> from gauss_flows import MatrixExponential, pack_time_control
    >>> layer = MatrixExponential(jr.key(0), shape=(2,), w_init_scale=0.5)
    >>> y, log_det = layer.transform_and_log_det(jnp.ones(2), pack_time_control(1.0))
    >>> bool(jnp.isclose(log_det, jnp.trace(layer.W)))
    True

References:
    Bilos, M. et al. (2021). Neural flows: efficient alternative to neural ODEs. NeurIPS.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections.bijection import AbstractBijection
from jax.scipy.linalg import expm
from jaxtyping import Array, PRNGKeyArray

from gauss_flows._validation import check_int, check_number
from gauss_flows.continuous.time import TimeTanh, time_of

__all__ = ["MatrixExponential"]


class MatrixExponential(AbstractBijection):
    r"""``y = expm(W t) x + h(t) b``, conditioned on the packed time ``pack_time_control(t)``.

    ``cond_shape`` is ``(1,)``. ``W`` is any real matrix (every value gives a valid
    bijection); the log-determinant ``t tr(W)`` is exact and independent of ``x`` and the
    gate. The gate is ``h(t) = t`` unless a :class:`TimeTanh` is given. Negative times
    are allowed (they run the flow backwards).

    Args:
        key: Key for ``W`` and ``b``, both drawn from ``N(0, w_init_scale²)``.
        shape: The event shape ``(d,)``.
        time_bias_net: The gate ``h`` of the bias, or ``None`` for ``h(t) = t``.
        w_init_scale: Standard deviation of the initial ``W`` and ``b``.
        use_bias: Whether the layer has the bias term ``h(t) b``.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows import MatrixExponential, TimeTanh, pack_time_control
        >>> k1, k2 = jr.split(jr.key(0))
        >>> layer = MatrixExponential(k1, shape=(3,), time_bias_net=TimeTanh(k2, embedding_dim=4))
        >>> x = jnp.array([1.0, -2.0, 0.5])
        >>> bool(jnp.all(layer.transform(x, pack_time_control(0.0)) == x))
        True
    """

    W: Array
    b: Array | None
    time_bias_net: TimeTanh | None
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: tuple[int, ...] = eqx.field(static=True)

    def __init__(
        self,
        key: PRNGKeyArray,
        *,
        shape: tuple[int, ...],
        time_bias_net: TimeTanh | None = None,
        w_init_scale: float = 1e-2,
        use_bias: bool = True,
    ):
        shape = tuple(shape)
        if len(shape) != 1:
            raise ValueError(f"MatrixExponential acts on vectors: shape must be (d,); got {shape}")
        d = check_int("shape[0]", shape[0])
        scale = check_number("w_init_scale", w_init_scale, low_open=False)
        if time_bias_net is not None and not isinstance(time_bias_net, TimeTanh):
            raise ValueError(f"time_bias_net must be a TimeTanh or None; got {type(time_bias_net).__name__}")
        k_w, k_b = jr.split(key)
        self.W = scale * jr.normal(k_w, (d, d), dtype=float)
        self.b = scale * jr.normal(k_b, (d,), dtype=float) if use_bias else None
        self.time_bias_net = time_bias_net
        self.shape = (d,)
        self.cond_shape = (1,)

    def _gate(self, t: Array) -> Array:
        return t if self.time_bias_net is None else self.time_bias_net(t)

    def _shift(self, t: Array) -> Array:
        if self.b is None:
            return jnp.zeros(self.shape, self.W.dtype)
        return self._gate(t) * self.b

    def transform_and_log_det(self, x, condition=None):
        t = time_of(condition, "MatrixExponential").astype(self.W.dtype)
        y = expm(self.W * t) @ x + self._shift(t)
        return y, t * jnp.trace(self.W)

    def inverse_and_log_det(self, y, condition=None):
        t = time_of(condition, "MatrixExponential").astype(self.W.dtype)
        x = expm(-self.W * t) @ (y - self._shift(t))
        return x, -t * jnp.trace(self.W)
