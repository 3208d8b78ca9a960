"""The recommended one-call fit: greedy RBIG, then fine-tuning early-stopped on held-out rows."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.random as jr
import numpy as np
from flowjax.distributions import Transformed
from jaxtyping import ArrayLike

from gauss_flows._validation import as_data_matrix
from gauss_flows.fit.rbig import fit_rbig
from gauss_flows.fit.rbig_coupling import fit_rbig_coupling
from gauss_flows import layout
from gauss_flows.train import _check_positive_int, _mean_nll, train_flow

#: Fewest held-out rows worth splitting off; smaller data trains on every row.
MIN_VAL_ROWS = 50

#: Fine-tuning steps when none are given.
DEFAULT_STEPS = 3000

#: The architectures :func:`fit_density` knows; ``"auto"`` picks one from the data's width.
ARCHITECTURES = ("auto", "coupling", "diagonal")

#: Training rows per column from which ``architecture="auto"`` uses coupling layers.
COUPLING_MIN_ROWS_PER_DIM = 50

#: Training rows per column from which fine-tuning also trains the rotations: they did
#: on digits (24 rows per column) and overfitted at once on MNIST-5k (4.6).
ROTATION_MIN_ROWS_PER_DIM = 10


def default_peak_lr(steps: int) -> float:
    """The recipe's peak learning rate for a budget of ``steps`` fine-tuning steps.

    1e-3 from 3000 steps up; shorter budgets need a larger rate to move the greedy fit
    at all, so it grows as ``1e-3·√(3000/steps)`` up to 3e-3 (reached at 333 steps).
    Measured with :func:`fit_density`: at 300 steps, 3e-3 against 1e-3 gave held-out
    NLL 1.719 vs 1.729 on moons and test log-likelihood −0.030 vs −0.146 on a
    10,000-row POWER sample; at 200 steps on digits, 76.67 vs 75.64.

    Example:
        >>> from gauss_flows.recipe import default_peak_lr
        >>> default_peak_lr(3000), default_peak_lr(300)
        (0.001, 0.003)
    """
    return 1e-3 * min(3.0, max(1.0, (DEFAULT_STEPS / steps) ** 0.5))


def default_noise_level(n_rows: int) -> float:
    """Input-noise level the recipe tries, as a share of each column's standard deviation.

    ``0.25·n^(−1/5)``: the one-dimensional kernel-bandwidth rate, a quarter of it, so the
    smoothing fades as data grow (0.05 at 3,000 rows, 0.014 at 1.6 million). Chosen on
    moons, where it took the coupling recipe's held-out NLL from 1.696 to 1.644; on a
    POWER sample the same noise hurt (test NLL −0.101 → 0.107), which is why
    ``noise="auto"`` keeps it only where the held-out rows prefer it.

    Example:
        >>> from gauss_flows.recipe import default_noise_level
        >>> round(default_noise_level(3000), 4)
        0.0504
    """
    return 0.25 * n_rows ** -0.2


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


def _noise_levels(noise: float | str, n_rows: int, honest_split: bool) -> list[float]:
    if isinstance(noise, str):
        if noise != "auto":
            raise ValueError(f"noise must be 'auto' or a non-negative number; got {noise!r}")
        # Without separate held-out rows the choice could only favour the noise-free fit.
        return [0.0, default_noise_level(n_rows)] if honest_split else [0.0]
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (
        math.isfinite(noise) and noise >= 0
    ):
        raise ValueError(f"noise must be 'auto' or a non-negative number; got {noise!r}")
    return [float(noise)]


def held_out_rows(n_rows: int, *, val_fraction: float = 0.1, n_components: int = 8) -> int:
    """Rows :func:`fit_density` holds out of ``n_rows`` for early stopping (0: none).

    ``round(val_fraction · n_rows)`` rows, or none when that is under
    :data:`MIN_VAL_ROWS` or would leave fewer than ``2 · n_components`` rows to fit on;
    the fit then trains and stops on every row.

    Example:
        >>> from gauss_flows.recipe import held_out_rows
        >>> held_out_rows(3000), held_out_rows(400)
        (300, 0)
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie in [0, 1); got {val_fraction!r}")
    n_val = int(round(val_fraction * n_rows))
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
    steps = DEFAULT_STEPS if steps is None else steps
    _check_positive_int("steps", steps)
    n_val = held_out_rows(n_rows, val_fraction=val_fraction, n_components=n_components)
    levels = _noise_levels(noise, n_rows - n_val, n_val > 0)[:steps]
    return [(level, steps // len(levels)) for level in levels]


def fit_density(
    X: ArrayLike,
    *,
    architecture: str = "auto",
    n_layers: int | None = None,
    n_components: int = 8,
    steps: int | None = None,
    peak_lr: float | None = None,
    noise: float | str = "auto",
    val_fraction: float = 0.1,
    random_state: int = 0,
    progress: bool = False,
    time_budget: float | None = None,
    rotation: str = "sliced",
    max_layers: int | None = None,
    batch: int = 512,
    patience: int = 40,
    nn_width: int = 32,
    train_rotations: bool | None = None,
) -> Transformed:
    """Fit a Gaussianization flow the recommended way: greedy fit, then fine-tuning.

    1. A share ``val_fraction`` of the rows (shuffled with ``random_state``) is held out.
    2. The training rows are fitted greedily (:func:`fit_rbig`, or
       :func:`fit_rbig_coupling` for the coupling architecture); with ``n_layers=None``
       the depth is the one with the best held-out likelihood.
    3. :func:`train_flow` fine-tunes that flow (Adam, clipping, one-cycle cosine LR; with
       fewer than 10 training rows per column the rotations stay as fitted) and
       stops once the held-out NLL has not improved for ``patience`` records of 25
       steps; the flow with the best held-out NLL is kept (the greedy fit itself if
       fine-tuning never beats it). With ``noise="auto"`` this is done twice, on the rows
       as they are and with a little Gaussian input noise (:func:`default_noise_level`),
       each run taking half of the ``steps`` budget, and the fit with the better
       held-out NLL is returned.

    Args:
        X: Data, shape ``(n_samples, n_dims)``.
        architecture: ``"coupling"`` (rotations and mixture-CDF couplings whose mixtures
            depend on the other half of the dimensions), ``"diagonal"`` (rotations and
            per-dimension mixture-CDF maps) or ``"auto"``: coupling when there are at
            least 2 columns and 50 training rows per column, diagonal otherwise. The
            conditioners grow with the width of the data and overfit where rows are few:
            in the quick benchmark the coupling recipe won on moons, POWER and image
            patches (143 rows per column) but lost to greedy RBIG alone on scikit-learn's
            digits (21 rows per column), where the diagonal recipe wins.
        n_layers: Greedy depth; ``None`` picks it on held-out rows.
        n_components: Mixture components per dimension.
        steps: Most fine-tuning gradient steps in all. Defaults to 3000. With
            ``noise="auto"`` each of the two runs gets half of them (a budget of a
            single step trains noise-free only).
        peak_lr: Peak fine-tuning learning rate. Defaults to 1e-3 for runs of 3000
            steps or more, a rate that refines the greedy solution without undoing it,
            and rises as ``1e-3·√(3000/steps)`` (at most 3e-3) for shorter runs, which
            measured better on moons, POWER and digits (see :func:`default_peak_lr`).
        noise: Gaussian input noise during fine-tuning, as a share of each column's
            standard deviation; ``"auto"`` tries none and :func:`default_noise_level`
            and keeps the better on held-out rows (none when there are no separate
            held-out rows).
        val_fraction: Share of rows held out for depth choice, early stopping and the
            noise choice; with fewer than 50 held-out rows the whole set is used for
            fitting and stopping (there is then no honest early stopping).
        random_state: Seed for the split, the greedy fit, the conditioners and the
            minibatches.
        progress: Show a progress bar while fine-tuning.
        train_rotations: Fine-tune the blocks' rotations too. ``None`` (default): only
            with at least 10 training rows per column. A rotation has about ``d²/2``
            parameters; on MNIST-5k (784 columns, 4.6 rows per column) fine-tuning every
            parameter never beat the greedy fit on held-out rows while fine-tuning the
            marginal maps alone did; on digits (24 rows per column) training the
            rotations too beat the greedy fit.
        time_budget: Stop fine-tuning after about this many seconds in all (shared
            equally by the noise levels tried).
        rotation: Rotation of the greedy blocks (see :func:`fit_rbig`).
        max_layers: Cap on the greedy depth when it is chosen on held-out rows;
            ``None``: 8 for the coupling architecture, 64 for the diagonal one.
        batch: Fine-tuning minibatch size (capped at the number of training rows).
        patience: Records (of 25 steps) without held-out improvement before stopping.
        nn_width: Hidden width of the coupling conditioners.

    Returns:
        A flowjax ``Transformed`` with the structure of :func:`coupling_gaussianization_flow`
        or :func:`gaussianization_flow`.

    Raises:
        ValueError: For bad data (NaN/inf, wrong rank, too few rows, constant columns), a
            ``val_fraction`` outside ``[0, 1)``, an unknown ``architecture`` or
            ``noise``, or a ``train_rotations`` that is not a bool or ``None``.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((400, 2))
        >>> flow = gf.fit_density(X, steps=100)
        >>> bool(np.isfinite(flow.log_prob(X[:5])).all())
        True
    """
    X = as_data_matrix(X, min_rows=max(2 * n_components, 3))
    n, n_dims = X.shape
    if train_rotations not in (None, True, False):
        raise ValueError(f"train_rotations must be True, False or None; got {train_rotations!r}")
    runs = fine_tuning_runs(
        n, steps=steps, noise=noise, val_fraction=val_fraction, n_components=n_components
    )
    n_val = held_out_rows(n, val_fraction=val_fraction, n_components=n_components)
    if n_val:
        order = np.random.default_rng(random_state).permutation(n)
        X_train, X_val = X[np.sort(order[n_val:])], X[np.sort(order[:n_val])]
    else:
        X_train, X_val = X, X
    architecture = _choose_architecture(architecture, X_train.shape[0], n_dims)

    greedy_options = dict(
        n_layers=n_layers,
        n_components=n_components,
        random_state=random_state,
        rotation=rotation,
        max_layers=(8 if architecture == "coupling" else 64) if max_layers is None else max_layers,
        val_data=X_val,
    )
    if architecture == "coupling":
        greedy = fit_rbig_coupling(
            X_train, key=jr.key(random_state), nn_width=nn_width, **greedy_options
        )
    else:
        greedy = fit_rbig(X_train, **greedy_options)

    if train_rotations is None:
        train_rotations = X_train.shape[0] >= ROTATION_MIN_ROWS_PER_DIM * n_dims
    trainable = None if train_rotations else _all_but_rotations(greedy)
    column_std = X_train.std(axis=0)
    fits = [
        train_flow(
            greedy,
            X_train,
            steps=run_steps,
            peak_lr=default_peak_lr(run_steps) if peak_lr is None else peak_lr,
            batch=min(batch, X_train.shape[0]),
            seed=random_state + 1,
            val_data=X_val,
            patience=patience,
            progress=progress,
            time_budget=None if time_budget is None else time_budget / len(runs),
            noise_std=level * column_std,
            trainable=trainable,
        )[0]
        for level, run_steps in runs
    ]
    if len(fits) == 1:
        return fits[0]
    held_out = eqx.filter_jit(_mean_nll)
    return min(fits, key=lambda f: float(held_out(*eqx.partition(f, eqx.is_inexact_array), X_val)))


def _all_but_rotations(flow: Transformed):
    """A ``train_flow`` filter: every inexact array of ``flow`` except the rotations'."""
    spec = jax.tree.map(eqx.is_inexact_array, flow)
    return eqx.tree_at(
        lambda f: layout.blocks(f).rotation_parts(),
        spec,
        replace_fn=lambda rotation: jax.tree.map(lambda _: False, rotation),
    )
