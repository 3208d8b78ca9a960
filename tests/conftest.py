"""Test configuration: float64 is enabled so exactness checks can run; float32 tests cast.

The suite compiles thousands of small XLA programs and runs each for milliseconds, so its
time goes to compilation. Unless ``XLA_FLAGS`` is already set, the CPU backend is asked for
its cheapest code generation (no expensive LLVM passes); the arithmetic the tests check is
the same, and setting ``XLA_FLAGS`` (even to an empty string) restores the defaults.
"""

import os

os.environ.setdefault(
    "XLA_FLAGS", "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
)

import jax  # noqa: E402  (XLA reads its flags when the backend starts)
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module.

    XLA's CPU backend maps every compiled program's code into memory in many small
    regions; a whole test run compiles enough programs to reach Linux's default limit of
    65,530 memory maps per process, where the next compilation crashes the interpreter.
    """
    yield
    jax.clear_caches()
