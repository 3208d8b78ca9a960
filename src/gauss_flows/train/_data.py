"""What ``train_flow`` makes of its data and filters before the loop runs.

The monitored data sets (``val_data``) as named, checked arrays; the input noise as one
absolute standard deviation per column; the sharding of minibatches drawn from a
row-sharded ``X``; and the split of the flow into trained arrays and the rest.

References:
    Bishop, C. M. (1995). Training with noise is equivalent to Tikhonov regularization.
    Neural Computation 7(1), 108-116.

Example:
    >>> import jax.numpy as jnp
    >>> from gauss_flows.train._data import monitored_data
    >>> X = jnp.zeros((4, 2))
    >>> list(monitored_data(X[:2], X)), list(monitored_data({"a": X, "b": X}, X))
    (['val_data'], ['a', 'b'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import Array, ArrayLike, PyTree

from gauss_flows._validation import as_data_matrix

__all__ = ["monitored_data", "noise_per_column", "row_sharding", "split_trainable"]


def monitored_data(
    val_data: ArrayLike | Mapping[str, ArrayLike] | None,
    X: Array,
    condition: Array | None = None,
) -> dict[str, Array | tuple[Array, Array]]:
    """``val_data`` as named data sets, each checked against ``X`` and cast to its dtype.

    Empty without ``val_data``; a single array is named ``"val_data"``.

    Args:
        val_data: ``None``, one data set, or a mapping of names to data sets.
        X: The (checked) training data.
        condition: The (checked) training conditions of a conditional flow; each data set
            is then a pair ``(X_v, Y_v)`` of rows and their conditions.

    Returns:
        A dict of names to arrays with ``X``'s columns and dtype (pairs of arrays for a
        conditional flow), in the given order.

    Raises:
        ValueError: For an empty mapping, a name that is not a string, or a data set
            that is not a finite matrix with ``X``'s number of columns.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.train._data import monitored_data
        >>> monitored_data(None, jnp.zeros((3, 2)))
        {}
    """
    if val_data is None:
        return {}
    if condition is not None:
        return _monitored_pairs(val_data, X, condition)
    single = not isinstance(val_data, Mapping)
    if single:
        val_data = {"val_data": val_data}
    elif not val_data:
        raise ValueError("val_data is an empty mapping; give at least one data set")
    checked = {}
    for name, data in val_data.items():
        if not isinstance(name, str):
            raise ValueError(f"val_data's names must be strings; got {name!r}")
        label = name if single else f"val_data[{name!r}]"
        checked[name] = as_data_matrix(
            data, name=label, n_dims=X.shape[1], min_rows=1, check_constant=False
        ).astype(X.dtype)
    return checked


def _monitored_pairs(val_data, X: Array, condition: Array) -> dict[str, tuple[Array, Array]]:
    """Held-out ``(rows, conditions)`` pairs of a conditional flow, checked and named."""
    from gauss_flows._conditions import as_condition_matrix

    named = val_data if isinstance(val_data, Mapping) else {"val_data": val_data}
    if not named:
        raise ValueError("val_data is an empty mapping; give at least one data set")
    checked = {}
    for name, pair in named.items():
        label = "val_data" if named is not val_data else f"val_data[{name!r}]"
        if not isinstance(name, str):
            raise ValueError(f"val_data's names must be strings; got {name!r}")
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(
                f"{label} of a conditional flow must be a pair (X_val, condition_val); "
                f"got {type(pair).__name__}"
            )
        rows = as_data_matrix(
            pair[0], name=label, n_dims=X.shape[1], min_rows=1, check_constant=False
        ).astype(X.dtype)
        conds = as_condition_matrix(
            pair[1], n_rows=rows.shape[0], cond_dim=condition.shape[1], name=f"{label} condition"
        ).astype(X.dtype)
        checked[name] = (rows, conds)
    return checked


def noise_per_column(
    noise: ArrayLike, X: Array, *, relative: bool = True, name: str = "noise"
) -> Array | None:
    """The absolute noise standard deviation of every column, or ``None`` for no noise.

    Args:
        noise: A non-negative scalar or one value per column.
        X: The (checked) training data.
        relative: Whether ``noise`` is a share of each column's standard deviation in
            ``X`` (else it is absolute).
        name: How ``noise`` is called in error messages.

    Returns:
        An array of shape ``(n_dims,)`` in ``X``'s dtype, or ``None`` when ``noise`` is
        zero everywhere.

    Raises:
        ValueError: If ``noise`` is not numeric, negative, not finite, or has the wrong
            length.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.train._data import noise_per_column
        >>> X = jnp.array([[0.0, 0.0], [2.0, 20.0]])
        >>> noise_per_column(0.5, X).tolist()
        [0.5, 5.0]
        >>> noise_per_column(0.0, X) is None
        True
    """
    try:
        values = np.asarray(noise, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers; got {noise!r}") from None
    n_dims = X.shape[1]
    if values.ndim > 1 or (values.ndim == 1 and values.shape[0] != n_dims):
        raise ValueError(
            f"{name} must be a scalar or have one value per column ({n_dims}); "
            f"got shape {values.shape}"
        )
    if not (np.all(np.isfinite(values)) and np.all(values >= 0)):
        raise ValueError(f"{name} must be finite and non-negative; got {noise!r}")
    if not np.any(values):
        return None
    noise_std = jnp.broadcast_to(jnp.asarray(values, X.dtype), (n_dims,))
    return noise_std * jnp.std(X, axis=0) if relative else noise_std


def row_sharding(X: ArrayLike, batch: int) -> NamedSharding | None:
    """The sharding to give each minibatch when ``X``'s rows are split across devices.

    ``None`` unless ``X`` is a JAX array whose rows are split over more than one device
    by a ``NamedSharding``, and ``batch`` rows divide evenly among them.

    Args:
        X: The training data.
        batch: Minibatch size.

    Returns:
        The rows-split ``NamedSharding`` for minibatches, or ``None``.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.train._data import row_sharding
        >>> row_sharding(jnp.zeros((8, 2)), 4) is None
        True
    """
    if not isinstance(X, jax.Array):
        return None
    sharding = X.sharding
    if not isinstance(sharding, NamedSharding) or not sharding.spec or sharding.spec[0] is None:
        return None
    rows = sharding.spec[0]
    axes = rows if isinstance(rows, tuple) else (rows,)
    n_shards = math.prod(sharding.mesh.shape[a] for a in axes)
    if n_shards == 1 or batch % n_shards:
        return None
    return NamedSharding(sharding.mesh, PartitionSpec(rows, None))


def split_trainable(
    flow: PyTree, trainable: Callable[[Any], bool] | PyTree[bool] | None
) -> tuple[PyTree, PyTree]:
    """``(params, rest)``: the inexact arrays that ``trainable`` selects, and the others.

    Args:
        flow: The flow.
        trainable: ``eqx.partition``'s ``filter_spec`` (a callable on leaves, or a
            pytree of bools with the flow's structure or a prefix of it); ``None``
            selects every inexact array.

    Returns:
        Two pytrees of the flow's structure that ``eqx.combine`` joins into the flow.

    Raises:
        ValueError: If ``trainable`` does not match the flow, or selects no inexact
            array.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.train._data import split_trainable
        >>> params, rest = split_trainable({"a": jnp.ones(2), "b": jnp.arange(2)}, None)
        >>> params["b"] is None, rest["a"] is None
        (True, True)
    """
    if trainable is None:
        return eqx.partition(flow, eqx.is_inexact_array)
    try:
        chosen, rest = eqx.partition(flow, trainable)
    except ValueError as error:  # a pytree of bools that does not match the flow
        raise ValueError(
            f"trainable must be a filter matching the flow's structure: {error}"
        ) from None
    params, fixed = eqx.partition(chosen, eqx.is_inexact_array)
    if not jax.tree.leaves(params):
        raise ValueError("trainable selects no inexact array of the flow: nothing to train")
    return params, eqx.combine(rest, fixed)
