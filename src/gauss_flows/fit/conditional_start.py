"""The greedy start of a conditional flow's dependence on its condition, by regression.

:func:`~gauss_flows.fit_rbig` with ``condition=`` first fits the unconditional greedy
flow of ``x``; this module then writes a first guess of how each block depends on ``y``
into the block's network, block by block, with no gradients. A block's network maps its
input ``h`` (the standardised condition, and for coupling blocks one part of the rotated
point as well) through random hidden layers to features ``φ(h)``, and its output layer is
linear in them, so a dependence that is linear in ``φ(h)`` can be written there in closed
form:

1. regress the block's rotated input ``v`` on ``[φ(h), 1]`` (ridge least squares): the
   conditional location ``μ(h)``;
2. regress ``log (v - μ)²`` on the same features: the conditional log-scale ``ℓ(h)``, and
   refit the location by least squares weighted with ``exp(-2ℓ)``;
3. fit the block's mixture by EM (the greedy fit's own marginal family) to the
   standardised residuals ``ε = (v - μ) e^{-ℓ}``, so the block's mixture for a given
   ``h`` is that mixture moved to ``μ(h)`` and scaled by ``e^{ℓ(h)}``;
4. write the offsets of that moved mixture from its mean over the rows into the output
   layer by least squares on ``φ(h)`` (through the inverse of the offsets' soft bound).

A block keeps its regression guess only where that gains more training log-likelihood
than the unconditional block it replaces (both evaluated exactly, through the flow's own
maps); elsewhere its output weights stay at zero. With ``dependence="zero"`` no guess is
made and the conditional flow equals the unconditional greedy fit for every condition.

References:
    Laparra, Camps-Valls & Malo (2011), "Iterative Gaussianization: from ICA to random
    rotations", IEEE Transactions on Neural Networks 22(4).
    Rahimi & Recht (2007), "Random features for large-scale kernel machines", NeurIPS.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from flowjax.distributions import Transformed
from jaxtyping import Array

from gauss_flows import layout
from gauss_flows.bijections.conditional_marginal import conditional_offsets
from gauss_flows.bijections.mixture_cdf import mixture_gaussianize, normal_logpdf
from gauss_flows.bijections.rotation import householder_product
from gauss_flows.fit.marginal_fit import AbstractMarginalFit

__all__ = ["DEPENDENCE_STARTS", "RIDGE", "regression_start"]

#: The starts of a conditional greedy fit's dependence on the condition: ``"regression"``
#: (:func:`regression_start`) or ``"zero"`` (the unconditional greedy fit, exactly).
DEPENDENCE_STARTS = ("regression", "zero")

#: Ridge penalty of the regressions, relative to the mean squared feature.
RIDGE = 1e-2

# The offsets written into the output layers stay within this fraction of their bounds,
# where the soft bound's inverse is still well conditioned.
_BOUND_FRACTION = 0.95


class _Part(NamedTuple):
    """One conditional mixture map's fitted start: its base mixture, output weights, and
    the rows it maps to."""

    logits: Array
    means: Array
    log_scales: Array
    weight: Array
    z: Array


def regression_start(
    flow: Transformed,
    X: Array,
    C: Array,
    *,
    marginal: AbstractMarginalFit,
    n_components: int,
    component_counts: tuple[int, ...] | None = None,
    fit_rows: int | None = None,
    random_state: int = 0,
) -> Transformed:
    """The conditional greedy flow ``flow`` with each block's dependence on ``y`` fitted.

    Args:
        flow: A conditional flow of the library's layout whose networks' output weights
            are zero (the conditional form of a greedy fit).
        X: The rows the greedy fit was fitted on, shape ``(n, d)``.
        C: Their conditions, shape ``(n, c)``.
        marginal: The greedy fit's marginal family (a mixture family).
        n_components: Mixture components per dimension, as in the greedy fit.
        component_counts: The greedy fit's candidate component counts.
        fit_rows: Fit the regressions and mixtures on at most this many random rows
            (``None``: all); every row is mapped.
        random_state: Seed of those rows.

    Returns:
        The same structure with new mixture parameters and output weights.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> rng = np.random.default_rng(0)
        >>> Y = rng.uniform(-1, 1, (500, 1))
        >>> X = 2 * Y + 0.1 * rng.standard_normal((500, 1))
        >>> zero = gf.fit_rbig(X, condition=Y, n_layers=2, n_components=3, dependence="zero")
        >>> start = gf.fit_rbig(X, condition=Y, n_layers=2, n_components=3)
        >>> nll = lambda f: -float(f.log_prob(X, condition=Y).mean())
        >>> nll(start) < nll(zero) - 1.0
        True
    """
    cond = layout.conditional_gaussianizer(flow)
    blocks = cond.stack.blocks
    dtype = blocks.logits.dtype
    X, C = jnp.asarray(X, dtype), jnp.asarray(C, dtype)
    x = jax.vmap(lambda row: cond.stack.standardizer.transform_and_log_det(row)[0])(X)
    u = jax.vmap(cond._standardised_condition)(C)
    n = x.shape[0]
    rows = None
    if fit_rows is not None and fit_rows < n:
        rows = jnp.asarray(np.sort(np.random.default_rng(random_state).choice(n, fit_rows, False)))
    matrices = jax.vmap(householder_product)(blocks.vectors, blocks.signs)
    fit = lambda inputs, v, params, net: _fit_part(
        inputs, v, params, net, rows, marginal, n_components, component_counts,
        cond.offset_bound, cond.log_scale_bound,
    )
    params = (blocks.logits, blocks.means, blocks.log_scales)
    new_params, weights, second_weights = [], [], []
    split, c = cond.shape[0] // 2, cond.input_bound
    for k in range(cond.n_layers):
        v = x @ matrices[k].T
        block_params = tuple(p[k] for p in params)
        if cond.block_architecture == "diagonal":
            part = fit(u, v, block_params, _index(cond.conditioners, k))
            new_params.append((part.logits, part.means, part.log_scales))
            weights.append(part.weight)
            x = part.z
            continue
        tail_in = jnp.concatenate([u, c * jnp.tanh(v[:, :split] / c)], axis=1)
        tail = fit(tail_in, v[:, split:], tuple(p[split:] for p in block_params),
                   _index(cond.conditioners, k))
        head_in = jnp.concatenate([u, c * jnp.tanh(tail.z / c)], axis=1)
        head = fit(head_in, v[:, :split], tuple(p[:split] for p in block_params),
                   _index(cond.second_conditioners, k))
        new_params.append(tuple(
            jnp.concatenate([h, t]) for h, t in zip(head[:3], tail[:3])
        ))
        weights.append(tail.weight)
        second_weights.append(head.weight)
        x = jnp.concatenate([head.z, tail.z], axis=1)
    stacked = tuple(jnp.stack(p) for p in zip(*new_params))
    cond = eqx.tree_at(
        lambda s: (s.stack.blocks.logits, s.stack.blocks.means, s.stack.blocks.log_scales,
                   s.conditioners.layers[-1].weight),
        cond,
        (*stacked, jnp.stack(weights)),
    )
    if second_weights:
        cond = eqx.tree_at(lambda s: s.second_conditioners.layers[-1].weight, cond,
                           jnp.stack(second_weights))
    return layout.assemble_conditional_flow(cond)


def _index(networks: eqx.nn.MLP, k: int) -> eqx.nn.MLP:
    """Block ``k``'s network out of the blocks' stacked networks."""
    return jax.tree.map(lambda a: a[k] if eqx.is_array(a) else a, networks)


def _features(net: eqx.nn.MLP, inputs: Array) -> Array:
    """The network's last hidden layer for every row: what its output layer is linear in."""

    def one(h):
        for layer in net.layers[:-1]:
            h = net.activation(layer(h))
        return h

    return jax.vmap(one)(inputs)


def _ridge(features: Array, targets: Array, weights: Array | None = None) -> Array:
    """Ridge least-squares coefficients of ``targets`` on ``features`` (one column each),
    optionally with row weights (one column of weights per target column)."""
    n, width = features.shape

    def solve(weighted: Array, target: Array) -> Array:
        gram = weighted.T @ features / n
        penalty = RIDGE * jnp.trace(gram) / width + jnp.finfo(features.dtype).tiny
        return jnp.linalg.solve(gram + penalty * jnp.eye(width, dtype=features.dtype),
                                weighted.T @ target / n)

    if weights is None:
        return solve(features, targets)
    one = lambda target, weight: solve(features * weight[:, None], target)
    return jax.vmap(one, in_axes=(1, 1), out_axes=1)(targets, weights)


@eqx.filter_jit
def _fit_part(
    inputs: Array,
    v: Array,
    params: tuple[Array, Array, Array],
    net: eqx.nn.MLP,
    rows: Array | None,
    marginal: AbstractMarginalFit,
    n_components: int,
    component_counts: tuple[int, ...] | None,
    offset_bound: float,
    log_scale_bound: float,
) -> _Part:
    """The regression start of one conditional mixture map (module docstring, steps 1–4),
    or its unconditional ``params`` with zero output weights where those fit better."""
    n, p = v.shape
    k = params[0].shape[-1]
    features = _features(net, inputs)
    fit_features = features if rows is None else features[rows]
    fit_v = v if rows is None else v[rows]
    with_bias = lambda f: jnp.concatenate([f, jnp.ones((f.shape[0], 1), f.dtype)], axis=1)
    design, fit_design = with_bias(features), with_bias(fit_features)
    location = _ridge(fit_design, fit_v)
    residual = fit_v - fit_design @ location
    floor = 1e-3 * jnp.mean(residual**2, axis=0)
    # E[log χ²₁] = -1.2704: the offset that makes the log-squares regression a log-variance.
    log_scale_coef = 0.5 * _ridge(fit_design, jnp.log(residual**2 + floor) + 1.2704)
    fit_log_scale = jnp.clip(fit_design @ log_scale_coef, -log_scale_bound, log_scale_bound)
    location = _ridge(fit_design, fit_v, jnp.exp(-2 * fit_log_scale))
    mu = design @ location
    log_scale = jnp.clip(design @ log_scale_coef, -log_scale_bound, log_scale_bound)
    fit_mu = fit_design @ location
    residuals = (fit_v - fit_mu) * jnp.exp(-fit_log_scale)
    mixture = marginal.fit_layer(residuals, n_components, component_counts)
    # Per-row mixture parameters, their mean over the rows as the base, the rest offsets.
    row_means = mu[:, :, None] + jnp.exp(log_scale)[:, :, None] * mixture.means
    row_log_scales = mixture.log_scales + log_scale[:, :, None]
    base_means, base_log_scales = row_means.mean(0), row_log_scales.mean(0)
    raw = lambda offset, bound: bound * jnp.arctanh(
        jnp.clip(offset / bound, -_BOUND_FRACTION, _BOUND_FRACTION)
    )
    targets = jnp.concatenate([
        jnp.zeros((n, p * k), v.dtype),
        raw(row_means - base_means, offset_bound).reshape(n, -1),
        raw(row_log_scales - base_log_scales, log_scale_bound).reshape(n, -1),
    ], axis=1)
    fit_targets = targets if rows is None else targets[rows]
    weight = _ridge(fit_features, fit_targets).T  # (outputs, width), the output layer's layout
    offsets = jax.vmap(
        lambda r: conditional_offsets(r, (p, k), offset_bound, log_scale_bound)
    )(features @ weight.T)
    base = (mixture.logits, base_means, base_log_scales)
    z_new, ll_new = _log_likelihood(v, tuple(b + o for b, o in zip(base, offsets)))
    z_old, ll_old = _log_likelihood(v, tuple(a[None] for a in params))
    keep = jnp.isfinite(ll_new) & (ll_new > ll_old)
    choose = lambda new, old: jnp.where(keep, new, old)
    return _Part(
        *(choose(b, a) for b, a in zip(base, params)),
        weight=choose(weight, jnp.zeros_like(weight)),
        z=choose(z_new, z_old),
    )


def _log_likelihood(v: Array, params: tuple[Array, Array, Array]) -> tuple[Array, Array]:
    """The mixture-CDF map of ``v`` (per-row or shared parameters) and the rows' mean
    log-likelihood under it and N(0, I) (the part of the flow's that this map changes)."""
    z, log_dz = mixture_gaussianize(v, *params)
    return z, jnp.mean(jnp.sum(normal_logpdf(z) + log_dz, axis=1))

