"""The greedy fit's depth rule: after each block, whether to stop and how many blocks to keep."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class DepthDecision(NamedTuple):
    """What the depth rule decided after the blocks fitted so far."""

    stop: bool  #: Whether the greedy fit adds no more blocks.
    keep: int  #: How many of the blocks so far the flow keeps (all of them while going on).


def depth_decision(
    gains: Sequence[float],
    held_out: Sequence[float] | None,
    *,
    n_layers: int | None,
    tol: float,
    patience: int,
    max_layers: int,
) -> DepthDecision:
    """Whether the greedy fit stops after ``len(gains)`` blocks, and how many it keeps.

    The greedy fit's steps are layers (blocks), so ``patience`` counts blocks in a row.

    * ``n_layers`` given: go on until there are ``n_layers`` blocks, and keep them all.
    * With held-out log-likelihoods: stop once the best of them is ``patience`` or more
      blocks old, or at ``max_layers`` blocks, keeping the blocks up to the best
      (``argmax``, the first if tied) but at least one.
    * Otherwise: stop once the last ``patience`` gains are all below ``tol``, keeping the
      blocks up to the last one whose gain reached ``tol`` (at least one); or at
      ``max_layers`` blocks, keeping them all.

    Args:
        gains: Each block's gain in mean log-likelihood (nats), in order.
        held_out: The held-out mean log-likelihood of the flow with 0, 1, ...,
            ``len(gains)`` blocks (one more entry than ``gains``), or ``None``.
        n_layers: The fixed depth, or ``None`` to choose it.
        tol: Smallest useful gain per block (nats).
        patience: Blocks in a row without progress before stopping.
        max_layers: Most blocks when ``n_layers`` is ``None``.

    Raises:
        ValueError: If ``held_out`` does not have one entry more than ``gains``.

    Example:
        >>> from gauss_flows.fit.depth import depth_decision
        >>> depth_decision([0.5, 0.2, 0.01, 0.02], None, n_layers=None, tol=0.05,
        ...                patience=2, max_layers=100)
        DepthDecision(stop=True, keep=2)
        >>> depth_decision([0.5, 0.2], [-3.0, -2.6, -2.7], n_layers=None, tol=0.05,
        ...                patience=2, max_layers=100)
        DepthDecision(stop=False, keep=2)
    """
    depth = len(gains)
    if held_out is not None and len(held_out) != depth + 1:
        raise ValueError(
            f"held_out needs one entry more than gains (the flow with no block first); "
            f"got {len(held_out)} for {depth} gains"
        )
    if n_layers is not None:
        return DepthDecision(depth >= n_layers, depth)
    if held_out is not None:
        best = int(np.argmax(held_out))
        if depth - best >= patience or depth >= max_layers:
            return DepthDecision(True, max(best, 1))
    elif depth >= patience and max(gains[-patience:]) < tol:
        useful = [i for i, gain in enumerate(gains) if gain >= tol]
        return DepthDecision(True, (useful[-1] + 1) if useful else 1)
    return DepthDecision(depth >= max_layers, depth)


def noise_gain(
    n_dims: int, n_components: int, n_rows: int, *, free_parameters: int | None = None
) -> float:
    """The gain a ``K``-component fit finds in pure Gaussian noise: ``d (3K − 1) / (2n)``.

    Each dimension's mixture has ``3K − 1`` free parameters, and each free parameter
    raises the in-sample mean log-likelihood by about ``1/(2n)`` on data it cannot
    improve; this is the greedy fit's default ``tol``. Other marginal families give
    their own count per dimension as ``free_parameters``.

    Example:
        >>> from gauss_flows.fit.depth import noise_gain
        >>> noise_gain(2, 8, 1000)
        0.023
    """
    per_dim = 3 * n_components - 1 if free_parameters is None else free_parameters
    return n_dims * per_dim / (2 * n_rows)
