"""Small array helpers shared by the layers and the fits."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike


def as_float_array(a: ArrayLike) -> Array:
    """``a`` as a JAX array, keeping a floating dtype and promoting anything else to float."""
    if isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating):
        # device_put copies without compiling anything (jnp.asarray compiles a small
        # staging function per shape the first time it sees one).
        return jax.device_put(a.astype(jax.dtypes.canonicalize_dtype(a.dtype), copy=False))
    a = jnp.asarray(a)
    return a if jnp.issubdtype(a.dtype, jnp.floating) else a.astype(float)


def on_single_cpu(a: object) -> bool:
    """Whether ``a`` is a concrete JAX array held whole by one CPU device.

    Such an array can be read by NumPy without a copy, so small host-side steps on it are
    done in NumPy rather than compiled.
    """
    if not isinstance(a, jax.Array) or isinstance(a, jax.core.Tracer):
        return False
    devices = a.devices()
    return len(devices) == 1 and next(iter(devices)).platform == "cpu"


def broadcast_float_arrays(*arrays: ArrayLike) -> list[Array]:
    """The arrays as float JAX arrays (:func:`as_float_array`) broadcast to one shape."""
    arrays = [as_float_array(a) for a in arrays]
    if len({a.shape for a in arrays}) == 1:
        return arrays  # nothing to broadcast (and nothing to compile)
    return jnp.broadcast_arrays(*arrays)
