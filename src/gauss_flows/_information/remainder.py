"""The non-Gaussian part of dependence, by rank-based RBIG with per-block information reduction.

After the Gaussian part (``−½ log det R``) of the total correlation is removed in closed
form, what remains is the non-Gaussianity ``J(W) = KL(p_W ‖ N(0, I))`` of the whitened
normal scores ``W``. Rotation-based iterative Gaussianization (Laparra et al. 2011, 2020)
measures it as the sum over blocks of the information each block removes: rotate, measure
the marginal negentropies (bias-corrected spacing estimator), Gaussianize each dimension by
ranks, and remove any new correlation (bias-corrected closed form). Every block's estimate
is compared with the same loop run on independent Gaussian data of the same size: its mean
is subtracted and only blocks standing clear of its noise are counted.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from gauss_flows._information.entropy1d import check_spacing, negentropy, negentropy_null
from gauss_flows._information.gaussian import logdet_bias, normal_scores, whiten
from gauss_flows._information.settings import InformationSettings
from gauss_flows.fit.rotations import random_rotation


class Remainder(NamedTuple):
    """Result of the remainder estimate."""

    value: float
    """Estimated non-Gaussian part of the total correlation (nats, ≥ 0)."""
    gains: np.ndarray
    """Per-block information reduction, reference mean subtracted (nats)."""
    counted: int
    """Number of leading blocks counted in ``value``."""


def _block(w: Array, key: PRNGKeyArray, spacing: int, j_bias: Array, g_bias: Array) -> tuple[Array, Array]:
    """One rank-RBIG block on white ``w``: the next white data and the information removed."""
    d = w.shape[1]
    y = jnp.matmul(w, random_rotation(key, d, w.dtype).T, precision="highest")
    marginal = jnp.sum(negentropy(y, spacing) - j_bias)
    w_next, log_det = whiten(normal_scores(y))
    return w_next, marginal - 0.5 * log_det - g_bias


@functools.partial(jax.jit, static_argnames=("n_layers", "spacing"))
def block_gains(
    w: Float[Array, "n d"],
    key: PRNGKeyArray,
    *,
    n_layers: int,
    spacing: int,
    j_bias: float,
    g_bias: float,
) -> Float[Array, " n_layers"]:
    """Information removed by each of ``n_layers`` rank-RBIG blocks applied to white ``w``."""

    def step(w, k):
        return _block(w, k, spacing, j_bias, g_bias)

    _, gains = jax.lax.scan(step, w, jr.split(key, n_layers))
    return gains


@functools.partial(jax.jit, static_argnames=("spacing", "patience"))
def gains_until_quiet(
    w: Float[Array, "n d"],
    key: PRNGKeyArray,
    null_mean: Float[Array, " max_layers"],
    null_cut: Float[Array, " max_layers"],
    *,
    spacing: int,
    patience: int,
    j_bias: float,
    g_bias: float,
) -> tuple[Float[Array, " max_layers"], Array]:
    """Run blocks until ``patience`` in a row fail to beat ``null_mean + null_cut``.

    Returns the referenced gains (zero after the stop) and the number of blocks run.
    """
    max_layers = null_mean.shape[0]
    keys = jr.split(key, max_layers)

    def cond(state):
        _, _, b, quiet = state
        return (b < max_layers) & (quiet < patience)

    def body(state):
        w, gains, b, quiet = state
        w, gain = _block(w, keys[b], spacing, j_bias, g_bias)
        gain = gain - null_mean[b]
        quiet = jnp.where(gain > null_cut[b], 0, quiet + 1)
        return w, gains.at[b].set(gain), b + 1, quiet

    init = (w, jnp.zeros(max_layers, w.dtype), jnp.asarray(0), jnp.asarray(0))
    _, gains, ran, _ = jax.lax.while_loop(cond, body, init)
    return gains, ran


NULL_LAYERS = 8
"""Blocks simulated for the Gaussian reference; later blocks reuse the pooled tail."""


@functools.lru_cache(maxsize=64)
def null_gains(n: int, d: int, spacing: int, reps: int, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of the first blocks' gains on independent N(0, I) data of the same size.

    Beyond the first few blocks the reference is stationary (white Gaussian data in,
    white Gaussian data out), so :data:`NULL_LAYERS` are simulated and the statistics of
    blocks 3 onwards are pooled for every later block (see :func:`null_profile`).
    """
    j_bias = negentropy_null(n, spacing, dtype)[0]
    g_bias = logdet_bias(n, d)

    def one(k):
        kx, kr = jr.split(k)
        w, _ = whiten(jr.normal(kx, (n, d), jnp.dtype(dtype)))
        return block_gains(w, kr, n_layers=NULL_LAYERS, spacing=spacing, j_bias=j_bias, g_bias=g_bias)

    g = np.asarray(jax.lax.map(one, jr.split(jr.key(977), reps)))
    return g.mean(axis=0), g.std(axis=0)


def null_profile(
    n: int, d: int, spacing: int, reps: int, dtype: str, max_layers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Reference mean and spread for blocks ``0 … max_layers − 1``."""
    mean, spread = null_gains(n, d, spacing, reps, dtype)
    tail = slice(3, NULL_LAYERS)
    tail_mean, tail_spread = mean[tail].mean(), np.sqrt(np.mean(spread[tail] ** 2))
    full_mean = np.full(max_layers, tail_mean)
    full_spread = np.full(max_layers, tail_spread)
    k = min(max_layers, NULL_LAYERS)
    full_mean[:k], full_spread[:k] = mean[:k], spread[:k]
    return full_mean, full_spread


def nongaussian_remainder(
    z: Float[Array, "n d"],
    key: PRNGKeyArray,
    *,
    max_layers: int,
    spacing: int,
    threshold: float,
    patience: int,
    n_reference: int,
) -> Remainder:
    """Estimate ``KL(p_W ‖ N(0, I))`` for the whitened version ``W`` of normal scores ``z``.

    Blocks run until ``patience`` in a row do not exceed ``threshold`` reference standard
    deviations (or ``max_layers``); the counted blocks are those up to the last that did.
    """
    n, d = z.shape
    dtype = str(z.dtype)
    w, _ = whiten(z)
    mean, spread = null_profile(n, d, spacing, n_reference, dtype, max_layers)
    gains, ran = gains_until_quiet(
        w,
        key,
        jnp.asarray(mean, z.dtype),
        jnp.asarray(threshold * spread, z.dtype),
        spacing=spacing,
        patience=patience,
        j_bias=negentropy_null(n, spacing, dtype)[0],
        g_bias=logdet_bias(n, d),
    )
    gains = np.asarray(gains)[: int(ran)]
    useful = np.flatnonzero(gains > threshold * spread[: gains.size])
    counted = int(useful[-1]) + 1 if useful.size else 0
    return Remainder(float(max(gains[:counted].sum(), 0.0)), gains, counted)


def remainder_of_scores(
    z: Float[Array, "n d"], settings: InformationSettings, salt: int = 0
) -> Remainder:
    """:func:`nongaussian_remainder` of normal scores ``z`` with the given settings.

    The rotations come from ``jr.fold_in(jr.key(settings.random_state), salt)``: each
    remainder of one measurement takes its own ``salt``.

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows._information import gaussian, remainder, settings
        >>> z = gaussian.normal_scores(jr.normal(jr.key(0), (500, 2)))
        >>> result = remainder.remainder_of_scores(z, settings.InformationSettings(max_layers=4))
        >>> result.gains.shape[0] <= 4
        True
    """
    return nongaussian_remainder(
        z,
        jr.fold_in(jr.key(settings.random_state), salt),
        max_layers=settings.max_layers,
        spacing=check_spacing(settings.spacing, z.shape[0]),
        threshold=settings.threshold,
        patience=settings.patience,
        n_reference=settings.n_reference,
    )


def scores_total_correlation(
    z: Float[Array, "n d"], settings: InformationSettings, salt: int = 0
) -> float:
    """Total correlation of normal scores ``z``: closed-form Gaussian part + RBIG remainder.

    Where the elliptical-copula candidate beats the Gaussian copula on held-out rows
    (:mod:`~gauss_flows._information.elliptical`), its estimate is returned instead: the
    path of :class:`~gauss_flows._information.groups.GroupTotalCorrelations`, which every
    measure shares.

    Example:
        >>> import numpy as np
        >>> from gauss_flows._information.remainder import scores_total_correlation
        >>> from gauss_flows.information import InformationSettings
        >>> z = np.random.default_rng(0).normal(size=(500, 1))
        >>> scores_total_correlation(z, InformationSettings())  # one column: no dependence
        0.0
    """
    from gauss_flows._information.groups import GroupTotalCorrelations

    return GroupTotalCorrelations(z, settings).tc(np.arange(z.shape[1]), salt)


def remainder_value(z: Float[Array, "n d"], settings: InformationSettings, salt: int = 0) -> float:
    """The estimate of :func:`remainder_of_scores` (0 for a single column: no dependence).

    Example:
        >>> import jax.random as jr
        >>> from gauss_flows._information import remainder
        >>> from gauss_flows.information import InformationSettings
        >>> w = jr.normal(jr.key(0), (500, 2))
        >>> remainder.remainder_value(w, InformationSettings(random_state=2)) >= 0
        True
    """
    return 0.0 if z.shape[1] == 1 else remainder_of_scores(z, settings, salt).value
