"""Checks of a condition matrix ``Y`` paired row by row with data ``X``."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from gauss_flows._validation import as_data_matrix

__all__ = ["as_condition_matrix", "condition_moments", "require_condition"]


def as_condition_matrix(
    condition: ArrayLike,
    *,
    n_rows: int | None = None,
    cond_dim: int | None = None,
    name: str = "condition",
) -> Array:
    """The condition as a finite ``(n_rows, cond_dim)`` matrix (a 1-D condition is one column).

    Raises:
        ValueError: If it is missing, holds NaN or inf, is not 1-D or 2-D, has another
            number of rows than the data or another number of columns than the flow's
            condition.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._conditions import as_condition_matrix
        >>> as_condition_matrix(np.arange(3.0), n_rows=3).shape
        (3, 1)
    """
    if condition is None:
        raise ValueError(f"{name} is missing: a conditional model needs one condition row per data row")
    arr = condition
    if np.ndim(arr) == 1:
        arr = jnp.asarray(arr)[:, None] if not isinstance(arr, np.ndarray) else arr[:, None]
    elif np.ndim(arr) != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (rows, columns); got shape {np.shape(arr)}")
    if n_rows is not None and np.shape(arr)[0] != n_rows:
        raise ValueError(
            f"{name} has {np.shape(arr)[0]} rows but the data has {n_rows}: each data row "
            "needs its own condition row"
        )
    if cond_dim is not None and np.shape(arr)[1] != cond_dim:
        raise ValueError(
            f"{name} has {np.shape(arr)[1]} columns but the model's condition has {cond_dim}"
        )
    return as_data_matrix(arr, name=name, min_rows=1, check_constant=False)


def condition_moments(C: Array) -> tuple[Array, Array]:
    """Per-column mean and standard deviation of ``C``; a constant column gets scale 1.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows._conditions import condition_moments
        >>> [a.tolist() for a in condition_moments(jnp.array([[1.0, 5.0], [3.0, 5.0]]))]
        [[2.0, 5.0], [1.0, 1.0]]
    """
    loc, scale = jnp.mean(C, axis=0), jnp.std(C, axis=0)
    return loc, jnp.where(scale > 0, scale, 1.0)


def require_condition(cond_shape: tuple[int, ...] | None, condition: object, what: str) -> None:
    """A named error when a conditional model gets no condition or an unconditional one gets one.

    Example:
        >>> from gauss_flows._conditions import require_condition
        >>> require_condition(None, None, "train_flow")
    """
    if cond_shape is not None and condition is None:
        raise ValueError(
            f"{what}: the flow is conditional (condition shape {cond_shape}); pass condition="
        )
    if cond_shape is None and condition is not None:
        raise ValueError(f"{what}: the flow is unconditional, so it takes no condition")
