"""Test configuration: float64 is enabled so exactness checks can run; float32 tests cast."""

import jax
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
