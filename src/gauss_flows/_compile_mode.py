"""How compiled training steps are traced and compiled on CPU: the one compile-mode switch.

XLA's CPU backend hands small reductions to YNNPACK by default. A Gaussianization flow's
training step holds many small reductions, for which XLA's own fused loops are faster, so
:mod:`gauss_flows.train` compiles its steps with YNNPACK fusions off
(:func:`training_compiler_options`) and traces them inside :func:`native_reductions`.
Inside that context the layers write their derivatives in the broadcast-and-sum form that
suits XLA's own loops; outside it (any user code, e.g. a hand-written Python loop of
jitted steps) they write contractions, which suit YNNPACK. Both forms compute the same
values. The measurements behind this choice are in ``docs/design.md``.

This module depends on nothing else in the package, so layers and trainers can share it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator

import jax

__all__ = ["native_reductions", "native_reductions_enabled", "training_compiler_options"]

_NATIVE_REDUCTIONS: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "gauss_flows_native_reductions", default=False
)

# The XLA flag that turns YNNPACK fusions off on CPU.
_CPU_COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": ""}


@contextlib.contextmanager
def native_reductions(enabled: bool = True) -> Iterator[None]:
    """Trace layer derivatives for XLA's own reduction loops (no YNNPACK fusions).

    Only the form of the traced derivative changes, not its value.

    Args:
        enabled: Whether the context switches the native form on.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from gauss_flows.bijections.mixture_cdf import mixture_gaussianize
        >>> from gauss_flows._compile_mode import native_reductions
        >>> f = lambda m: mixture_gaussianize(0.3, jnp.zeros(2), m, jnp.zeros(2))[0]
        >>> with native_reductions():
        ...     g = jax.grad(f)(jnp.array([0.0, 1.0]))
        >>> bool(jnp.allclose(g, jax.grad(f)(jnp.array([0.0, 1.0]))))
        True
    """
    token = _NATIVE_REDUCTIONS.set(enabled)
    try:
        yield
    finally:
        _NATIVE_REDUCTIONS.reset(token)


def native_reductions_enabled() -> bool:
    """Whether code is being traced inside :func:`native_reductions`.

    Example:
        >>> from gauss_flows._compile_mode import native_reductions, native_reductions_enabled
        >>> with native_reductions():
        ...     native_reductions_enabled()
        True
    """
    return _NATIVE_REDUCTIONS.get()


@functools.cache
def training_compiler_options() -> dict:
    """XLA options for compiled training steps: YNNPACK fusions off on CPU, if XLA knows it.

    Empty on other backends, and on an XLA that does not know the flag.

    Example:
        >>> from gauss_flows._compile_mode import training_compiler_options
        >>> isinstance(training_compiler_options(), dict)
        True
    """
    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=_CPU_COMPILER_OPTIONS).lower(1.0).compile()
    except Exception:  # noqa: BLE001 - an XLA without the flag keeps its defaults
        return {}
    return dict(_CPU_COMPILER_OPTIONS)
