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


X64_HINT = "enable 64-bit mode with jax.config.update('jax_enable_x64', True)"
"""How to switch JAX to 64-bit floats, as error messages say it."""


def data_dtype(dtype: np.dtype | type) -> np.dtype:
    """The floating dtype JAX computes in for host data of ``dtype``.

    Floats of up to 32 bits (``float16`` included) become ``float32``; wider floats and
    every other number type become ``float64`` in JAX's 64-bit mode, ``float32``
    otherwise.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._validation import data_dtype
        >>> data_dtype(np.float16)
        dtype('float32')
    """
    dtype = np.dtype(dtype)
    narrow = np.issubdtype(dtype, np.floating) and dtype.itemsize <= 4
    return np.dtype(jax.dtypes.canonicalize_dtype(np.float32 if narrow else np.float64))


def check_representable(X: np.ndarray, dtype: np.dtype | type, *, name: str = "X") -> None:
    """A ``ValueError`` when finite host data ``X`` exceeds the range of ``dtype``.

    Values beyond the largest float of ``dtype`` would become inf when cast; the message
    gives the largest magnitude, the range, and the fix (64-bit mode, or rescaling).

    Args:
        X: Finite numeric data.
        dtype: The floating dtype the data will be cast to.
        name: How the data is called in the message.

    Raises:
        ValueError: If some value of ``X`` is beyond ``dtype``'s range.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._validation import check_representable
        >>> check_representable(np.array([[1e30]]), np.float32)
        >>> check_representable(np.array([[1e300]]), np.float32)
        Traceback (most recent call last):
        ...
        ValueError: X holds values up to 1e+300, beyond float32's range (3.4e+38); enable 64-bit mode with jax.config.update('jax_enable_x64', True) or rescale the data
    """
    dtype = np.dtype(dtype)
    if X.size == 0 or not np.issubdtype(X.dtype, np.floating) or X.dtype.itemsize <= dtype.itemsize:
        return  # integers of up to 64 bits are within float32's range
    largest = float(np.max(np.abs(X)))
    limit = float(np.finfo(dtype).max)
    if largest > limit:
        fix = f"{X64_HINT} or rescale the data" if dtype == np.float32 else "rescale the data"
        raise ValueError(
            f"{name} holds values up to {largest:.2g}, beyond {dtype.name}'s range "
            f"({limit:.2g}); {fix}"
        )


def _resolution_error(
    name: str, columns: np.ndarray, original: np.ndarray, dtype: np.dtype
) -> ValueError:
    """The error for columns that vary in ``original`` but are constant in ``dtype``."""
    first = original[:, columns[0]]
    magnitude = float(np.max(np.abs(first)))
    step = float(np.spacing(dtype.type(magnitude)))
    spread = float(np.max(first) - np.min(first))
    return ValueError(
        f"{name} has column(s) {columns.tolist()} whose spread {dtype.name} cannot resolve at "
        f"their magnitude (column {columns[0]} spans {spread:.2g} around {magnitude:.2g}, "
        f"where {dtype.name} values are {step:.2g} apart): in {dtype.name} they would be "
        f"constant; centre the data (subtract each column's mean) or {X64_HINT}"
    )


def as_data_matrix(
    X: ArrayLike,
    *,
    name: str = "X",
    min_rows: int = 2,
    n_dims: int | None = None,
    check_constant: bool = True,
) -> Array:
    """Validate a data matrix of shape ``(n_samples, n_dims)`` and return it as a JAX array.

    Host data is checked and cast by :func:`as_host_matrix` (to :func:`data_dtype`:
    ``float16`` is upcast to ``float32``, and data the cast would spoil is refused); JAX
    arrays keep a floating dtype of at least 32 bits.

    Args:
        X: The data.
        name: How the data is called in error messages.
        min_rows: Fewest rows accepted.
        n_dims: Required number of columns, if any.
        check_constant: Reject columns whose values are all equal.

    Raises:
        ValueError: If the data is not numeric, not 2-D, too small, holds NaN or inf, has
            the wrong number of columns, exceeds the range or resolution of the dtype
            computed in, or (with ``check_constant``) has a constant column.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._validation import as_data_matrix
        >>> as_data_matrix(np.ones((3, 2), np.float16), check_constant=False).dtype
        dtype('float32')
    """
    if not isinstance(X, jax.Array):
        host = as_host_matrix(
            X, name=name, min_rows=min_rows, n_dims=n_dims, check_constant=check_constant
        )
        # device_put copies host data without compiling anything (jnp.asarray would
        # compile a small staging function for every new shape).
        return jax.device_put(host)
    arr = X
    if not jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.complexfloating):
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if not jnp.issubdtype(arr.dtype, jnp.floating):
        arr = arr.astype(float)
    elif arr.dtype.itemsize < 4:  # float16, bfloat16: too coarse for the fits
        arr = arr.astype(jnp.float32)
    _check_matrix(arr, jnp, name=name, min_rows=min_rows, n_dims=n_dims)
    if check_constant:
        _check_spread(arr, arr, jnp, name)
    return arr


def as_host_matrix(
    X: ArrayLike,
    *,
    name: str = "X",
    min_rows: int = 2,
    n_dims: int | None = None,
    check_constant: bool = True,
) -> np.ndarray:
    """:func:`as_data_matrix` for data on the host: a NumPy array in :func:`data_dtype`.

    Everything is checked with NumPy (no compilation, no device round trip), on the data
    as given, before the cast: values beyond the range of the compute dtype, and columns
    that vary but would be constant once cast, are refused with a message that names the
    precision and how to switch JAX to 64-bit.

    Raises:
        ValueError: As :func:`as_data_matrix`.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._validation import as_host_matrix
        >>> as_host_matrix([[0, 1], [2, 3]]).dtype.kind
        'f'
    """
    try:
        arr = np.asarray(X)
    except Exception as err:  # ragged lists and the like
        raise ValueError(f"{name} could not be read as a numeric array: {err}") from None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    _check_matrix(arr, np, name=name, min_rows=min_rows, n_dims=n_dims)
    dtype = data_dtype(arr.dtype)
    check_representable(arr, dtype, name=name)
    cast = arr.astype(dtype, copy=False)
    if check_constant:
        _check_spread(cast, arr, np, name)
    return cast


def _check_matrix(arr, xp, *, name: str, min_rows: int, n_dims: int | None) -> None:
    """Shape and finiteness of a data matrix (``xp`` is NumPy or ``jax.numpy``)."""
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


def _check_spread(arr, original, xp, name: str) -> None:
    """Refuse constant columns of ``arr``, naming precision where the cast made them so."""
    spread = xp.max(arr, axis=0) - xp.min(arr, axis=0)
    constant = np.flatnonzero(np.asarray(spread) == 0)
    if not constant.size:
        return
    if original is not arr:
        lost = constant[np.ptp(original[:, constant], axis=0) > 0]
        if lost.size:
            raise _resolution_error(name, lost, original, arr.dtype)
    raise ValueError(
        f"{name} has constant column(s) {constant.tolist()}: a density needs spread in "
        "every dimension (drop the column or add noise)"
    )


def check_int(name: str, value: object, *, least: int = 1) -> int:
    """``value`` as a Python ``int`` if it is an integer (not a bool) of at least ``least``.

    Every integer option of the library goes through this check, so NumPy integers
    (``np.int64`` from ``np.arange``, as ``GridSearchCV`` grids give them) are accepted and
    become plain ``int`` before they reach JAX, while bools and floats (even ``2.0``) are
    refused by name.

    Args:
        name: How the setting is called in the error message.
        value: The setting.
        least: Smallest accepted value.

    Raises:
        ValueError: If ``value`` is not such an integer.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._validation import check_int
        >>> check_int("n_layers", 4), type(check_int("n_layers", np.int64(4)))
        (4, <class 'int'>)
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        kind = "a positive integer" if least == 1 else f"an integer >= {least}"
        raise ValueError(f"{name} must be {kind}; got {value!r}")
    return int(value)


def plain_int(value: object) -> object:
    """A NumPy integer as a Python ``int``; anything else as it is.

    The converter of integer fields of equinox modules, whose ``__check_init__`` then
    applies :func:`check_int`: static fields must be hashable Python values, and a NumPy
    scalar there is taken for an array.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._validation import plain_int
        >>> type(plain_int(np.int64(3))), plain_int(2.5)
        (<class 'int'>, 2.5)
    """
    return int(value) if isinstance(value, np.integer) else value


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
