"""A frozen orthogonal rotation, such as the principal axes of a data set."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import numpy as np
import paramax
from jaxtyping import Array, ArrayLike

from gauss_flows._arrays import as_float_array
from gauss_flows._validation import as_data_matrix
from gauss_flows.bijections.rotation import AbstractRotation

__all__ = ["FixedRotation", "principal_axes"]

#: Largest ``max |QᵀQ − I|`` a matrix may have to be accepted as orthogonal.
_ORTHOGONALITY_TOLERANCE = 1e-4


def principal_axes(X: ArrayLike) -> np.ndarray:
    """The principal axes of ``Cov(X)`` as the rows of an orthogonal matrix, largest variance first.

    The covariance divides by ``n − 1``; its eigenvectors come from LAPACK's symmetric
    eigensolver in float64 on the host. Each row's sign is fixed so that its entry of
    largest magnitude is positive, which makes the result independent of the solver's
    sign choices.

    Args:
        X: Data of shape ``(n_samples, d)``, ``n_samples ≥ 2``.

    Returns:
        A float64 ``(d, d)`` NumPy array: row ``k`` is the ``k``-th principal direction.

    Example:
        >>> import numpy as np
        >>> from gauss_flows.bijections.fixed_rotation import principal_axes
        >>> X = np.random.default_rng(0).normal(size=(500, 2)) * [1.0, 3.0]
        >>> np.round(np.abs(principal_axes(X)), 2).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    return _principal_axes(np.asarray(as_data_matrix(X, check_constant=False), dtype=np.float64))


def _principal_axes(data: np.ndarray) -> np.ndarray:
    centred = data - data.mean(axis=0)
    cov = centred.T @ centred / (data.shape[0] - 1)
    _, vectors = np.linalg.eigh(cov)
    rows = vectors[:, ::-1].T
    largest = np.argmax(np.abs(rows), axis=1)
    signs = np.where(rows[np.arange(rows.shape[0]), largest] < 0, -1.0, 1.0)
    return rows * signs[:, None]


class FixedRotation(AbstractRotation):
    r"""A frozen orthogonal map :math:`y = Q x`: no centring, no scaling, nothing trained.

    ``Q`` is held in ``paramax.NonTrainable``, so its gradient is zero and flowjax's
    ``fit_to_data`` (and any optimiser loop that filters on it) leaves it unchanged.
    :meth:`from_data` builds the PCA rotation of a data set, whose output has a diagonal
    covariance with variances in descending order. The log-determinant is zero and the
    inverse is :math:`Q^\top`.

    Args:
        matrix: An orthogonal ``(d, d)`` matrix (``max |QᵀQ − I| < 1e-4``).

    Raises:
        ValueError: If ``matrix`` is not square or not orthogonal.

    Example:
        >>> import jax
        >>> import numpy as np
        >>> from gauss_flows.bijections import FixedRotation
        >>> X = np.random.default_rng(0).normal(size=(500, 3)) @ [[2.0, 1.0, 0.0],
        ...     [0.0, 1.0, 0.5], [0.0, 0.0, 0.3]]
        >>> rot = FixedRotation.from_data(X)
        >>> Y = np.asarray(jax.vmap(rot.transform)(X))
        >>> cov = np.cov(Y.T)
        >>> bool(np.all(np.abs(cov - np.diag(np.diag(cov))) < 1e-4))
        True
        >>> bool(np.all(np.diff(np.diag(cov)) < 0))
        True

    References:
        Pearson (1901), "On lines and planes of closest fit to systems of points in
        space", The London, Edinburgh, and Dublin Philosophical Magazine 2(11).
        Laparra, Camps-Valls and Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """

    frozen_matrix: paramax.NonTrainable
    shape: tuple[int, ...] = eqx.field(static=True)
    cond_shape: ClassVar[None] = None

    def __init__(self, matrix: ArrayLike):
        q = as_float_array(matrix)
        if q.ndim != 2 or q.shape[0] != q.shape[1] or q.shape[0] == 0:
            raise ValueError(f"FixedRotation needs a square (d, d) matrix; got shape {q.shape}")
        if not isinstance(q, jax.core.Tracer):
            host = np.asarray(q, dtype=np.float64)
            error = float(np.max(np.abs(host.T @ host - np.eye(q.shape[0]))))
            if not error < _ORTHOGONALITY_TOLERANCE:
                raise ValueError(
                    f"FixedRotation needs an orthogonal matrix; max |QᵀQ − I| = {error:.3g} "
                    f"(tolerance {_ORTHOGONALITY_TOLERANCE:g})"
                )
        self.frozen_matrix = paramax.NonTrainable(q)
        self.shape = (q.shape[0],)

    @classmethod
    def from_data(cls, X: ArrayLike) -> FixedRotation:
        """The PCA rotation of ``X``: rows are the principal axes, largest variance first.

        See :func:`principal_axes`. The matrix has the floating dtype of ``X`` (float64
        for integer data when 64-bit mode is on).

        Args:
            X: Data of shape ``(n_samples, d)``, as a JAX or NumPy array.

        Example:
            >>> import numpy as np
            >>> from gauss_flows.bijections import FixedRotation
            >>> X = np.random.default_rng(0).normal(size=(200, 2)) * [3.0, 1.0]
            >>> FixedRotation.from_data(X).matrix.shape
            (2, 2)
        """
        data = as_data_matrix(X, check_constant=False)
        axes = _principal_axes(np.asarray(data, dtype=np.float64))
        return cls(as_float_array(axes.astype(data.dtype)))

    @property
    def matrix(self) -> Array:
        """The rotation matrix ``Q``, a plain ``(d, d)`` array."""
        return paramax.unwrap(self.frozen_matrix)
