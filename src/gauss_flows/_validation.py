"""Checks on user data that turn bad input into a ``ValueError`` naming the problem."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def as_data_matrix(
    X: ArrayLike,
    *,
    name: str = "X",
    min_rows: int = 2,
    n_dims: int | None = None,
    check_constant: bool = True,
) -> Array:
    """Validate a data matrix of shape ``(n_samples, n_dims)`` and return it as a JAX array.

    Args:
        X: The data.
        name: How the data is called in error messages.
        min_rows: Fewest rows accepted.
        n_dims: Required number of columns, if any.
        check_constant: Reject columns whose values are all equal.

    Raises:
        ValueError: If the data is not numeric, not 2-D, too small, holds NaN or inf, has
            the wrong number of columns, or (with ``check_constant``) a constant column.
    """
    if isinstance(X, jax.Array):
        arr = X
        if not jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.complexfloating):
            raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
        if not jnp.issubdtype(arr.dtype, jnp.floating):
            arr = arr.astype(float)
        xp = jnp
    else:
        try:
            host = np.asarray(X)
        except Exception as err:  # ragged lists and the like
            raise ValueError(f"{name} could not be read as a numeric array: {err}") from None
        if host.dtype == object or not np.issubdtype(host.dtype, np.number) or np.iscomplexobj(host):
            raise ValueError(f"{name} must hold real numbers; got dtype {host.dtype}")
        # Host data is checked with NumPy: no compilation, and no device round trip.
        floating = np.issubdtype(host.dtype, np.floating)
        arr = host.astype(jax.dtypes.canonicalize_dtype(host.dtype if floating else float), copy=False)
        xp = np
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, n_dims); got {arr.ndim}-D shape {arr.shape}"
        )
    n, d = arr.shape
    if d == 0:
        raise ValueError(f"{name} has no columns")
    if n < min_rows:
        raise ValueError(f"{name} has {n} rows; at least {min_rows} are needed")
    if n_dims is not None and d != n_dims:
        raise ValueError(f"{name} has {d} columns but the model has {n_dims} dimensions")
    finite = xp.isfinite(arr)
    if not bool(xp.all(finite)):
        bad_rows = np.flatnonzero(~np.asarray(xp.all(finite, axis=1)))
        kind = "NaN" if bool(xp.any(xp.isnan(arr))) else "inf"
        raise ValueError(
            f"{name} contains {kind} values ({bad_rows.size} rows affected, first row {bad_rows[0]})"
        )
    if check_constant:
        spread = xp.max(arr, axis=0) - xp.min(arr, axis=0)
        constant = np.flatnonzero(np.asarray(spread) == 0)
        if constant.size:
            raise ValueError(
                f"{name} has constant column(s) {constant.tolist()}: a density needs spread in "
                "every dimension (drop the column or add noise)"
            )
    # device_put copies host data without compiling anything (jnp.asarray would compile a
    # small staging function for every new shape).
    return arr if xp is jnp else jax.device_put(arr)
