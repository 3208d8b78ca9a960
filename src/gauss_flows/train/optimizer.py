"""The default optimiser of :func:`~gauss_flows.train.train_flow`.

Global-norm gradient clipping followed by Adam on a one-cycle cosine learning-rate
schedule. ``train_flow`` builds it from ``(steps, peak_lr, clip_norm, warmup)``, or takes
any other optax ``GradientTransformation`` through its ``optimizer`` argument.

References:
    Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
    Smith, L. N. (2018). A disciplined approach to neural network hyper-parameters:
    part 1 -- learning rate, batch size, momentum, and weight decay. arXiv:1803.09820.
    Pascanu, R., Mikolov, T. & Bengio, Y. (2013). On the difficulty of training recurrent
    neural networks. ICML.

Example:
    >>> from gauss_flows.train import default_optimizer
    >>> optimizer = default_optimizer(steps=100, peak_lr=1e-3)
"""

from __future__ import annotations

import optax

__all__ = ["default_optimizer"]


def default_optimizer(
    steps: int, peak_lr: float, clip_norm: float = 1.0, warmup: float = 0.3
) -> optax.GradientTransformation:
    """Global-norm clipping, then Adam on a one-cycle cosine learning-rate schedule.

    The learning rate rises from ``peak_lr / 25`` to ``peak_lr`` over the first ``warmup``
    fraction of the steps (optax's ``pct_start``), then falls to ``peak_lr / 25e4`` by a
    cosine (:func:`optax.cosine_onecycle_schedule`). Before every update the gradients
    are scaled down to a global norm of at most ``clip_norm``.

    Args:
        steps: Number of gradient steps the schedule spans.
        peak_lr: Peak learning rate.
        clip_norm: Largest global gradient norm passed on to Adam.
        warmup: Fraction of ``steps`` over which the learning rate rises to ``peak_lr``.

    Returns:
        The optax ``GradientTransformation``.

    References:
        Kingma, D. P. & Ba, J. (2015). Adam: a method for stochastic optimization. ICLR.
        Smith, L. N. (2018). A disciplined approach to neural network hyper-parameters:
        part 1. arXiv:1803.09820.

    Example:
        >>> import jax.numpy as jnp
        >>> from gauss_flows.train import default_optimizer
        >>> optimizer = default_optimizer(steps=3000, peak_lr=1e-3, clip_norm=1.0)
        >>> state = optimizer.init({"w": jnp.zeros(3)})
    """
    schedule = optax.cosine_onecycle_schedule(
        transition_steps=steps, peak_value=peak_lr, pct_start=warmup
    )
    return optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(schedule))
