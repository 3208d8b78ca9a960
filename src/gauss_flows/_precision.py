"""JAX's float width (its 64-bit mode) as the estimator records and restores it.

JAX computes in 32 bits unless ``jax_enable_x64`` is set, and the setting belongs to a
process: the workers that joblib starts for ``GridSearchCV(..., n_jobs=2)`` begin in
32-bit mode whatever their parent uses. The scikit-learn estimator records the mode in
its pickled state and runs its methods under :func:`float_mode` of that mode, so a
worker fits and scores as its parent would.

Example:
    >>> import jax
    >>> from gauss_flows._precision import float_mode, x64_enabled
    >>> before = x64_enabled()
    >>> with float_mode(not before):
    ...     x64_enabled() != before
    True
    >>> x64_enabled() == before
    True

References:
    JAX documentation, "Double (64-bit) precision" (the ``jax_enable_x64`` option).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax

__all__ = ["float_mode", "x64_enabled"]


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on in this process.

    Example:
        >>> from gauss_flows._precision import x64_enabled
        >>> isinstance(x64_enabled(), bool)
        True
    """
    return bool(jax.config.jax_enable_x64)


@contextlib.contextmanager
def float_mode(x64: bool) -> Iterator[None]:
    """Run the ``with`` block in JAX's 64-bit mode (``x64=True``) or 32-bit mode.

    The process's own setting is restored afterwards. When it already is ``x64`` nothing
    changes; otherwise the setting is switched for the whole process while the block
    runs (it is a process-wide option), which is what an estimator pickled in another
    mode needs.

    Args:
        x64: The mode to run in.

    Example:
        >>> from gauss_flows._precision import float_mode, x64_enabled
        >>> with float_mode(True):
        ...     x64_enabled()
        True
    """
    before = x64_enabled()
    if before == bool(x64):
        yield
        return
    jax.config.update("jax_enable_x64", bool(x64))
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)
