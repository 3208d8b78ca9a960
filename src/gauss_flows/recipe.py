"""The recommended one-call fit: greedy RBIG, then fine-tuning early-stopped on held-out rows.

:func:`fit_density` holds rows out (:func:`held_out_rows`), fits the rest greedily, and
fine-tunes the greedy flow by maximum likelihood in the runs :func:`fine_tuning_runs`
plans, keeping the flow with the best held-out likelihood. The rules it follows are
public functions of their own, so the estimator, the command line and benchmarks share
them: :func:`default_peak_lr`, :func:`default_noise_level`, :func:`held_out_rows`.

Example:
    >>> from gauss_flows.recipe import fine_tuning_runs, held_out_rows
    >>> held_out_rows(2000), fine_tuning_runs(2000, steps=600, noise=0.0)
    (200, [(0.0, 600)])

References:
    Laparra, V., Camps-Valls, G. & Malo, J. (2011). Iterative Gaussianization: from ICA to
    random rotations. IEEE Transactions on Neural Networks 22(4).
    Meng, C., Song, Y., Song, J. & Ermon, S. (2020). Gaussianization flows. AISTATS.
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
from flowjax.distributions import Transformed
from jaxtyping import Array, ArrayLike

from gauss_flows import layout
from gauss_flows._conditions import as_condition_matrix
from gauss_flows._progress import show_progress
from gauss_flows._validation import as_data_matrix, check_int, check_number, check_random_state
from gauss_flows.fit.rbig import fit_rbig
from gauss_flows.fit.rbig_coupling import fit_rbig_coupling
from gauss_flows.train import mean_nll, train_flow

__all__ = [
    "ARCHITECTURES",
    "CONDITIONAL_COUPLING_COMPONENTS",
    "CONDITIONAL_COUPLING_MAX_LAYERS",
    "CONDITIONAL_DEPENDENCE",
    "CONDITIONAL_DIAGONAL_PEAK_LR",
    "COUPLING_MIN_ROWS_PER_DIM",
    "DEFAULT_PATIENCE",
    "DEFAULT_STEPS",
    "MIN_VAL_ROWS",
    "ROTATION_MIN_ROWS_PER_DIM",
    "check_val_fraction",
    "default_noise_level",
    "default_peak_lr",
    "fine_tuning_runs",
    "fit_density",
    "held_out_rows",
]

#: Fewest held-out rows worth splitting off; smaller data trains on every row.
MIN_VAL_ROWS = 50

#: Fine-tuning steps when none are given.
DEFAULT_STEPS = 3000

#: Gradient steps without held-out improvement after which fine-tuning stops.
DEFAULT_PATIENCE = 1000

#: The architectures :func:`fit_density` knows; ``"auto"`` picks one from the data's width.
ARCHITECTURES = ("auto", "coupling", "diagonal")

#: Training rows per column from which ``architecture="auto"`` uses coupling layers.
COUPLING_MIN_ROWS_PER_DIM = 50

#: Mixture components per dimension of the conditional coupling architecture by default:
#: its networks move every component with ``y`` and the other part of the point, so fewer
#: components serve, and each one fewer is three outputs fewer per dimension to overfit.
CONDITIONAL_COUPLING_COMPONENTS = 4

#: Most greedy blocks of the conditional coupling architecture by default (the greedy
#: depth rule scores ``p(x)``, not ``p(x | y)``, and deeper starts overfit held-out pairs).
CONDITIONAL_COUPLING_MAX_LAYERS = 2

#: How the recipe's conditional greedy start sets each architecture's dependence on the
#: condition (:func:`fit_rbig`'s ``dependence``): the regression start for the diagonal
#: blocks, whose fine-tuned fits it leaves closer to the truth on the conditional
#: benchmark; the zero start for the coupling blocks, whose fine-tuned fits end better
#: from it (``benchmarks/results/conditional.md``, ``docs/design.md``).
CONDITIONAL_DEPENDENCE = {"diagonal": "regression", "coupling": "zero"}

#: Peak fine-tuning learning rate of the conditional diagonal blocks by default: their
#: networks of ``y`` move every mixture's offsets, and on the conditional benchmark's
#: 1-D problems this rate ends closer to the truth than :func:`default_peak_lr`'s
#: (``docs/design.md``, "Conditional flows").
CONDITIONAL_DIAGONAL_PEAK_LR = 3e-3

#: Training rows per column from which fine-tuning also trains the rotations.
ROTATION_MIN_ROWS_PER_DIM = 10


def default_peak_lr(steps: int) -> float:
    """The recipe's peak learning rate for a budget of ``steps`` fine-tuning steps.

    ``1e-3`` for :data:`DEFAULT_STEPS` steps or more; a shorter budget gets the larger rate
    ``1e-3·√(DEFAULT_STEPS/steps)``, at most ``3e-3``, so that few steps still move the
    greedy fit.

    Example:
        >>> from gauss_flows.recipe import default_peak_lr
        >>> default_peak_lr(3000), default_peak_lr(300)
        (0.001, 0.003)
    """
    return 1e-3 * min(3.0, max(1.0, (DEFAULT_STEPS / steps) ** 0.5))


def default_noise_level(n_rows: int) -> float:
    """Input-noise level the recipe tries, as a share of each column's standard deviation.

    ``0.25·n^(−1/5)`` for ``n`` training rows: a quarter of the one-dimensional
    kernel-bandwidth rate, so the smoothing fades as the data grow. Whether it helps
    depends on the data, so ``noise="auto"`` keeps it only where the held-out rows prefer
    it.

    Example:
        >>> from gauss_flows.recipe import default_noise_level
        >>> round(default_noise_level(3000), 4)
        0.0504
    """
    return 0.25 * n_rows ** -0.2


def check_val_fraction(val_fraction: float) -> float:
    """``val_fraction`` as a float if it lies in ``[0, 1)`` (0: hold no rows out).

    The one rule for held-out shares, used by :func:`fit_density`, the scikit-learn
    estimator and the command line.

    Raises:
        ValueError: If ``val_fraction`` is not a number in ``[0, 1)``.

    Example:
        >>> from gauss_flows.recipe import check_val_fraction
        >>> check_val_fraction(0.2)
        0.2
    """
    return check_number("val_fraction", val_fraction, high=1.0, low_open=False)


def held_out_rows(n_rows: int, *, val_fraction: float = 0.1, n_components: int = 8) -> int:
    """Rows :func:`fit_density` holds out of ``n_rows`` for early stopping (0: none).

    ``round(val_fraction · n_rows)`` rows, or none when that is under
    :data:`MIN_VAL_ROWS` or would leave fewer than ``2 · n_components`` rows to fit on;
    the fit then trains and stops on every row.

    Raises:
        ValueError: If ``val_fraction`` is not in ``[0, 1)`` (:func:`check_val_fraction`).

    Example:
        >>> from gauss_flows.recipe import held_out_rows
        >>> held_out_rows(3000), held_out_rows(400)
        (300, 0)
    """
    n_val = int(round(check_val_fraction(val_fraction) * n_rows))
    return n_val if n_val >= MIN_VAL_ROWS and n_rows - n_val >= 2 * n_components else 0


def fine_tuning_runs(
    n_rows: int,
    *,
    steps: int | None = None,
    noise: float | str = "auto",
    val_fraction: float = 0.1,
    n_components: int = 8,
) -> list[tuple[float, int]]:
    """The fine-tuning runs :func:`fit_density` makes: ``(noise level, steps)`` for each.

    The step budget is shared by the runs. ``noise="auto"`` runs noise-free and with
    :func:`default_noise_level` when rows are held out to choose between them, and only
    noise-free otherwise (or when the budget is a single step).

    Example:
        >>> from gauss_flows.recipe import fine_tuning_runs
        >>> [steps for _, steps in fine_tuning_runs(3000, steps=3000)]
        [1500, 1500]
        >>> fine_tuning_runs(400, steps=3000)
        [(0.0, 3000)]
    """
    steps = check_int("steps", DEFAULT_STEPS if steps is None else steps)
    n_val = held_out_rows(n_rows, val_fraction=val_fraction, n_components=n_components)
    levels = _noise_levels(noise, n_rows - n_val, n_val > 0)[:steps]
    return [(level, steps // len(levels)) for level in levels]


def _noise_levels(noise: float | str, n_rows: int, honest_split: bool) -> list[float]:
    if isinstance(noise, str):
        if noise != "auto":
            raise ValueError(f"noise must be 'auto' or a non-negative number; got {noise!r}")
        # Without separate held-out rows the choice could only favour the noise-free fit.
        return [0.0, default_noise_level(n_rows)] if honest_split else [0.0]
    return [check_number("noise", noise, low_open=False)]


def _choose_architecture(architecture: str, n_rows: int, n_dims: int) -> str:
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"architecture must be one of {', '.join(map(repr, ARCHITECTURES))}; "
            f"got {architecture!r}"
        )
    if architecture == "auto":
        enough_rows = n_rows >= COUPLING_MIN_ROWS_PER_DIM * n_dims
        return "coupling" if n_dims >= 2 and enough_rows else "diagonal"
    if architecture == "coupling" and n_dims < 2:
        raise ValueError("architecture='coupling' needs at least 2 columns; got 1")
    return architecture


def fit_density(
    X: ArrayLike,
    *,
    architecture: str = "auto",
    n_layers: int | None = None,
    n_components: int | None = None,
    steps: int | None = None,
    peak_lr: float | None = None,
    noise: float | str = "auto",
    val_fraction: float = 0.1,
    random_state: int = 0,
    progress: bool | None = None,
    time_budget: float | None = None,
    rotation: str = "sliced",
    max_layers: int | None = None,
    batch: int = 512,
    patience: int = DEFAULT_PATIENCE,
    nn_width: int = 32,
    train_rotations: bool | None = None,
    condition: ArrayLike | None = None,
) -> Transformed:
    """Fit a Gaussianization flow the recommended way: greedy fit, then fine-tuning.

    1. :func:`held_out_rows` rows (shuffled with ``random_state``) are held out.
    2. The training rows are fitted greedily (:func:`fit_rbig`, or
       :func:`fit_rbig_coupling` for the coupling architecture); with ``n_layers=None``
       the depth is the one with the best held-out likelihood.
    3. :func:`train_flow` fine-tunes that flow (Adam, clipping, one-cycle cosine LR) and
       stops once the held-out NLL has not improved for ``patience`` gradient steps; the
       flow with the best held-out NLL is kept (the greedy fit itself if fine-tuning
       never beats it). With ``noise="auto"`` this is done twice, on the rows as they are
       and with a little Gaussian input noise (:func:`default_noise_level`), each run
       taking half of the ``steps`` budget, and the fit with the better held-out NLL is
       returned.

    Args:
        X: Data, shape ``(n_samples, n_dims)``.
        architecture: ``"coupling"`` (rotations and mixture-CDF couplings whose mixtures
            depend on the other half of the dimensions), ``"diagonal"`` (rotations and
            per-dimension mixture-CDF maps) or ``"auto"``: coupling when there are at
            least 2 columns and :data:`COUPLING_MIN_ROWS_PER_DIM` training rows per
            column, diagonal otherwise (the conditioners grow with the width of the data
            and overfit where rows are few). With ``condition`` the same names choose
            the conditional blocks (see ``condition``).
        n_layers: Greedy depth; ``None`` picks it on held-out rows.
        n_components: Mixture components per dimension; ``None``: 8, or
            :data:`CONDITIONAL_COUPLING_COMPONENTS` for the conditional coupling
            architecture.
        steps: Most fine-tuning gradient steps in all (default :data:`DEFAULT_STEPS`).
            With ``noise="auto"`` each of the two runs gets half of them (a budget of a
            single step trains noise-free only).
        peak_lr: Peak fine-tuning learning rate; ``None``: :func:`default_peak_lr` of
            each run's steps, or :data:`CONDITIONAL_DIAGONAL_PEAK_LR` for the
            conditional diagonal blocks.
        noise: Gaussian input noise during fine-tuning, as a share of each column's
            standard deviation; ``"auto"`` tries none and :func:`default_noise_level`
            and keeps the better on held-out rows (none when there are no separate
            held-out rows).
        val_fraction: Share of rows held out for depth choice, early stopping and the
            noise choice, in ``[0, 1)``; when :func:`held_out_rows` holds none out, the
            whole set is used for fitting and stopping (there is then no honest early
            stopping).
        random_state: Integer that fixes the split, the greedy fit, the conditioners and
            the minibatches.
        progress: Show progress bars of the greedy fit and of fine-tuning; ``None``
            shows them only when standard error is a terminal and the ``CI``
            environment variable is not set (as :func:`train_flow`).
        time_budget: Stop fine-tuning after about this many seconds in all (shared
            equally by the noise levels tried).
        rotation: Rotation of the greedy blocks (see :func:`fit_rbig`).
        max_layers: Cap on the greedy depth when it is chosen on held-out rows;
            ``None``: 8 for the coupling architecture, 64 for the diagonal one,
            :data:`CONDITIONAL_COUPLING_MAX_LAYERS` for the conditional coupling one.
        batch: Fine-tuning minibatch size (capped at the number of training rows).
        patience: Gradient steps without held-out improvement before a run stops
            (counted in whole records of 25 steps, as :func:`train_flow` counts).
        nn_width: Hidden width of the coupling conditioners.
        train_rotations: Fine-tune the blocks' rotations too. ``None`` (default): only
            with at least :data:`ROTATION_MIN_ROWS_PER_DIM` training rows per column; a
            rotation has about ``d²/2`` parameters, which fewer rows cannot pin down.
        condition: Conditions ``Y``, one row per row of ``X``, for a conditional density
            :math:`p(x \mid y)`: the same recipe on (x, y) pairs, held out together, with
            the conditional greedy start of ``fit_rbig(X, condition=Y, architecture=...)``
            (its ``dependence`` from :data:`CONDITIONAL_DEPENDENCE`) fine-tuned and
            early-stopped on held-out pairs. ``"auto"`` picks conditional
            coupling blocks (networks of ``y`` and one part of the point) by the rule of
            the unconditional case, the diagonal blocks (networks of ``y``) otherwise;
            ``nn_width`` is the width of those networks.

    Returns:
        A flowjax ``Transformed`` with the structure of :func:`coupling_gaussianization_flow`
        or :func:`gaussianization_flow`.

    Raises:
        ValueError: For bad data (NaN/inf, wrong rank, too few rows, constant columns), a
            ``val_fraction`` outside ``[0, 1)``, an unknown ``architecture`` or
            ``noise``, a ``train_rotations`` that is not a bool or ``None``, or another
            setting out of its range.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((400, 2))
        >>> flow = gf.fit_density(X, steps=100)
        >>> bool(np.isfinite(flow.log_prob(X[:5])).all())
        True

    References:
        Laparra et al. (2011) for the greedy fit; Meng et al. (2020) for training
        Gaussianization flows by maximum likelihood. See :mod:`gauss_flows.recipe`.
    """
    chosen_components = n_components
    n_components, batch, patience, nn_width = _check_settings(
        8 if n_components is None else n_components, peak_lr, time_budget, batch, patience,
        nn_width, train_rotations,
    )
    random_state = check_random_state(random_state)
    progress = show_progress(progress)
    X = as_data_matrix(X, min_rows=max(2 * n_components, 3))
    n, n_dims = X.shape
    C = None
    if condition is not None:
        C = as_condition_matrix(condition, n_rows=n).astype(X.dtype)
    runs = fine_tuning_runs(
        n, steps=steps, noise=noise, val_fraction=val_fraction, n_components=n_components
    )
    n_val = held_out_rows(n, val_fraction=val_fraction, n_components=n_components)
    X_train, X_val = _split_rows(X, n_val, random_state)
    C_train, C_val = (None, None) if C is None else _split_rows(C, n_val, random_state)
    architecture = _choose_architecture(architecture, X_train.shape[0], n_dims)
    if C is not None and architecture == "coupling":
        if chosen_components is None:
            n_components = CONDITIONAL_COUPLING_COMPONENTS
        if max_layers is None:
            max_layers = CONDITIONAL_COUPLING_MAX_LAYERS
    greedy = _greedy_fit(
        X_train,
        X_val,
        architecture,
        n_layers=n_layers,
        n_components=n_components,
        random_state=random_state,
        rotation=rotation,
        max_layers=max_layers,
        nn_width=nn_width,
        progress=progress,
        condition=C_train,
    )
    if C is not None and architecture == "diagonal" and peak_lr is None:
        peak_lr = CONDITIONAL_DIAGONAL_PEAK_LR
    if train_rotations is None:
        train_rotations = X_train.shape[0] >= ROTATION_MIN_ROWS_PER_DIM * n_dims
    options = dict(
        batch=min(batch, X_train.shape[0]),
        random_state=random_state + 1,
        val_data=X_val if C is None else (X_val, C_val),
        patience=patience,
        progress=progress,
        time_budget=None if time_budget is None else time_budget / len(runs),
        trainable=None if train_rotations else _all_but_rotations(greedy),
    )
    fits = [
        train_flow(
            greedy,
            X_train,
            steps=run_steps,
            peak_lr=default_peak_lr(run_steps) if peak_lr is None else peak_lr,
            noise=level,
            condition=C_train,
            **options,
        )[0]
        for level, run_steps in runs
    ]
    return _best_on_held_out(fits, X_val, C_val)


def _greedy_fit(
    X_train: Array,
    X_val: Array,
    architecture: str,
    *,
    max_layers: int | None,
    nn_width: int,
    condition: Array | None = None,
    **options,
) -> Transformed:
    """The greedy start of :func:`fit_density`, its depth chosen on ``X_val``.

    ``options`` go to :func:`fit_rbig` or :func:`fit_rbig_coupling` (``n_layers``,
    ``n_components``, ``random_state``, ``rotation``, ``progress``); ``max_layers=None`` caps the depth
    at 8 coupling or 64 diagonal blocks.
    """
    if max_layers is None:
        max_layers = 8 if architecture == "coupling" else 64
    if condition is not None:
        options |= {"condition": condition, "nn_width": nn_width, "architecture": architecture,
                    "dependence": CONDITIONAL_DEPENDENCE[architecture]}
        return fit_rbig(X_train, max_layers=max_layers, val_data=X_val, **options)
    if architecture == "coupling":
        return fit_rbig_coupling(
            X_train, max_layers=max_layers, val_data=X_val, nn_width=nn_width, **options
        )
    return fit_rbig(X_train, max_layers=max_layers, val_data=X_val, **options)


def _check_settings(
    n_components: int,
    peak_lr: float | None,
    time_budget: float | None,
    batch: int,
    patience: int,
    nn_width: int,
    train_rotations: bool | None,
) -> tuple[int, int, int, int]:
    """Check :func:`fit_density`'s settings before any fitting starts.

    Returns ``n_components``, ``batch``, ``patience`` and ``nn_width`` as ``int``.
    """
    sizes = (
        check_int("n_components", n_components),
        check_int("batch", batch),
        check_int("patience", patience),
        check_int("nn_width", nn_width),
    )
    if peak_lr is not None:
        check_number("peak_lr", peak_lr)
    if time_budget is not None:
        check_number("time_budget", time_budget)
    if train_rotations not in (None, True, False):
        raise ValueError(f"train_rotations must be True, False or None; got {train_rotations!r}")
    return sizes


def _split_rows(X: Array, n_val: int, random_state: int) -> tuple[Array, Array]:
    """``(training rows, held-out rows)``: ``n_val`` random rows held out, order kept.

    Without held-out rows (``n_val == 0``) both are all of ``X``.
    """
    if not n_val:
        return X, X
    order = np.random.default_rng(random_state).permutation(X.shape[0])
    return X[np.sort(order[n_val:])], X[np.sort(order[:n_val])]


def _best_on_held_out(
    fits: list[Transformed], X_val: Array, C_val: Array | None = None
) -> Transformed:
    """The fit with the lowest mean NLL on the held-out rows (the first among equals)."""
    if len(fits) == 1:
        return fits[0]
    held_out = eqx.filter_jit(mean_nll)
    return min(fits, key=lambda flow: float(held_out(flow, X_val, C_val)))


def _all_but_rotations(flow: Transformed):
    """A ``train_flow`` filter: every inexact array of ``flow`` except the rotations'."""
    spec = jax.tree.map(eqx.is_inexact_array, flow)
    def rotations(f):
        if layout.is_conditional_flow(f):
            return layout.conditional_gaussianizer(f).stack.blocks.rotation_parts()
        return layout.blocks(f).rotation_parts()

    return eqx.tree_at(
        rotations,
        spec,
        replace_fn=lambda rotation: jax.tree.map(lambda _: False, rotation),
    )
