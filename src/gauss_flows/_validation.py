"""Checks on user data that turn bad input into a ``ValueError`` naming the problem."""

from __future__ import annotations

import math
import os
import stat
import warnings

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


def check_int(name: str, value: object, *, least: int = 1) -> int:
    """``value`` as an ``int`` if it is an integer (not a bool) of at least ``least``.

    Args:
        name: How the setting is called in the error message.
        value: The setting.
        least: Smallest accepted value.

    Raises:
        ValueError: If ``value`` is not such an integer.

    Example:
        >>> from gauss_flows._validation import check_int
        >>> check_int("n_layers", 4)
        4
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        kind = "a positive integer" if least == 1 else f"an integer >= {least}"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: object,
    *,
    low: float = 0.0,
    high: float = math.inf,
    low_open: bool = True,
    high_open: bool = True,
) -> float:
    """``value`` as a ``float`` if it is a finite real number in the stated interval.

    The interval is ``(low, high)`` by default (open at both ends); ``low_open=False``
    or ``high_open=False`` closes an end.

    Args:
        name: How the setting is called in the error message.
        value: The setting.
        low: Lower end of the interval.
        high: Upper end of the interval (``inf``: none).
        low_open: Whether ``low`` itself is excluded.
        high_open: Whether ``high`` itself is excluded.

    Raises:
        ValueError: If ``value`` is not a real number inside the interval.

    Example:
        >>> from gauss_flows._validation import check_number
        >>> check_number("peak_lr", 1e-3)
        0.001
        >>> check_number("val_fraction", 0.0, high=1.0, low_open=False)
        0.0
    """
    is_real = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if is_real and math.isfinite(value):
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        if above and below:
            return float(value)
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    if low == 0.0 and low_open and high == math.inf:
        kind = "a positive finite number"
    elif low == 0.0 and high == math.inf:
        kind = "a non-negative finite number"
    else:
        kind = f"a number in {left}{low:g}, {high:g}{right}"
    raise ValueError(f"{name} must be {kind}; got {value!r}")


def check_random_state(value: object, *, name: str = "random_state") -> int:
    """The integer random state from ``random_state``: an integer, or ``None`` for 0.

    ``random_state`` is the one name for integer random states across the library; JAX keys are
    called ``key``.

    Raises:
        ValueError: If ``value`` is neither an integer nor ``None``.

    Example:
        >>> from gauss_flows._validation import check_random_state
        >>> check_random_state(None), check_random_state(7)
        (0, 7)
    """
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer or None; got {value!r}")
    return int(value)


def renamed_keyword(
    options: dict, old: str, new: str, value: object, *, sentinel: object = None
) -> object:
    """Take a deprecated keyword out of ``options``, warning, and return the value to use.

    ``value`` is what the caller passed under the new name (``sentinel`` when nothing).
    Passing both names is an error.

    Raises:
        TypeError: If both the old and the new name were given.

    Example:
        >>> import warnings
        >>> from gauss_flows._validation import renamed_keyword
        >>> with warnings.catch_warnings(record=True):
        ...     renamed_keyword({"n_blocks": 3}, "n_blocks", "n_layers", None)
        3
    """
    if old not in options:
        return value
    if value is not sentinel:
        raise TypeError(f"give {new!r} only; {old!r} is its deprecated name")
    warnings.warn(
        f"{old!r} is deprecated and will be removed in the next release; use {new!r}",
        DeprecationWarning,
        stacklevel=3,
    )
    return options.pop(old)


def reject_unknown_keywords(function: str, options: dict) -> None:
    """A ``TypeError`` like Python's own for keywords a function does not take.

    Example:
        >>> from gauss_flows._validation import reject_unknown_keywords
        >>> reject_unknown_keywords("fit_rbig", {})
    """
    if options:
        names = ", ".join(map(repr, sorted(options)))
        raise TypeError(f"{function}() got unexpected keyword argument(s) {names}")


_SPECIAL_FILES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def special_file_kind(target: str | os.PathLike | int) -> str | None:
    """What a path (or open file descriptor) is when it is not a regular file, else ``None``.

    Files are read only when regular: a device such as ``/dev/zero`` or a FIFO has no size
    and may never end, so reading one would not be bounded. Symbolic links are followed,
    and nothing is opened (opening a FIFO would wait for a writer).

    Args:
        target: A path, or the descriptor of an open file.

    Returns:
        ``"a directory"``, ``"a FIFO (named pipe)"``, ``"a character device"``, ``"a block
        device"``, ``"a socket"``, ``"a special file"`` for any other kind that is not
        regular, or ``None`` for a regular file.

    Raises:
        OSError: If ``target`` cannot be examined (``FileNotFoundError`` when it does not
            exist).

    Example:
        >>> from gauss_flows._validation import special_file_kind
        >>> special_file_kind("/dev/zero")
        'a character device'

    References:
        POSIX ``stat`` and its file type tests (``S_ISREG``, ``S_ISFIFO``, ...).
    """
    mode = (os.fstat(target) if isinstance(target, int) else os.stat(target)).st_mode
    if stat.S_ISREG(mode):
        return None
    for test, kind in _SPECIAL_FILES:
        if test(mode):
            return kind
    return "a special file"
