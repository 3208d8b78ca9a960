"""A trainable orthogonal map written as a product of Householder reflections."""

from __future__ import annotations

import abc
import warnings
from typing import ClassVar

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.linalg import solve_triangular
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from flowjax.bijections.bijection import AbstractBijection

from gauss_flows._arrays import as_float_array
from gauss_flows._validation import check_int
from gauss_flows.bijections._elementwise import check_event_shape


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
    """The orthogonal matrix ``H(v_1) ⋯ H(v_d) · diag(signs)`` of a set of reflections.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import householder_product
        >>> Q = householder_product(jnp.eye(2), jnp.ones(2))
        >>> bool(jnp.allclose(Q @ Q.T, jnp.eye(2)))
        True
    """
    return _reflection_product(vectors) * signs.astype(vectors.dtype)


def _reflection_product(vectors: Array) -> Array:
    """``H(v_1) ⋯ H(v_K)`` for the ``K`` rows of ``vectors`` (shape ``(K, d)``, any ``K``)."""
    n, d = vectors.shape
    units = vectors / jnp.linalg.norm(vectors, axis=-1, keepdims=True)

    def apply(m, v):
        # m ← m · H(v) = m − 2 (m v) vᵀ, elementwise so small d needs no matmul call.
        mv = jnp.sum(m * v, axis=-1, keepdims=True)
        return m - 2.0 * mv * v, None

    eye = jnp.eye(d, dtype=vectors.dtype)
    if n <= _UNROLL_MAX_DIM:
        # A few tiny reflections: unrolled straight-line code beats a scan's loop overhead.
        m = eye
        for k in range(n):
            m, _ = apply(m, units[k])
    else:
        # The compact "UT" form of the product (Joffrain et al. 2006): with the unit vectors
        # as the columns of U, H(u_1)⋯H(u_K) = I − U T⁻¹ Uᵀ, T = ½ I + strictly-upper(UᵀU).
        # Two matrix products and a triangular solve instead of K sequential rank-one
        # updates, and a backward pass that keeps no per-reflection intermediates.
        gram = jnp.matmul(units, units.T, precision="highest")
        t = jnp.triu(gram, 1) + 0.5 * jnp.eye(n, dtype=vectors.dtype)
        w = solve_triangular(t, units, lower=False)  # T⁻¹ Uᵀ
        m = eye - jnp.matmul(units.T, w, precision="highest")
    return m


def default_reflections(n_reflections: int, n_dims: int) -> np.ndarray:
    r"""The fixed reflection vectors of a :class:`HouseholderRotation` built from sizes.

    Row ``k`` is :math:`(1, t_k, t_k^2, \dots, t_k^{d-1})` at the Chebyshev node
    :math:`t_k = \cos(\pi (2k + 1) / (2K))`. The nodes are distinct, so the rows are
    distinct and any ``min(K, d)`` of them are linearly independent (a Vandermonde
    matrix): no two neighbouring reflections cancel, and the product is the same for
    every copy, with no key. Computed on the host in float64.

    Args:
        n_reflections: Number of reflections, ``K``.
        n_dims: Dimension ``d``.

    Returns:
        A ``(K, d)`` float64 NumPy array.

    Example:
        >>> from gauss_flows.bijections.rotation import default_reflections
        >>> default_reflections(1, 3).tolist()
        [[1.0, 0.0, 0.0]]
    """
    k = np.arange(n_reflections)
    nodes = np.cos(np.pi * (2 * k + 1) / (2 * n_reflections))
    nodes = np.where(np.abs(nodes) < 1e-15, 0.0, nodes)  # cos(π/2) is 6e-17, not 0
    return nodes[:, None] ** np.arange(n_dims)[None, :]


def _is_size(value: object) -> bool:
    """Whether a first positional argument is a size (new form) rather than an array."""
    return value is None or np.ndim(value) == 0


def _as_signs(signs: ArrayLike, n_dims: int) -> Int[Array, " d"]:
    if not isinstance(signs, jax.core.Tracer):
        host = np.asarray(signs)
        if host.shape != (n_dims,) or not np.all(np.abs(host) == 1):
            raise ValueError(
                f"signs must be {n_dims} entries, each +1 or -1; got {host.tolist()!r}"
            )
    elif jnp.shape(signs) != (n_dims,):
        raise ValueError(f"signs must have shape ({n_dims},); got {jnp.shape(signs)}")
    return jnp.asarray(signs).astype(jnp.int32)


class AbstractRotation(AbstractBijection):
    """An orthogonal linear map ``y = Q x`` given by its :attr:`matrix`.

    Subclasses say how ``Q`` is parameterised (Householder reflections, the Cayley map of
    a skew-symmetric matrix, a frozen matrix); this base applies it. The log-determinant
    is exactly zero and the inverse is ``Qᵀ``.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import FixedRotation
        >>> rotation = FixedRotation(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> rotation.transform_and_log_det(jnp.array([1.0, 2.0]))[1].item()
        0.0

    References:
        Golub and Van Loan (2013), "Matrix Computations", 4th ed., section 5.1.
    """

    @property
    @abc.abstractmethod
    def matrix(self) -> Array:
        """The rotation matrix ``Q``, shape ``(d, d)``."""

    def transform_and_log_det(self, x, condition=None):
        y = apply_matrix(self.matrix, x)
        return y, jnp.zeros((), y.dtype)

    def inverse_and_log_det(self, y, condition=None):
        x = apply_matrix(self.matrix.T, y)
        return x, jnp.zeros((), x.dtype)


class HouseholderRotation(AbstractRotation):
    r"""Orthogonal map :math:`y = H(p_{K-1}) \cdots H(p_1) H(p_0)\,\mathrm{diag}(s)\,x`.

    :math:`H(v) = I - 2 v v^\top / v^\top v` is the reflection through the hyperplane
    orthogonal to :math:`v`. The ``K`` rows of :attr:`params` are the reflection vectors,
    applied in array order (row 0 first, after the optional sign diagonal). They need not
    be unit vectors: every non-zero row is valid, so the rows are unconstrained trainable
    parameters. ``K`` may be smaller or larger than ``d``; ``K = d`` reflections (with
    signs, ``d`` suffice exactly) reach every orthogonal matrix.

    The optional ``signs`` :math:`s \in \{\pm 1\}^d` are an integer array, applied
    first; gradient filters (``eqx.is_inexact_array``) leave them alone. Without them
    :math:`\det Q = (-1)^K`. :meth:`from_matrix` writes any orthogonal matrix exactly as
    ``d`` reflections plus signs, which is how greedy fits express their rotations in
    this trainable form. The log-determinant is exactly zero; the inverse applies the
    same reflections in reverse order (:math:`Q^\top`).

    Built from sizes alone, the rows are :func:`default_reflections`: a fixed,
    non-degenerate pattern, identical for every copy (no key is needed).

    Args:
        n_reflections: Number of reflections ``K``; defaults to ``d``.
        shape: Event shape ``(d,)``.
        params: Reflection vectors, shape ``(K, d)``; row ``k`` defines ``H(p_k)``. When
            given, ``n_reflections`` and ``shape`` (if set) must agree with it.
        signs: Optional integer ±1 diagonal of shape ``(d,)``, applied before the
            reflections. ``None`` (the default) means no sign diagonal.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> from gauss_flows.bijections import HouseholderRotation
        >>> rot = HouseholderRotation(n_reflections=2, shape=(3,))
        >>> rot.params.shape
        (2, 3)
        >>> q = jax.vmap(rot.transform)(jnp.eye(3)).T  # the matrix Q
        >>> bool(jnp.allclose(q, rot.matrix)), round(float(jnp.linalg.det(q)), 4)
        (True, 1.0)
        >>> rot.transform_and_log_det(jnp.ones(3))[1].item()
        0.0

    References:
        Householder (1958), "Unitary triangularization of a nonsymmetric matrix", Journal of the ACM 5(4).
        Tomczak and Welling (2016), "Improving variational auto-encoders using Householder flow", arXiv:1611.09630.
    """

    params: Float[Array, "K d"]
    signs: Int[Array, " d"] | None
    shape: tuple[int, ...]
    cond_shape: ClassVar[None] = None

    def __init__(
        self,
        n_reflections: int | None = None,
        shape: tuple[int, ...] | None = None,
        *,
        params: ArrayLike | None = None,
        signs: ArrayLike | None = None,
    ):
        if not _is_size(n_reflections):
            # The earlier form HouseholderRotation(vectors, signs): square vectors whose
            # LAST row is applied first, and an all-ones sign diagonal by default.
            if params is not None:
                raise TypeError("HouseholderRotation: give params= or the vectors array, not both")
            warnings.warn(
                "HouseholderRotation(vectors, signs) is deprecated; use "
                "HouseholderRotation(params=vectors[::-1], signs=signs) (rows of params apply "
                "in array order)",
                DeprecationWarning,
                stacklevel=2,
            )
            vectors = as_float_array(n_reflections)
            if vectors.ndim != 2 or vectors.shape[0] != vectors.shape[1]:
                raise ValueError(f"vectors must have shape (d, d); got {vectors.shape}")
            legacy_signs = shape if signs is None else signs
            d = vectors.shape[0]
            self.params = vectors[::-1]
            self.signs = (
                jnp.ones(d, jnp.int32) if legacy_signs is None else _as_signs(legacy_signs, d)
            )
            self.shape = (d,)
            return
        if params is None:
            if shape is None:
                raise ValueError("HouseholderRotation: give shape=(d,) or params=")
            (d,) = check_event_shape(shape)
            k = d if n_reflections is None else check_int("n_reflections", n_reflections)
            self.params = as_float_array(default_reflections(k, d))
        else:
            params = as_float_array(params)
            if params.ndim != 2 or 0 in params.shape:
                raise ValueError(
                    f"params must have shape (n_reflections, d) with both positive; got {params.shape}"
                )
            k, d = params.shape
            if n_reflections is not None and check_int("n_reflections", n_reflections) != k:
                raise ValueError(
                    f"n_reflections={n_reflections!r} disagrees with params of shape {params.shape}"
                )
            if shape is not None and check_event_shape(shape) != (d,):
                raise ValueError(f"shape={shape!r} disagrees with params of shape {params.shape}")
            self.params = params
        self.signs = None if signs is None else _as_signs(signs, d)
        self.shape = (d,)

    @classmethod
    def from_matrix(cls, matrix: ArrayLike) -> HouseholderRotation:
        """The rotation whose matrix is exactly (to rounding) the given orthogonal matrix.

        ``d`` reflections plus a sign diagonal, from :func:`householder_decomposition`.

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
        vectors, signs = householder_decomposition(q)
        return cls(params=vectors[::-1], signs=signs)

    @classmethod
    def random(cls, key: PRNGKeyArray, *, n_dims: int) -> HouseholderRotation:
        """``d`` normally distributed reflection vectors and an all-ones sign diagonal.

        The matrix is :func:`householder_product` of the normal draws (in draw order)
        with unit signs.

        Example:
            >>> import jax.random as jr
            >>> from gauss_flows.bijections import HouseholderRotation
            >>> HouseholderRotation.random(jr.key(0), n_dims=3).params.shape
            (3, 3)
        """
        draws = jr.normal(key, (n_dims, n_dims))
        return cls(params=draws[::-1], signs=jnp.ones(n_dims, jnp.int32))

    @property
    def n_reflections(self) -> int:
        """The number of reflections ``K``."""
        return self.params.shape[-2]

    @property
    def matrix(self) -> Array:
        """The orthogonal matrix ``Q``, shape ``(d, d)``."""
        if self.signs is not None:
            return householder_product(self.params[::-1], self.signs)
        return _reflection_product(self.params[::-1])

    @property
    def vectors(self) -> Array | None:
        """Deprecated: the reflection vectors in reverse order, ``params[::-1]``."""
        warnings.warn(
            "HouseholderRotation.vectors is deprecated; use .params (rows in the order they "
            "apply; vectors == params[::-1])",
            DeprecationWarning,
            stacklevel=2,
        )
        return None if self.params is None else self.params[::-1]

    def householder_factors(self) -> tuple[Array, Int[Array, " d"]]:
        """The map as ``(vectors, signs)`` with ``matrix == householder_product(vectors, signs)``.

        ``d`` vectors in :func:`householder_product`'s order (the last row applies first)
        and integer signs: the representation the Gaussianization blocks store. With
        ``K = d`` this is ``params[::-1]`` exactly (all-ones signs when there are none);
        otherwise the matrix is decomposed by :func:`householder_decomposition`.

        Example:
            >>> import jax.numpy as jnp
            >>> from gauss_flows.bijections import HouseholderRotation, householder_product
            >>> rot = HouseholderRotation(n_reflections=5, shape=(3,))
            >>> vectors, signs = rot.householder_factors()
            >>> bool(jnp.allclose(householder_product(vectors, signs), rot.matrix))
            True
        """
        (d,) = self.shape
        if self.params.shape[-2] != d:
            return householder_decomposition(self.matrix)
        signs = jnp.ones(d, jnp.int32) if self.signs is None else self.signs
        return self.params[::-1], signs



# Up to this many dimensions a rotation is applied as a broadcast multiply and a sum, which
# XLA fuses with the layers around it; a matrix-multiply call costs more than the arithmetic.
_ELEMENTWISE_MAX_DIM = 8


def apply_matrix(matrix: Array, x: Array) -> Array:
    """``matrix @ x`` for one sample ``x``."""
    if x.shape[-1] <= _ELEMENTWISE_MAX_DIM:
        return jnp.sum(matrix * x[..., None, :], axis=-1)
    return jnp.matmul(matrix, x, precision="highest")
