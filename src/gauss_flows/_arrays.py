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


def column_moments(X: ArrayLike) -> tuple[Array, Array]:
    """Column means and standard deviations, finite for every finite column.

    The plain moments are used where they are finite and positive. Where the squares of
    the standard deviation overflow or underflow the dtype (columns spread beyond about
    ``1e19`` or below ``1e-19`` in float32, whose moments come out inf or 0), both are
    computed from the column divided by its largest magnitude and scaled back. NumPy data
    get NumPy moments (the scaled ones only where needed); JAX arrays, traced ones
    included, get JAX moments.

    Args:
        X: Data, shape ``(n_samples, n_dims)``, finite.

    Returns:
        ``(loc, scale)``, each of shape ``(n_dims,)`` in ``X``'s dtype; a constant column
        has scale 0.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._arrays import column_moments
        >>> X = np.array([[1e20, 0.0], [3e20, 2.0]], np.float32)  # X.std() overflows
        >>> loc, scale = column_moments(X)
        >>> np.round(scale / [1e20, 1.0], 3).tolist()
        [1.0, 1.0]
    """
    xp = np if isinstance(X, np.ndarray) else jnp
    with np.errstate(over="ignore", under="ignore"):  # such columns are redone below
        loc, scale = xp.mean(X, axis=0), xp.std(X, axis=0)
    usable = xp.isfinite(loc) & xp.isfinite(scale) & (scale > 0)
    if xp is np and bool(np.all(usable)):
        return loc, scale
    bound = xp.max(xp.abs(X), axis=0)
    bound = xp.where(bound > 0, bound, xp.ones_like(bound))
    unit = X / bound
    scaled_loc = bound * xp.mean(unit, axis=0)
    scaled_scale = bound * xp.std(unit, axis=0)
    return xp.where(usable, loc, scaled_loc), xp.where(usable, scale, scaled_scale)
