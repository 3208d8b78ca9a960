"""An invertible 1×1 convolution: a general linear channel mixing in LU form."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flowjax.bijections.bijection import AbstractBijection
from jax.scipy.linalg import solve_triangular
from jaxtyping import Array, Float, PRNGKeyArray

from gauss_flows._validation import check_int, check_number
from gauss_flows.bijections.rotation import apply_matrix

__all__ = ["Invertible1x1Conv"]


class Invertible1x1Conv(AbstractBijection):
    r"""Channel mixing :math:`y = W x` with :math:`W = L U` (Glow's invertible 1×1 convolution).

    :math:`L` is unit lower-triangular with :attr:`lower_params` below its diagonal and
    :math:`U` upper-triangular with :attr:`upper_params` above its diagonal and
    :math:`\exp(\text{log\_diag\_u})` on it (both packed in row-major order,
    ``numpy.tril_indices(C, -1)`` and ``numpy.triu_indices(C, 1)``). Every real value of
    the three arrays gives an invertible :math:`W`, so all are unconstrained trainable
    parameters; there is no permutation factor. The log-determinant is exactly
    :math:`\sum \text{log\_diag\_u}`, independent of ``x``, and the inverse is two
    triangular solves. The layer acts on one channel vector ``(C,)``; ``jax.vmap`` it over
    the positions of a feature map.

    At initialisation the off-diagonal entries are small normal draws (standard deviation
    ``init_scale``) and ``log_diag_u`` is zero: a near-identity map.

    Args:
        key: Key of the off-diagonal initial values.
        n_channels: Number of channels ``C``.
        init_scale: Standard deviation of the initial off-diagonal entries.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import Invertible1x1Conv
        >>> conv = Invertible1x1Conv(jr.key(0), n_channels=4)
        >>> w = jax.vmap(conv.transform)(jnp.eye(4)).T  # the matrix W
        >>> bool(jnp.allclose(w, conv.matrix))
        True
        >>> conv.transform_and_log_det(jnp.ones(4))[1].item()
        0.0

    References:
        Kingma and Dhariwal (2018), "Glow: generative flow with invertible 1x1
        convolutions", NeurIPS.
    """

    lower_params: Float[Array, " m"]
    upper_params: Float[Array, " m"]
    log_diag_u: Float[Array, " C"]
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(self, key: PRNGKeyArray, n_channels: int, *, init_scale: float = 0.01):
        c = check_int("n_channels", n_channels)
        init_scale = check_number("init_scale", init_scale, low_open=False)
        n_free = c * (c - 1) // 2
        k_lower, k_upper = jr.split(key)
        self.lower_params = init_scale * jr.normal(k_lower, (n_free,))
        self.upper_params = init_scale * jr.normal(k_upper, (n_free,))
        self.log_diag_u = jnp.zeros(c, self.lower_params.dtype)
        self.shape = (c,)

    @property
    def lower(self) -> Array:
        """The unit lower-triangular factor ``L``, shape ``(C, C)``."""
        c = self.shape[0]
        rows, cols = np.tril_indices(c, -1)
        eye = jnp.eye(c, dtype=self.lower_params.dtype)
        return eye.at[rows, cols].set(self.lower_params)

    @property
    def upper(self) -> Array:
        """The upper-triangular factor ``U`` (diagonal ``exp(log_diag_u)``), shape ``(C, C)``."""
        c = self.shape[0]
        rows, cols = np.triu_indices(c, 1)
        diagonal = jnp.diag(jnp.exp(self.log_diag_u))
        return diagonal.at[rows, cols].set(self.upper_params.astype(diagonal.dtype))

    @property
    def matrix(self) -> Array:
        """The mixing matrix ``W = L U``, shape ``(C, C)``."""
        return jnp.matmul(self.lower, self.upper, precision="highest")

    def transform_and_log_det(self, x, condition=None):
        y = apply_matrix(self.matrix, x)
        return y, jnp.sum(self.log_diag_u).astype(y.dtype)

    def inverse_and_log_det(self, y, condition=None):
        u_x = solve_triangular(self.lower, y, lower=True, unit_diagonal=True)
        x = solve_triangular(self.upper, u_x, lower=False)
        return x, -jnp.sum(self.log_diag_u).astype(x.dtype)
