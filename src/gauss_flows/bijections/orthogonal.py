"""A trainable proper rotation (determinant +1) through the Cayley map of a skew matrix."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from gauss_flows._arrays import as_float_array
from gauss_flows.bijections._elementwise import check_event_shape
from gauss_flows.bijections.rotation import AbstractRotation

__all__ = ["OrthogonalRotation", "cayley_matrix"]


def cayley_matrix(skew_params: Array, n_dims: int) -> Array:
    r"""The Cayley rotation :math:`Q = (I - A)(I + A)^{-1}` of the skew matrix built from ``skew_params``.

    :math:`A` has ``skew_params`` above its diagonal, in row-major order
    (``numpy.triu_indices(d, 1)``), and their negatives below. :math:`I + A` is always
    invertible (its eigenvalues are :math:`1 + i\lambda`), and since :math:`I - A` and
    :math:`(I + A)^{-1}` commute, :math:`Q` is computed as the solve
    :math:`(I + A)^{-1}(I - A)`.

    Args:
        skew_params: The ``d(d − 1)/2`` entries above the diagonal of ``A``.
        n_dims: The dimension ``d``.

    Returns:
        The ``(d, d)`` orthogonal matrix ``Q``, with determinant +1.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections.orthogonal import cayley_matrix
        >>> q = cayley_matrix(jnp.array([0.3, -1.0, 2.0]), 3)
        >>> bool(jnp.allclose(q.T @ q, jnp.eye(3), atol=1e-5)), round(float(jnp.linalg.det(q)), 4)
        (True, 1.0)
    """
    rows, cols = np.triu_indices(n_dims, 1)
    upper = jnp.zeros((n_dims, n_dims), skew_params.dtype).at[rows, cols].set(skew_params)
    skew = upper - upper.T
    eye = jnp.eye(n_dims, dtype=skew_params.dtype)
    return jnp.linalg.solve(eye + skew, eye - skew)


class OrthogonalRotation(AbstractRotation):
    r"""Proper rotation :math:`y = Q x`, :math:`Q = (I - A)(I + A)^{-1}` with :math:`A` skew-symmetric.

    The Cayley map sends every skew-symmetric :math:`A` to a rotation with
    :math:`\det Q = +1`; its ``d(d − 1)/2`` free entries (:attr:`skew_params`, above the
    diagonal) are unconstrained trainable parameters. It reaches every rotation of
    :math:`SO(d)` without an eigenvalue −1 (a dense subset), but never a reflection: use
    :class:`~gauss_flows.bijections.HouseholderRotation` to reach all of :math:`O(d)`.
    Zero parameters (the default) give the identity. The log-determinant is exactly zero
    and the inverse is :math:`Q^\top`.

    Args:
        shape: Event shape ``(d,)``.
        skew_params: Optional entries above the diagonal of ``A``, shape
            ``(d(d − 1)/2,)`` in ``numpy.triu_indices(d, 1)`` order; zeros by default.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import OrthogonalRotation
        >>> rot = OrthogonalRotation(shape=(3,))
        >>> rot.skew_params.shape
        (3,)
        >>> x = jnp.array([0.5, -1.0, 2.0])
        >>> z, log_det = rot.transform_and_log_det(x)
        >>> bool(jnp.allclose(z, x)), log_det.item()
        (True, 0.0)

    References:
        Cayley (1846), "Sur quelques propriétés des déterminants gauches", Journal für die
        reine und angewandte Mathematik 32.
        Golinski, Lezcano-Casado and Rainforth (2019), "Improving normalizing flows via
        better orthogonal parameterizations", ICML workshop on invertible neural networks.
    """

    skew_params: Float[Array, " m"]
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(self, shape: tuple[int, ...], *, skew_params: ArrayLike | None = None):
        (d,) = check_event_shape(shape)
        n_free = d * (d - 1) // 2
        if skew_params is None:
            self.skew_params = as_float_array(np.zeros(n_free))
        else:
            skew_params = as_float_array(skew_params)
            if skew_params.shape != (n_free,):
                raise ValueError(
                    f"skew_params must have shape ({n_free},) for shape ({d},); got {skew_params.shape}"
                )
            self.skew_params = skew_params
        self.shape = (d,)

    @property
    def matrix(self) -> Array:
        """The rotation matrix ``Q``, shape ``(d, d)``."""
        return cayley_matrix(self.skew_params, self.shape[0])
