"""Test configuration: float64 is enabled so exactness checks can run; float32 tests cast."""

import jax

jax.config.update("jax_enable_x64", True)
