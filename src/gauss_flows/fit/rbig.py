"""Greedy, gradient-free RBIG fit (Laparra et al. 2011) in the trainable flow's structure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flowjax.distributions import Transformed
from jaxtyping import Array, ArrayLike
from tqdm.auto import tqdm

from gauss_flows._progress import show_progress
from gauss_flows._validation import (
    X64_HINT,
    as_data_matrix,
    check_int,
    check_number,
    check_random_state,
)
from gauss_flows.bijections import (
    GaussianizationBlock,
    GaussianizationStack,
    HouseholderRotation,
    MixtureGaussianCDF,
    stack_blocks,
)
from gauss_flows._arrays import column_moments, on_single_cpu
from gauss_flows.bijections.mixture_cdf import normal_logpdf
from gauss_flows.bijections.rotation import householder_decomposition_host
from gauss_flows.fit.depth import depth_decision, noise_gain
from flowjax.bijections.bijection import AbstractBijection

from gauss_flows.bijections.block import AbstractGaussianizationBlock
from gauss_flows.bijections.rotation_marginal_block import RotationMarginalBlock
from gauss_flows.fit.marginal_fit import AbstractMarginalFit, marginal_from_keywords
from gauss_flows.fit.rotations import AbstractRotationRule, as_rotation_rule
from gauss_flows._conditions import as_condition_matrix, condition_moments
from gauss_flows.bijections.conditional_stack import ConditionalGaussianizationStack
from gauss_flows.fit.conditional_start import DEPENDENCE_STARTS, regression_start
from gauss_flows import layout
from gauss_flows.layout import assemble_conditional_flow, assemble_flow, gaussianizer

#: Default most rows each block of :func:`fit_rbig` is fitted on (``fit_rows``).
FIT_ROWS = 2**15


def fit_rbig(
    X: ArrayLike,
    *,
    n_layers: int | None = 8,
    n_components: int = 8,
    random_state: int | None = 0,
    rotation: str | AbstractRotationRule = "sliced",
    marginal: str | AbstractMarginalFit | None = None,
    max_layers: int = 100,
    tol: float | None = None,
    patience: int | None = None,
    fit_rows: int | None = FIT_ROWS,
    val_data: ArrayLike | None = None,
    val_fraction: float = 0.2,
    component_counts: Sequence[int] | None = None,
    progress: bool | None = None,
    condition: ArrayLike | None = None,
    nn_width: int = 32,
    nn_depth: int = 1,
    architecture: str = "diagonal",
    dependence: str = "regression",
    **deprecated_options: object,
) -> Transformed:
    """Fit a Gaussianization flow greedily, block by block, with no gradients (RBIG).

    The data are standardised, then each block chooses a rotation from the current data
    by its rotation rule, fits an ``n_components``-component Gaussian mixture to every
    rotated dimension by EM (all dimensions at once, in JAX) and Gaussianizes each
    dimension through its mixture CDF (Laparra et al. 2011). The result has exactly the
    pytree structure of :func:`gaussianization_flow` with the same sizes, so it can be
    trained further as it is (the warm start).

    Args:
        X: Data, shape ``(n_samples, n_dims)``.
        n_layers: Number of blocks. ``None`` chooses the depth
            (:func:`~gauss_flows.fit.depth.depth_decision`) by held-out
            log-likelihood: blocks are added until the held-out log-likelihood has not
            improved for ``patience`` blocks, and the best depth is kept. The held-out
            rows are ``val_data``; without it, a ``val_fraction`` of the rows (drawn
            with ``random_state``) is held out, the depth is chosen on them, and the
            flow is refitted on every row to that depth. With ``val_fraction=0`` (or
            too few rows to hold any out) the depth rule is the training gains':
            blocks are added until ``patience`` blocks in a row each gain less than
            ``tol``, keeping the blocks up to the last one that did not. At most
            ``max_layers`` in every case.
        n_components: Mixture components per dimension.
        random_state: Integer random state of the random rotations and the row
            subsampling (``None``: 0).
        rotation: The rotation rule (:class:`~gauss_flows.fit.AbstractRotationRule`) or
            its shorthand: ``"sliced"`` (the candidate rotation whose directions are
            least Gaussian in total), ``"max-sliced"`` (the one holding the
            least-Gaussian single direction), ``"ica"`` (orthogonal FastICA), ``"pca"``
            or ``"random"``; see :func:`~gauss_flows.fit.as_rotation_rule`.
        marginal: The marginal family and its settings, a value or its name:
            ``"mixture"`` (:class:`~gauss_flows.fit.MixtureFit`, the default for
            ``None``: EM-fitted Gaussian mixtures of ``n_components`` components),
            ``"kde"`` (:class:`~gauss_flows.fit.KDEFit`), ``"histogram"``
            (:class:`~gauss_flows.fit.HistogramFit`, classic RBIG) or ``"spline"``
            (:class:`~gauss_flows.fit.SplineFit`). The fitted flow's marginal layers
            are of that family, so it warm-starts the trainable flow of that family.
            ``n_components`` and ``component_counts`` apply to the mixture family.
        max_layers: Cap on the depth when ``n_layers`` is ``None``.
        tol: Smallest useful gain per block (nats), used when ``n_layers`` is ``None``
            and the depth is chosen by the training gains (no ``val_data`` and
            ``val_fraction=0``). Defaults to the gain a ``K``-component fit
            finds in pure Gaussian noise, ``d (3K − 1) / (2n)`` with ``n`` the rows each
            block is fitted on.
        patience: Blocks in a row without progress before the depth rule stops (the
            greedy fit's steps are layers). ``None``: 3 with ``val_data`` or the
            training gains, 5 on the rows ``val_fraction`` holds out, whose smaller
            count makes the held-out curve noisier (it can pause for a few blocks
            before it improves again).
        fit_rows: Fit each block (its rotation and its marginal maps) on at most this
            many randomly chosen rows, drawn afresh for every block; every row is still
            transformed, so the flow Gaussianizes all of them. Data with at most
            ``fit_rows`` rows are fitted on every row, as with ``None``. The default,
            ``2**15``, bounds the cost of a block's EM, which otherwise grows with the
            number of rows.
        val_data: Held-out rows for choosing the depth when ``n_layers`` is ``None``.
        val_fraction: Fraction of the rows held out to choose the depth when
            ``n_layers`` is ``None`` and there is no ``val_data``, in ``[0, 1)``; 0
            chooses the depth by the training gains and ``tol``.
        component_counts: Candidate numbers of components, each at most
            ``n_components``. Every block fits each count to four fifths of its rows,
            scores it on the rest and gives every dimension the count that scored best,
            refitted on all rows (so each block runs EM twice per count). Fewer
            components are written in the ``n_components`` slots by repeating
            components, so the structure is unchanged. ``val_data`` takes no part in
            this choice. ``None`` fits ``n_components`` everywhere.
        progress: Show a progress bar of the blocks, with each block's gain (and the
            held-out log-likelihood with ``val_data``). ``None`` shows it only when
            standard error is a terminal and the ``CI`` environment variable is not set,
            the rule of every ``progress`` option (:func:`train_flow`'s too).
        condition: Conditions ``Y``, one row per row of ``X`` (shape ``(n_samples, c)``,
            or ``(n_samples,)`` for one column), for a conditional density
            :math:`p(x \mid y)`. The greedy fit is that of ``X`` alone; every block's
            marginal maps then get a network of the (standardised) condition whose
            bounded offsets move their mixture parameters
            (:class:`~gauss_flows.bijections.ConditionalGaussianizationStack`); their
            output weights start as ``dependence`` says, and :func:`train_flow` (with
            ``condition=``) learns the dependence from there. Needs the mixture marginal
            family.
        nn_width: Hidden width of each block's condition network (with ``condition``).
        nn_depth: Hidden layers of each block's condition network (with ``condition``).
        architecture: The conditional blocks (with ``condition``): ``"diagonal"`` (each
            block's network reads ``y``) or ``"coupling"`` (two networks per block read
            ``y`` and one part of the rotated point, so the dependence between the parts
            can change with ``y``; 2 or more columns).
        dependence: How a conditional fit's dependence on the condition starts:
            ``"regression"`` (block by block, a location-scale regression of the
            block's input on its network's random features, written into the output
            weights where it gains training likelihood;
            :func:`~gauss_flows.fit.conditional_start.regression_start`) or ``"zero"``
            (output weights at zero: the conditional flow equals the unconditional
            greedy fit for every condition, exactly). See
            :data:`~gauss_flows.fit.conditional_start.DEPENDENCE_STARTS`.
        **deprecated_options: The former marginal-fit keywords ``em_steps``, ``em_tol``,
            ``em_accelerate``, ``min_scale``, ``prior_count`` and ``tail_weight``, each
            setting the :class:`~gauss_flows.fit.MixtureFit` field of its name
            (``em_accelerate``: ``accelerate``). Deprecated: they warn and will be
            removed in the next release.

    Returns:
        A flowjax ``Transformed`` distribution: ``Transformed(N(0, I), Invert(G))``;
        with ``condition``, ``G`` is conditional and ``flow.cond_shape == (c,)``.

    Raises:
        ValueError: For NaN or inf values, data that is not 2-D, fewer rows than
            ``max(2 * n_components, 3)``, a constant column, or invalid settings; for a
            condition with NaN or inf, another number of rows than ``X``, or more than
            two axes.
        TypeError: For unknown keywords, or a deprecated keyword given with ``marginal``.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows.fit import MixtureFit
        >>> X = np.random.default_rng(0).standard_exponential((500, 2))
        >>> flow = gf.fit_rbig(X, n_layers=4, n_components=4, marginal=MixtureFit(em_steps=50))
        >>> flow.log_prob(X[:3]).shape
        (3,)

    References:
        Laparra, Camps-Valls & Malo (2011), "Iterative Gaussianization: from ICA to
        random rotations", IEEE Transactions on Neural Networks 22(4).
    """
    settings = _greedy_settings(
        "fit_rbig",
        n_layers=n_layers,
        n_components=n_components,
        random_state=random_state,
        rotation=rotation,
        marginal=marginal,
        max_layers=max_layers,
        tol=tol,
        patience=patience,
        fit_rows=fit_rows,
        val_data=val_data,
        val_fraction=val_fraction,
        component_counts=component_counts,
        progress=progress,
        **deprecated_options,
    )
    X = as_data_matrix(X, min_rows=settings.min_rows)
    if condition is None:
        if architecture != "diagonal":
            raise ValueError(
                f"fit_rbig(architecture={architecture!r}) is an option of conditional fits "
                "(condition=...); for unconditional coupling flows use fit_rbig_coupling"
            )
        return _fit_greedy(X, settings)
    if dependence not in DEPENDENCE_STARTS:
        raise ValueError(
            f"dependence must be one of {', '.join(map(repr, DEPENDENCE_STARTS))}; got {dependence!r}"
        )
    C = as_condition_matrix(condition, n_rows=X.shape[0])
    flow = _fit_greedy(X, settings)
    stack = gaussianizer(flow)
    if not isinstance(stack.blocks, GaussianizationBlock):
        raise ValueError(
            "fit_rbig(condition=...) needs the mixture marginal family (marginal=None or "
            f"'mixture'); got blocks of {type(stack.blocks).__name__}"
        )
    loc, scale = condition_moments(C.astype(X.dtype))
    conditional = ConditionalGaussianizationStack(
        jr.key(settings.random_state), stack, loc, scale, nn_width=nn_width, nn_depth=nn_depth,
        architecture=architecture,
    )
    flow = assemble_conditional_flow(conditional)
    if dependence == "zero":
        return flow
    return regression_start(
        flow,
        X,
        C,
        marginal=settings.marginal,
        n_components=settings.n_components,
        component_counts=settings.component_counts,
        fit_rows=settings.fit_rows,
        random_state=settings.random_state,
    )


#: ``fit_rbig``'s keywords that shape the conditional flow, not the greedy fit.
CONDITIONAL_OPTIONS = ("condition", "nn_width", "nn_depth", "architecture", "dependence")


def greedy_defaults() -> dict[str, object]:
    """``fit_rbig``'s defaults of the greedy-fit settings (its conditional options left out).

    Example:
        >>> from gauss_flows.fit.rbig import greedy_defaults
        >>> greedy_defaults()["n_components"], "condition" in greedy_defaults()
        (8, False)
    """
    return {
        name: value
        for name, value in fit_rbig.__kwdefaults__.items()
        if name not in CONDITIONAL_OPTIONS
    }


class _Greedy(NamedTuple):
    """The checked settings of one greedy fit."""

    n_layers: int | None
    n_components: int
    random_state: int
    rule: AbstractRotationRule
    marginal: AbstractMarginalFit
    max_layers: int
    tol: float | None
    patience: int | None
    fit_rows: int | None
    val_data: ArrayLike | None
    val_fraction: float
    component_counts: tuple[int, ...] | None
    progress: bool

    @property
    def min_rows(self) -> int:
        """Fewest data rows the fit accepts."""
        return self.marginal.min_rows(self.n_components)


def _greedy_settings(
    function: str,
    /,
    *,
    n_layers: int | None,
    n_components: int,
    random_state: int | None,
    rotation: str | AbstractRotationRule,
    marginal: str | AbstractMarginalFit | None,
    max_layers: int,
    tol: float | None,
    patience: int | None,
    fit_rows: int | None,
    val_data: ArrayLike | None,
    val_fraction: float,
    component_counts: Sequence[int] | None,
    progress: bool | None,
    **options: object,
) -> _Greedy:
    """Check the settings of a call to ``function``, :func:`fit_rbig` or a fit built on it.

    Every setting is given: the defaults are :func:`fit_rbig`'s alone. ``options`` are
    the call's other keywords, of which only the deprecated marginal-fit ones are
    accepted (:func:`~gauss_flows.fit.marginal_fit.marginal_from_keywords`).
    """
    marginal = marginal_from_keywords(function, marginal, options)
    rule = as_rotation_rule(rotation)
    n_components = check_int("n_components", n_components)
    if fit_rows is not None:
        fit_rows = check_int("fit_rows", fit_rows, least=2 * n_components)
    return _Greedy(
        n_layers=None if n_layers is None else check_int("n_layers", n_layers),
        n_components=n_components,
        random_state=check_random_state(random_state),
        rule=rule,
        marginal=marginal,
        max_layers=check_int("max_layers", max_layers),
        tol=None if tol is None else check_number("tol", tol, low_open=False),
        patience=None if patience is None else check_int("patience", patience),
        fit_rows=fit_rows,
        val_data=val_data,
        val_fraction=check_number("val_fraction", val_fraction, high=1.0, low_open=False),
        component_counts=_checked_counts(component_counts, n_components),
        progress=show_progress(progress),
    )


def _checked_counts(counts: Sequence[int] | None, n_components: int) -> tuple[int, ...] | None:
    """Distinct candidate component counts, in increasing order."""
    if counts is None:
        return None
    given = tuple(counts)
    if not given or any(check_int("component_counts", k) > n_components for k in given):
        raise ValueError(
            f"component_counts must be integers between 1 and n_components={n_components}; "
            f"got {given}"
        )
    return tuple(sorted({int(k) for k in given}))


def _fit_greedy(X: Array, settings: _Greedy) -> Transformed:
    """The greedy fit of checked data ``X`` with checked ``settings``.

    With ``n_layers=None``, no ``val_data`` and a ``val_fraction``, the depth is chosen
    on rows held out of ``X`` (:func:`_held_out_split`), then the flow is refitted on
    every row to that depth.
    """
    s = settings
    if s.n_layers is None and s.val_data is None and s.val_fraction > 0:
        split = _held_out_split(X, s)
        if split is not None:
            train, held = split
            patience = SELF_HELD_OUT_PATIENCE if s.patience is None else s.patience
            chosen = _fit_greedy_rows(train, s._replace(val_data=held, patience=patience))
            depth = layout.n_layers(chosen)
            return _fit_greedy_rows(X, s._replace(n_layers=depth))
    return _fit_greedy_rows(X, s)


#: The depth rule's patience (blocks) on given ``val_data`` and on the training gains.
DEPTH_PATIENCE = 3
#: The depth rule's patience (blocks) on the rows ``fit_rbig`` holds out itself.
SELF_HELD_OUT_PATIENCE = 5

#: Second word of the held-out split's seed, ``(random_state, _SPLIT_STREAM)``, so the
#: split's draws are not those of the blocks' rotations.
_SPLIT_STREAM = 1


def _held_out_split(X: Array, s: _Greedy) -> tuple[Array, Array] | None:
    """Rows to fit on and rows held out for the depth rule, or ``None`` if too few.

    ``round(val_fraction * n)`` random rows (seeded by ``random_state``) are held out,
    fewer where the rest would drop below the fit's fewest rows; ``None`` when not even
    one row can be held out. Both parts keep the rows' order.
    """
    n = X.shape[0]
    n_held = min(round(s.val_fraction * n), n - s.min_rows)
    if n_held < 1:
        return None
    rng = np.random.default_rng([s.random_state, _SPLIT_STREAM])
    held = np.zeros(n, bool)
    held[rng.choice(n, n_held, replace=False)] = True
    return X[~held], X[held]


def _fit_greedy_rows(X: Array, settings: _Greedy) -> Transformed:
    """The greedy fit of ``X`` with its depth chosen on ``val_data`` or the gains."""
    s = settings
    n, d = X.shape
    fit_rows = None if s.fit_rows is None or s.fit_rows >= n else s.fit_rows
    rows_fitted = fit_rows or n
    free = s.marginal.free_parameters(s.n_components, rows_fitted)
    tol = noise_gain(d, s.n_components, rows_fitted, free_parameters=free) if s.tol is None else s.tol
    loc, scale, z = _standardise(X)
    val, held_out = None, None
    if s.val_data is not None:
        X_val = as_data_matrix(
            s.val_data, name="val_data", n_dims=d, min_rows=1, check_constant=False
        )
        *val, start = _start_held_out(X_val.astype(X.dtype), loc, scale)
        held_out = [float(start)]
    rng = np.random.default_rng(s.random_state)
    n_draws = s.rule.n_draws(d)
    blocks, gains = [], []
    most = s.n_layers or s.max_layers
    with tqdm(total=most, disable=not s.progress, desc="greedy fit", unit="block") as bar:
        for _ in range(most):
            draws = rng.standard_normal((n_draws, d, d)).astype(z.dtype) if n_draws else None
            rows = None if fit_rows is None else np.sort(rng.choice(n, fit_rows, replace=False))
            (q, layer), z, gain, pushed = _fit_block(
                z,
                val,
                draws,
                rows,
                rule=s.rule,
                marginal=s.marginal,
                n_components=s.n_components,
                component_counts=s.component_counts,
            )
            blocks.append(_block(q, layer))
            gains.append(float(gain))
            if not math.isfinite(gains[-1]):
                raise _non_finite_block(len(blocks), z.dtype)
            if pushed is not None:
                *val, log_likelihood = pushed
                held_out.append(float(log_likelihood))
            decision = depth_decision(
                gains,
                held_out,
                n_layers=s.n_layers,
                tol=tol,
                patience=DEPTH_PATIENCE if s.patience is None else s.patience,
                max_layers=s.max_layers,
            )
            bar.update(1)
            bar.set_postfix(_progress_note(gains, held_out))
            if decision.stop:
                break
    stack = GaussianizationStack(loc, scale, stack_blocks(blocks[: decision.keep]))
    return assemble_flow(stack)


def _progress_note(gains: list[float], held_out: list[float] | None) -> dict[str, str]:
    """The progress bar's note after a block: its gain, and the held-out log-likelihood."""
    note = {"gain": f"{gains[-1]:.4f}"}
    if held_out is not None:
        note["held_out"] = f"{held_out[-1]:.4f}"
    return note


def _non_finite_block(index: int, dtype: np.dtype) -> ValueError:
    """The error for a block whose gain is not finite, naming float32 when it computes so."""
    cause = (
        "the data may hold extreme outliers or duplicated points (try a larger "
        "MixtureFit(min_scale=...))"
    )
    if dtype == np.float32:
        cause += f"; the fit computes in float32, and to give it more range and resolution {X64_HINT}"
    return ValueError(f"block {index} of the greedy fit produced non-finite values: {cause}")


@eqx.filter_jit
def _fit_block(
    z: Array,
    val: tuple[Array, Array] | None,
    draws: Array | None,
    rows: Array | None,
    *,
    rule: AbstractRotationRule,
    marginal: AbstractMarginalFit,
    n_components: int,
    component_counts: tuple[int, ...] | None,
) -> tuple[tuple[Array, AbstractBijection], Array, Array, tuple[Array, Array, Array] | None]:
    """Fit one block on ``z`` and push ``z`` (and the held-out rows) through it.

    ``draws`` are the Gaussian draws the rotation rule takes and ``rows`` the indices of
    the rows the block is estimated on (``None``: all). Both come from NumPy's generator
    outside compiled code, which keeps JAX's random-number code out of the compiled
    block.

    ``val`` holds the held-out rows as the blocks so far left them and each row's
    log-determinant so far. Returns the block's rotation matrix and fitted marginal layer
    (the block itself is built on the host, :func:`_block`), the transformed data, the
    block's gain in mean log-likelihood under N(0, I) (its reduction of the data's
    non-Gaussianity, in nats) and, when ``val`` is given, the held-out rows and
    log-determinants after this block with the held-out mean log-likelihood of the flow
    ending here. Both sets of rows go through one call of the map, so one compilation
    serves both. ``val`` takes no part in the mixture fits (nor in the choice of
    ``component_counts``), so it stays an unbiased judge of depth.
    """
    sample = z if rows is None else z[rows]
    q = rule.choose(sample, draws)
    y = jnp.matmul(z, q.T, precision="highest")
    y_fit = y if rows is None else jnp.matmul(sample, q.T, precision="highest")
    layer = marginal.fit_layer(y_fit, n_components, component_counts)
    n = z.shape[0]
    if val is not None:
        y = jnp.concatenate([y, jnp.matmul(val[0], q.T, precision="highest")], axis=0)
    z_all, log_det_all = marginal.gaussianize(layer, y)
    z_new, log_det = z_all[:n], log_det_all[:n]
    gain = (normal_logpdf(z_new) - normal_logpdf(y[:n])).sum(axis=1).mean() + log_det.mean()
    if val is not None:
        z_val, log_det_val = z_all[n:], val[1] + log_det_all[n:]
        val = (z_val, log_det_val, _mean_log_likelihood(z_val, log_det_val))
    return (q, layer), z_new, gain, val


def _block(q: Array, layer: AbstractBijection) -> AbstractGaussianizationBlock:
    """The trainable block for a fitted rotation matrix and marginal layer.

    The rotation's Householder form comes from LAPACK on the host, which keeps the
    reflection loop out of the compiled block. A Gaussian-mixture marginal makes the
    fast :class:`GaussianizationBlock` (the structure of the default
    :func:`gaussianization_flow`); any other family a :class:`RotationMarginalBlock`.
    """
    vectors, signs = householder_decomposition_host(np.asarray(q))
    rotation = HouseholderRotation(params=vectors[::-1], signs=signs)
    if isinstance(layer, MixtureGaussianCDF):
        return GaussianizationBlock(rotation, layer)
    return RotationMarginalBlock(rotation, layer)


def _mean_log_likelihood(z: Array, log_det: Array) -> Array:
    """Mean log-likelihood of rows mapped to ``z`` with log-determinants ``log_det``."""
    return jnp.mean(normal_logpdf(z).sum(axis=1) + log_det)


# Columns whose mean and standard deviation are 0 and 1 to within this are already
# standardised: the fit leaves them as they are, so its stack holds no standardisation
# (an exact identity) instead of one that differs from the identity by rounding.
_STANDARDISED_TOL = 1e-10


def _standardise(X: Array) -> tuple[Array, Array, Array]:
    """Column means and standard deviations of ``X``, and ``X`` standardised with them.

    The moments are :func:`~gauss_flows._arrays.column_moments`, finite for columns whose
    squares overflow or underflow float32 (data scaled by ``1e20`` or ``1e-30``). Data
    already standardised (every column's mean within ``_STANDARDISED_TOL`` of 0 and its
    standard deviation within it of 1) get loc 0 and scale 1 exactly and are returned
    unchanged.
    """
    if on_single_cpu(X):  # NumPy reads it in place; nothing to compile
        host = np.asarray(X)
        loc, scale = column_moments(host)
        if _already_standardised(loc, scale):
            loc, scale = np.zeros_like(loc), np.ones_like(scale)
            return tuple(jax.device_put(a) for a in (loc, scale, host))
        return tuple(jax.device_put(a) for a in (loc, scale, (host - loc) / scale))
    loc, scale, standardised = _standardise_compiled(X)
    if _already_standardised(np.asarray(loc), np.asarray(scale)):
        return jnp.zeros_like(loc), jnp.ones_like(scale), X
    return loc, scale, standardised


def _already_standardised(loc: np.ndarray, scale: np.ndarray) -> bool:
    return bool(
        np.all(np.abs(loc) <= _STANDARDISED_TOL) and np.all(np.abs(scale - 1) <= _STANDARDISED_TOL)
    )


@jax.jit
def _standardise_compiled(X: Array) -> tuple[Array, Array, Array]:
    loc, scale = column_moments(X)
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
