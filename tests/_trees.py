"""Pytree helpers shared by the tests."""

import equinox as eqx
import jax


def cast(tree, dtype):
    """Cast every floating array leaf of a pytree to ``dtype``."""
    return jax.tree.map(lambda a: a.astype(dtype) if eqx.is_inexact_array(a) else a, tree)
