"""A trainable orthogonal rotation written as a product of Householder reflections."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.linalg import solve_triangular
from jaxtyping import Array, ArrayLike, Int, PRNGKeyArray

from flowjax.bijections.bijection import AbstractBijection

from gauss_flows._arrays import as_float_array


def householder_decomposition(matrix: ArrayLike) -> tuple[Array, Array]:
    """Write an orthogonal matrix exactly as ``H(v_1) ⋯ H(v_d) · diag(signs)``.

    ``H(v) = I − 2 v vᵀ / vᵀv``. The decomposition is Householder QR: reflection ``k``
    zeroes column ``k`` below the diagonal, and what remains is a diagonal of ±1. Pure JAX,
    so it runs inside jitted fits.

    Args:
        matrix: A ``(d, d)`` orthogonal matrix.

    Returns:
        ``(vectors, signs)``: unit vectors of shape ``(d, d)`` (row ``k`` is ``v_k``) and
        integer signs of shape ``(d,)`` with entries ±1.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import householder_decomposition, householder_product
        >>> q = jnp.array([[0.0, 1.0], [1.0, 0.0]])
        >>> vectors, signs = householder_decomposition(q)
        >>> bool(jnp.allclose(householder_product(vectors, signs), q, atol=1e-6))
        True
    """
    a = as_float_array(matrix)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"a rotation must be a square matrix; got shape {a.shape}")
    d = a.shape[0]
    rows = jnp.arange(d)

    def reflect(k, state):
        a, vectors = state
        col = jnp.where(rows >= k, a[:, k], 0.0)
        pivot = a[k, k]
        sign = jnp.where(pivot < 0, -1.0, 1.0)
        v = col.at[k].add(sign * jnp.linalg.norm(col))
        v = v / jnp.linalg.norm(v)
        a = a - 2.0 * jnp.outer(v, v @ a)
        return a, vectors.at[k].set(v)

    a, vectors = jax.lax.fori_loop(0, d, reflect, (a, jnp.zeros_like(a)))
    signs = jnp.where(jnp.diagonal(a) < 0, -1, 1).astype(jnp.int32)
    return vectors, signs


def householder_decomposition_host(matrix: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """:func:`householder_decomposition` on the host, by LAPACK's Householder QR.

    Greedy fits call this between compiled blocks: LAPACK's blocked QR (``geqrf``) is fast
    at any size and keeps the reflection loop out of the compiled code. ``geqrf`` gives
    ``Q = G_1 ⋯ G_d R`` with ``G_k = I − τ_k u_k u_kᵀ`` and, for orthogonal ``Q``,
    ``R = diag(±1)``. Each ``G_k`` with ``τ_k ≠ 0`` is the reflection ``H(u_k)``. One with
    ``τ_k = 0`` is the identity (always the last); it is written as ``H(e_k)`` with
    ``R_kk`` negated, which is the same product because ``e_k`` is orthogonal to every
    later ``u_j``.

    Args:
        matrix: A ``(d, d)`` orthogonal matrix.

    Returns:
        ``(vectors, signs)`` as NumPy arrays, as :func:`householder_decomposition` returns.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.bijections import householder_product
        >>> from gauss_flows.bijections.rotation import householder_decomposition_host
        >>> q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))
        >>> vectors, signs = householder_decomposition_host(q)
        >>> bool(np.allclose(householder_product(vectors, signs), q))
        True
    """
    q = np.asarray(matrix)
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise ValueError(f"a rotation must be a square matrix; got shape {q.shape}")
    d = q.shape[0]
    packed, tau = np.linalg.qr(q.astype(np.float64), mode="raw")  # packed is (QR)ᵀ-shaped
    below = np.tril(packed.T, -1)  # u_k below the diagonal of column k
    vectors = (below + np.eye(d)).T  # row k is u_k, with u_k[k] = 1
    identity = tau == 0.0
    vectors[identity] = np.eye(d)[identity]
    signs = np.where(np.diagonal(packed.T) < 0, -1, 1)
    signs = np.where(identity, -signs, signs).astype(np.int32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / norms).astype(q.dtype), signs


_UNROLL_MAX_DIM = 16


def householder_product(vectors: Array, signs: Array) -> Array:
    """The orthogonal matrix ``H(v_1) ⋯ H(v_d) · diag(signs)`` of a set of reflections."""
    d = vectors.shape[-1]
    units = vectors / jnp.linalg.norm(vectors, axis=-1, keepdims=True)

    def apply(m, v):
        # m ← m · H(v) = m − 2 (m v) vᵀ, elementwise so small d needs no matmul call.
        mv = jnp.sum(m * v, axis=-1, keepdims=True)
        return m - 2.0 * mv * v, None

    eye = jnp.eye(d, dtype=vectors.dtype)
    if d <= _UNROLL_MAX_DIM:
        # A few tiny reflections: unrolled straight-line code beats a scan's loop overhead.
        m = eye
        for k in range(d):
            m, _ = apply(m, units[k])
    else:
        # The compact "UT" form of the product (Joffrain et al. 2006): with the unit vectors
        # as the columns of U, H(u_1)⋯H(u_d) = I − U T⁻¹ Uᵀ, T = ½ I + strictly-upper(UᵀU).
        # Two matrix products and a triangular solve instead of d sequential rank-one
        # updates, and a backward pass that keeps no per-reflection intermediates.
        gram = jnp.matmul(units, units.T, precision="highest")
        t = jnp.triu(gram, 1) + 0.5 * eye
        w = solve_triangular(t, units, lower=False)  # T⁻¹ Uᵀ
        m = eye - jnp.matmul(units.T, w, precision="highest")
    return m * signs.astype(vectors.dtype)


class HouseholderRotation(AbstractBijection):
    r"""Orthogonal map :math:`y = Q x` with :math:`Q = H(v_1)\cdots H(v_d)\,\mathrm{diag}(s)`.

    The reflection vectors are trainable; the signs :math:`s \in \{\pm 1\}^d` are an integer
    array, so gradient filters (``eqx.is_inexact_array``) leave them alone. Any orthogonal
    matrix can be set exactly with :meth:`from_matrix`, which is how greedy fits express
    their PCA or random rotations in this trainable form. The log-determinant is zero.

    Args:
        vectors: Reflection vectors, shape ``(d, d)``; row ``k`` defines ``H(v_k)``.
        signs: Integer ±1 signs, shape ``(d,)``. Defaults to all ones.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows.bijections import HouseholderRotation
        >>> rot = HouseholderRotation.random(jr.key(0), n_dims=3)
        >>> q = rot.matrix  # orthogonal (3, 3)

    References:
        Householder (1958), "Unitary triangularization of a nonsymmetric matrix", Journal of the ACM 5(4).
        Tomczak and Welling (2016), "Improving variational auto-encoders using Householder flow", arXiv:1611.09630.
    """

    vectors: Array
    signs: Int[Array, " d"]
    shape: tuple[int, ...]
    cond_shape: ClassVar[None] = None

    def __init__(self, vectors: ArrayLike, signs: ArrayLike | None = None):
        vectors = as_float_array(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != vectors.shape[1]:
            raise ValueError(f"vectors must have shape (d, d); got {vectors.shape}")
        d = vectors.shape[0]
        self.vectors = vectors
        self.signs = jnp.ones(d, jnp.int32) if signs is None else jnp.asarray(signs, jnp.int32)
        self.shape = (d,)

    @classmethod
    def from_matrix(cls, matrix: ArrayLike) -> "HouseholderRotation":
        """The rotation whose matrix is exactly (to rounding) the given orthogonal matrix.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.bijections import HouseholderRotation
            >>> q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))
            >>> rot = HouseholderRotation.from_matrix(q)
            >>> bool(np.allclose(rot.matrix, q))
            True
        """
        q = as_float_array(matrix)
        if q.ndim != 2 or q.shape[0] != q.shape[1]:
            raise ValueError(f"a rotation must be a square matrix; got shape {q.shape}")
        error = float(jnp.max(jnp.abs(q.T @ q - jnp.eye(q.shape[0], dtype=q.dtype))))
        if not error < 1e-4:
            raise ValueError(f"the matrix is not orthogonal: max |QᵀQ − I| = {error:.3g}")
        return cls(*householder_decomposition(q))

    @classmethod
    def random(cls, key: PRNGKeyArray, *, n_dims: int) -> "HouseholderRotation":
        """A rotation with normally distributed reflection vectors."""
        return cls(jr.normal(key, (n_dims, n_dims)))

    @property
    def matrix(self) -> Array:
        """The orthogonal matrix ``Q``."""
        return householder_product(self.vectors, self.signs)

    def transform_and_log_det(self, x, condition=None):
        return apply_matrix(self.matrix, x), jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, y, condition=None):
        return apply_matrix(self.matrix.T, y), jnp.zeros((), y.dtype)


# Up to this many dimensions a rotation is applied as a broadcast multiply and a sum, which
# XLA fuses with the layers around it; a matrix-multiply call costs more than the arithmetic.
_ELEMENTWISE_MAX_DIM = 8


def apply_matrix(matrix: Array, x: Array) -> Array:
    """``matrix @ x`` for one sample ``x``."""
    if x.shape[-1] <= _ELEMENTWISE_MAX_DIM:
        return jnp.sum(matrix * x[..., None, :], axis=-1)
    return jnp.matmul(matrix, x, precision="highest")
