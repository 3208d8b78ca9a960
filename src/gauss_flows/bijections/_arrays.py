"""Small array helpers shared by the layers."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike


def as_float_array(a: ArrayLike) -> Array:
    """``a`` as a JAX array, keeping a floating dtype and promoting anything else to float."""
    a = jnp.asarray(a)
    return a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(float)
