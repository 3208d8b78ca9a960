r"""The divergence :math:`\operatorname{tr}(\partial f / \partial x)` of a vector field.

The exact divergence costs one Jacobian-vector product per dimension; Hutchinson's
estimator :math:`\operatorname{tr}(A) = \mathbb{E}[\varepsilon^\top A \varepsilon]` costs one
per probe, whatever the dimension, and is unbiased for probes of identity covariance
(Rademacher probes have the smaller variance, :math:`2(\|A\|_F^2 - \sum_i A_{ii}^2)`
against :math:`2\|A\|_F^2` for Gaussian ones).

Example:
    >>> import jax.numpy as jnp
    >>> from gauss_flows.continuous.divergence import exact_divergence
    >>> float(exact_divergence(lambda t, x, c: 2.0 * x, 0.0, jnp.ones(3), None))
    6.0

References:
    Hutchinson, M. F. (1989). A stochastic estimator of the trace of the influence matrix
    for Laplacian smoothing splines. Communications in Statistics.
    Grathwohl, W. et al. (2019). FFJORD: free-form continuous dynamics for scalable
    reversible generative models. ICLR.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, ArrayLike, PRNGKeyArray

from gauss_flows._validation import check_int

__all__ = [
    "PROBE_DISTRIBUTIONS",
    "exact_divergence",
    "hutchinson_divergence",
    "probes",
    "value_and_exact_divergence",
    "value_and_hutchinson_divergence",
]

#: The probe distributions of Hutchinson's estimator (both of identity covariance).
PROBE_DISTRIBUTIONS = ("rademacher", "normal")


def probes(key: PRNGKeyArray, n_samples: int, n_dims: int, distribution: str, dtype) -> Array:
    """``n_samples`` probe vectors of dimension ``n_dims``, shape ``(n_samples, n_dims)``.

    Raises:
        ValueError: For an unknown ``distribution`` or a non-positive ``n_samples``.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.continuous.divergence import probes
        >>> sorted(set(probes(jr.key(0), 4, 3, "rademacher", jnp.float32).ravel().tolist()))
        [-1.0, 1.0]
    """
    n_samples = check_int("n_samples", n_samples)
    if distribution == "rademacher":
        return jr.rademacher(key, (n_samples, n_dims), dtype=dtype)
    if distribution == "normal":
        return jr.normal(key, (n_samples, n_dims), dtype=dtype)
    raise ValueError(
        f"probe distribution must be one of {', '.join(PROBE_DISTRIBUTIONS)}; got {distribution!r}"
    )


def value_and_exact_divergence(fn: Callable[[Array], Array], x: Array) -> tuple[Array, Array]:
    """``(fn(x), tr(∂fn/∂x))``: one linearisation, one JVP per dimension."""
    value, linear = jax.linearize(fn, x)
    basis = jnp.eye(x.shape[0], dtype=x.dtype)
    columns = jax.vmap(linear)(basis)  # row i is J e_i
    return value, jnp.trace(columns)


def value_and_hutchinson_divergence(
    fn: Callable[[Array], Array], x: Array, eps: Array
) -> tuple[Array, Array]:
    """``(fn(x), mean_k ε_kᵀ (∂fn/∂x) ε_k)`` for the probes ``eps`` of shape ``(n, d)``."""
    value, linear = jax.linearize(fn, x)
    products = jax.vmap(linear)(eps)
    return value, jnp.mean(jnp.sum(products * eps, axis=-1))


def exact_divergence(vf: Callable, t: ArrayLike, x: ArrayLike, condition: Array | None) -> Array:
    """The exact divergence ``tr(∂vf(t, x, condition)/∂x)`` at one point ``x`` of shape ``(d,)``.

    Args:
        vf: A vector field called as ``vf(t, x, condition)``.
        t: The time.
        x: The point, shape ``(d,)``.
        condition: Passed through to ``vf``.

    Returns:
        The scalar trace of the Jacobian.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.continuous.divergence import exact_divergence
        >>> A = jnp.array([[1.0, 2.0], [3.0, 4.0]])
        >>> float(exact_divergence(lambda t, x, c: A @ x, 0.0, jnp.zeros(2), None))
        5.0
    """
    x = _point(x)
    return value_and_exact_divergence(lambda y: vf(t, y, condition), x)[1]


def hutchinson_divergence(
    vf: Callable,
    t: ArrayLike,
    x: ArrayLike,
    condition: Array | None,
    *,
    key: PRNGKeyArray,
    n_samples: int = 1,
    distribution: str = "rademacher",
) -> Array:
    """Hutchinson's unbiased estimate of ``tr(∂vf(t, x, condition)/∂x)`` from ``n_samples`` probes.

    Args:
        vf: A vector field called as ``vf(t, x, condition)``.
        t: The time.
        x: The point, shape ``(d,)``.
        condition: Passed through to ``vf``.
        key: Key of the probes.
        n_samples: Number of probes averaged.
        distribution: ``"rademacher"`` (±1 entries) or ``"normal"``.

    Returns:
        The scalar estimate.

    Example:
        >>> import jax.numpy as jnp
        >>> import jax.random as jr
        >>> from gauss_flows.continuous.divergence import hutchinson_divergence
        >>> f = lambda t, x, c: 3.0 * x  # J = 3 I: every Rademacher probe is exact
        >>> float(hutchinson_divergence(f, 0.0, jnp.zeros(4), None, key=jr.key(0)))
        12.0
    """
    x = _point(x)
    eps = probes(key, n_samples, x.shape[0], distribution, x.dtype)
    return value_and_hutchinson_divergence(lambda y: vf(t, y, condition), x, eps)[1]


def _point(x: ArrayLike) -> Array:
    x = jnp.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"the divergence is taken at one point of shape (d,); got shape {x.shape}")
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(float)
