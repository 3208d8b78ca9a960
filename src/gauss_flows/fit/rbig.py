"""Greedy, gradient-free RBIG fit (Laparra et al. 2011) in the trainable flow's structure."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from flowjax.distributions import Transformed
from jaxtyping import Array, ArrayLike

from gauss_flows._validation import as_data_matrix
from gauss_flows.bijections import (
    GaussianizationBlock,
    GaussianizationStack,
    HouseholderRotation,
    MixtureCDFGaussianization,
    stack_blocks,
)
from gauss_flows.bijections._arrays import on_single_cpu
from gauss_flows.bijections._mixture_cdf import mixture_gaussianize, normal_logpdf
from gauss_flows.bijections.rotation import householder_decomposition_host
from gauss_flows.fit.em import MixtureParams, fit_mixture_em, mixture_log_likelihood
from gauss_flows.fit.rotations import check_rotation, choose_rotation, draws_needed
from gauss_flows.flows import check_sizes
from gauss_flows.layout import assemble_flow


@eqx.filter_jit
def _fit_block(
    z: Array,
    val: tuple[Array, Array] | None,
    draws: Array | None,
    rows: Array | None,
    *,
    rotation: str,
    n_components: int,
    em_steps: int,
    em_tol: float,
    em_accelerate: bool,
    min_scale: float,
    prior_count: float,
    tail_weight: float,
    component_counts: tuple[int, ...] | None = None,
) -> tuple[tuple[Array, MixtureParams], Array, Array, tuple[Array, Array, Array] | None]:
    """Fit one block on ``z`` and push ``z`` (and the held-out rows) through it.

    ``draws`` are the Gaussian draws of the random rotation candidates and ``rows`` the
    indices of the rows the block is estimated on (``None``: all). Both come from NumPy's
    generator outside compiled code, which keeps JAX's random-number code (a fifth of a
    second of compilation) out of the greedy fit.

    ``val`` holds the held-out rows as the blocks so far left them and each row's
    log-determinant so far. Returns the block's rotation matrix and mixture parameters
    (the block itself is built on the host, :func:`_block`), the transformed data, the
    block's gain in mean log-likelihood under N(0, I) (its reduction of the data's
    non-Gaussianity, in nats) and, when ``val`` is given, the held-out rows and
    log-determinants after this block with the held-out mean log-likelihood of the flow
    ending here. Both sets of rows go through one call of the map, so one compilation
    serves both.

    With ``component_counts``, each count is fitted to four fifths of the rows and scored
    on the fifth left out; every dimension takes the count that scored best, refitted on
    all rows and written in ``n_components`` slots by repeating components
    (:func:`_spread_components`). ``val`` is not used for this, so it stays an unbiased
    judge of depth.
    """
    sample = z if rows is None else z[rows]
    q = choose_rotation(rotation, sample, draws)
    y = jnp.matmul(z, q.T, precision="highest")
    y_fit = y if rows is None else jnp.matmul(sample, q.T, precision="highest")

    def fit(k: int, data: Array) -> MixtureParams:
        return fit_mixture_em(
            data,
            n_components=k,
            max_steps=em_steps,
            tol=em_tol,
            accelerate=em_accelerate,
            min_scale=min_scale,
            prior_count=prior_count,
            tail_weight=tail_weight if k > 1 else 0.0,
        )

    if component_counts is None:
        params = fit(n_components, y_fit)
    else:
        # Every fifth row is held back from the mixture fits and scores them.
        y_val, y_rest = y_fit[::5], jnp.delete(y_fit, np.s_[::5], axis=0)
        trial = [fit(k, y_rest) for k in component_counts]
        scores = jnp.stack([mixture_log_likelihood(y_val, f) for f in trial])  # (counts, d)
        best = jnp.argmax(scores, axis=0)
        fits = [fit(k, y_fit) for k in component_counts]  # refitted on every row
        spread = [_spread_components(f, n_components) for f in fits]
        columns = jnp.arange(y.shape[1])
        params = MixtureParams(
            *(jnp.stack(leaves)[best, columns] for leaves in zip(*spread, strict=True))
        )
    n = z.shape[0]
    if val is not None:
        y = jnp.concatenate([y, jnp.matmul(val[0], q.T, precision="highest")], axis=0)
    z_all, log_dz_dy = mixture_gaussianize(y, *params)
    z_new, log_det = z_all[:n], log_dz_dy[:n]
    gain = (normal_logpdf(z_new) + log_det - normal_logpdf(y[:n])).sum(axis=1).mean()
    if val is not None:
        z_val, log_det_val = z_all[n:], val[1] + log_dz_dy[n:].sum(axis=1)
        val = (z_val, log_det_val, _mean_log_likelihood(z_val, log_det_val))
    return (q, params), z_new, gain, val


def _block(q: Array, params: MixtureParams) -> GaussianizationBlock:
    """The trainable block for a fitted rotation matrix and mixture parameters.

    The rotation's Householder form comes from LAPACK on the host, which keeps the
    reflection loop out of the compiled block.
    """
    rotation = HouseholderRotation(*householder_decomposition_host(np.asarray(q)))
    return GaussianizationBlock(rotation, MixtureCDFGaussianization(*params))


def _spread_components(params: MixtureParams, n_slots: int) -> MixtureParams:
    """The same mixtures written with ``n_slots`` components each, by repeating components.

    Slot ``j`` holds component ``j mod k``; a component held by ``c`` slots has its log
    weight lowered by ``log c`` in each, so the mixture (and its CDF map) is unchanged.
    """
    k = params.logits.shape[-1]
    owner = np.arange(n_slots) % k
    copies = np.bincount(owner, minlength=k)[owner]
    return MixtureParams(
        params.logits[:, owner] - np.log(copies).astype(params.logits.dtype),
        params.means[:, owner],
        params.log_scales[:, owner],
    )


def _mean_log_likelihood(z: Array, log_det: Array) -> Array:
    """Mean log-likelihood of rows mapped to ``z`` with log-determinants ``log_det``."""
    return jnp.mean(normal_logpdf(z).sum(axis=1) + log_det)


def _standardise(X: Array) -> tuple[Array, Array, Array]:
    """Column means and standard deviations of ``X``, and ``X`` standardised with them."""
    if on_single_cpu(X):  # NumPy reads it in place; nothing to compile
        host = np.asarray(X)
        loc, scale = host.mean(axis=0), host.std(axis=0)
        return tuple(jax.device_put(a) for a in (loc, scale, (host - loc) / scale))
    return _standardise_compiled(X)


@jax.jit
def _standardise_compiled(X: Array) -> tuple[Array, Array, Array]:
    loc, scale = X.mean(axis=0), X.std(axis=0)
    return loc, scale, (X - loc) / scale


def _start_held_out(X_val: Array, loc: Array, scale: Array) -> tuple[Array, Array, float]:
    """Held-out rows in standardised units, their log-determinants so far, their mean
    log-likelihood."""
    if on_single_cpu(X_val):
        z_val = (np.asarray(X_val) - np.asarray(loc)) / np.asarray(scale)
        log_likelihood = normal_logpdf(z_val).sum(axis=1).mean()  # plain arithmetic: NumPy
        zeros = np.zeros(z_val.shape[0], z_val.dtype)
        return jax.device_put(z_val), jax.device_put(zeros), float(log_likelihood)
    return _start_held_out_compiled(X_val, loc, scale)


@jax.jit
def _start_held_out_compiled(X_val: Array, loc: Array, scale: Array) -> tuple[Array, Array, Array]:
    z_val = (X_val - loc) / scale
    log_det = jnp.zeros(z_val.shape[0], z_val.dtype)
    return z_val, log_det, _mean_log_likelihood(z_val, log_det)


def fit_rbig(
    X: ArrayLike,
    *,
    n_layers: int | None = 8,
    n_components: int = 8,
    random_state: int | None = 0,
    rotation: str = "sliced",
    max_layers: int = 100,
    tol: float | None = None,
    patience: int = 3,
    em_steps: int = 100,
    em_tol: float = 1e-7,
    em_accelerate: bool = True,
    min_scale: float = 1e-3,
    prior_count: float = 0.5,
    tail_weight: float = 0.1,
    fit_rows: int | None = None,
    val_data: ArrayLike | None = None,
    component_counts: Sequence[int] | None = None,
) -> Transformed:
    """Fit a Gaussianization flow greedily, block by block, with no gradients (RBIG).

    The data are standardised, then each block picks a rotation from the current data
    (``"sliced"``: the least-Gaussian of several candidate rotations; ``"pca"``:
    principal axes; ``"random"``: a Haar-random rotation), fits a
    ``n_components``-component Gaussian mixture to every rotated dimension by EM (all
    dimensions at once, in JAX), and Gaussianizes each dimension through its mixture CDF.
    The result has exactly the pytree structure of :func:`gaussianization_flow` with the
    same sizes, so it can be trained further as it is (the warm start).

    Args:
        X: Data, shape ``(n_samples, n_dims)``.
        n_layers: Number of blocks. ``None`` chooses the depth: with ``val_data``, blocks
            are added until the held-out log-likelihood has not improved for ``patience``
            blocks, and the best depth is kept; without, until ``patience`` blocks in a
            row each reduce the non-Gaussianity by less than ``tol``, keeping the blocks up
            to the last one that did. At most ``max_layers`` either way.
        n_components: Mixture components per dimension.
        random_state: Seed for random rotations and row subsampling.
        rotation: ``"sliced"`` (the candidate rotation whose directions are least
            Gaussian in total), ``"max-sliced"`` (the one holding the least-Gaussian
            single direction), ``"ica"`` (orthogonal FastICA), ``"pca"`` or
            ``"random"``; see :mod:`gauss_flows.fit.rotations`.
        max_layers: Cap on the depth when ``n_layers`` is ``None``.
        tol: Smallest useful gain per block (nats). Defaults to the gain a
            ``K``-component fit finds in pure Gaussian noise, ``d (3K − 1) / (2n)``.
        patience: Blocks in a row below ``tol`` before stopping.
        em_steps: Most EM iterations per block (SQUAREM-accelerated, so 100 go as far
            as several hundred plain ones).
        em_tol: EM convergence tolerance (nats per sample).
        em_accelerate: SQUAREM-accelerated EM (see :func:`fit_mixture_em`); ``False``
            runs plain EM.
        min_scale: Floor on component standard deviations (in standardised units).
        prior_count: Pseudo-points of a variance prior that keeps thinly supported
            mixture components from becoming spikes (see :func:`fit_mixture_em`); it
            regularises deep fits, which otherwise overfit.
        tail_weight: Weight of one mixture component pinned to the rotated column's own
            Gaussian, so each block's map tends to the identity in the tails; it keeps
            deep stacks from stretching points outside the training range (0 disables).
        fit_rows: Fit each block on this many randomly chosen rows (all rows are still
            transformed); ``None`` uses every row.
        val_data: Held-out rows for choosing the depth when ``n_layers`` is ``None``.
        component_counts: Candidate numbers of components, each at most
            ``n_components``. Every block fits each count to four fifths of its rows,
            scores it on the rest and gives every dimension the count that scored best,
            refitted on all rows (so each block runs EM twice per count). Fewer
            components are written in the ``n_components`` slots by repeating
            components, so the structure is unchanged. ``None`` (the default) fits
            ``n_components`` everywhere; on the seed's moons, scikit-learn's digits and a
            POWER sample the choice did not improve the held-out likelihood over a
            fixed 16 (``benchmarks/results/quality.md``).

    Returns:
        A flowjax ``Transformed`` distribution: ``Transformed(N(0, I), Invert(G))``.

    Raises:
        ValueError: For NaN or inf values, data that is not 2-D, fewer rows than
            components, a constant column, or invalid settings.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((500, 2))
        >>> flow = gf.fit_rbig(X, n_layers=4, n_components=4)
        >>> flow.log_prob(X[:3]).shape
        (3,)
    """
    check_rotation(rotation)
    if n_layers is not None:
        check_sizes(n_dims=1, n_layers=n_layers, n_components=n_components)
    else:
        check_sizes(n_dims=1, n_layers=max_layers, n_components=n_components)
    if patience < 1:
        raise ValueError(f"patience must be at least 1; got {patience}")
    if component_counts is not None:
        given = tuple(component_counts)
        if not given or not all(
            isinstance(k, (int, np.integer)) and 1 <= k <= n_components for k in given
        ):
            raise ValueError(
                "component_counts must be integers between 1 and "
                f"n_components={n_components}; got {given}"
            )
        component_counts = tuple(sorted({int(k) for k in given}))
    min_rows = max(2 * n_components, 3)
    X = as_data_matrix(X, min_rows=min_rows)
    n, d = X.shape
    if fit_rows is not None:
        if not 2 * n_components <= fit_rows:
            raise ValueError(f"fit_rows must be at least 2 * n_components; got {fit_rows}")
        fit_rows = None if fit_rows >= n else int(fit_rows)
    if tol is None:
        tol = d * (3 * n_components - 1) / (2 * min(n, fit_rows or n))

    loc, scale, z = _standardise(X)
    held_out, val = None, None
    if val_data is not None:
        X_val = as_data_matrix(val_data, name="val_data", n_dims=d, min_rows=1, check_constant=False)
        *val, start = _start_held_out(X_val.astype(X.dtype), loc, scale)
        held_out = [float(start)]
    rng = np.random.default_rng(0 if random_state is None else random_state)
    n_draws = draws_needed(rotation, d)
    depth = max_layers if n_layers is None else n_layers
    settings = dict(
        rotation=rotation,
        n_components=n_components,
        em_steps=em_steps,
        em_tol=em_tol,
        em_accelerate=em_accelerate,
        min_scale=min_scale,
        prior_count=prior_count,
        tail_weight=tail_weight,  # _fit_block drops it for one-component fits
        component_counts=component_counts,
    )
    blocks, gains = [], []
    for _ in range(depth):
        draws = rng.standard_normal((n_draws, d, d)).astype(z.dtype) if n_draws else None
        rows = None if fit_rows is None else np.sort(rng.choice(n, fit_rows, replace=False))
        (q, params), z, gain, pushed_val = _fit_block(z, val, draws, rows, **settings)
        blocks.append(_block(q, params))
        gains.append(float(gain))
        if not math.isfinite(gains[-1]):
            raise ValueError(
                f"block {len(blocks)} of the greedy fit produced non-finite values; the data "
                "may hold extreme outliers or duplicated points (try a larger min_scale)"
            )
        if held_out is not None:
            *val, log_likelihood = pushed_val
            held_out.append(float(log_likelihood))
            best = int(np.argmax(held_out))
            if n_layers is None and len(held_out) - 1 - best >= patience:
                blocks = blocks[: max(best, 1)]
                break
        elif n_layers is None and len(gains) >= patience and max(gains[-patience:]) < tol:
            useful = [i for i, g in enumerate(gains) if g >= tol]
            blocks = blocks[: (useful[-1] + 1) if useful else 1]
            break
    if n_layers is None and held_out is not None and len(blocks) == max_layers:
        blocks = blocks[: max(int(np.argmax(held_out)), 1)]
    return assemble_flow(GaussianizationStack(loc, scale, stack_blocks(blocks)))
