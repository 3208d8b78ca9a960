"""Conditional entropy ``H(X | Y)`` from a fitted conditional flow."""

from __future__ import annotations

import jax.random as jr
import numpy as np
from flowjax.distributions import AbstractDistribution
from jaxtyping import ArrayLike

from gauss_flows._conditions import as_condition_matrix
from gauss_flows._validation import as_data_matrix, check_random_state

__all__ = ["conditional_entropy"]


def conditional_entropy(
    flow: AbstractDistribution,
    condition: ArrayLike,
    X: ArrayLike | None = None,
    *,
    random_state: int = 0,
) -> float:
    r"""The conditional entropy :math:`H(X \mid Y)` in nats, from a conditional flow.

    With ``X`` (pairs ``(X[i], condition[i])`` drawn from the joint) this is the
    cross-entropy :math:`-\frac1n \sum_i \log p(x_i \mid y_i)`, an estimate of
    :math:`H(X \mid Y)` that is above it by the expected KL divergence between the true
    conditional and the flow's. Without ``X`` it is the flow's own conditional entropy at
    the given conditions: one draw :math:`x_i \sim p(\cdot \mid y_i)` per row, scored by
    the flow (Monte Carlo over the rows).

    Args:
        flow: A conditional flow (``cond_shape`` set), e.g. from ``fit_density(X,
            condition=Y)``.
        condition: Condition rows ``Y``, shape ``(n, c)`` (or ``(n,)``).
        X: Data rows paired with ``condition``, or ``None`` to draw them from the flow.
        random_state: Integer seed of the draws (without ``X``).

    Raises:
        ValueError: For an unconditional flow, NaN/inf, or mismatched rows or columns.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> Y = rng.normal(size=(400, 1)); X = Y + 0.5 * rng.normal(size=(400, 1))
        >>> flow = gf.fit_rbig(X, condition=Y, n_layers=2, n_components=4)
        >>> bool(np.isfinite(gf.conditional_entropy(flow, Y, X)))
        True

    References:
        Cover, T. M. & Thomas, J. A. (2006). Elements of Information Theory, ch. 2 and 8.
    """
    if flow.cond_shape is None:
        raise ValueError("conditional_entropy needs a conditional flow (cond_shape set)")
    C = as_condition_matrix(condition, cond_dim=flow.cond_shape[0])
    if X is None:
        key = jr.key(check_random_state(random_state))
        X = flow.sample(key, condition=C)
    else:
        X = as_data_matrix(X, n_dims=flow.shape[0], min_rows=1, check_constant=False)
        if X.shape[0] != C.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but condition has {C.shape[0]}: give one condition per row"
            )
    return -float(np.mean(np.asarray(flow.log_prob(X, condition=C))))
