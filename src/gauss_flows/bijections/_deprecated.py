"""Deprecated layer names, kept for one release: alias classes and their warning.

An alias class builds the new class from the former constructor; its metaclass makes
``isinstance`` and ``issubclass`` against the alias test the new class, so code that checks
types by the former name keeps working while it warns.

Example:
    >>> import warnings
    >>> import gauss_flows as gf
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", DeprecationWarning)
    ...     old = gf.MixtureCDFGaussianization
    >>> isinstance(gf.MixtureGaussianCDF.identity(n_dims=2, n_components=2), old)
    True

References:
    Python's warnings module, ``DeprecationWarning``: https://docs.python.org/3/library/warnings.html
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping


class AliasMeta(type):
    """Metaclass of a deprecated alias class whose ``target`` is the class it stands for."""

    target: type

    def __instancecheck__(cls, instance: object) -> bool:
        return isinstance(instance, cls.target)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, cls.target)


def resolve(
    module: str, aliases: Mapping[str, tuple[object, str]], name: str, stacklevel: int = 2
) -> object:
    """The deprecated alias ``name`` of ``module``, with a ``DeprecationWarning``.

    Args:
        module: The module's ``__name__`` (for the error of an unknown name).
        aliases: Deprecated name -> (the alias, what to use instead).
        name: The name looked up.
        stacklevel: Frames above the caller that the warning points at.

    Raises:
        AttributeError: If ``name`` is no deprecated alias of the module.
    """
    if name not in aliases:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    alias, advice = aliases[name]
    warnings.warn(
        f"{name} is deprecated and will be removed in the next release; use {advice}",
        DeprecationWarning,
        stacklevel=stacklevel + 1,
    )
    return alias
