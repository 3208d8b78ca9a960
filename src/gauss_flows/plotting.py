"""Plots of flows, data, training and per-block diagnostics (matplotlib, imported lazily).

The core library does not need matplotlib: it is imported inside each function. Every
function returns the matplotlib ``Figure`` it drew on and works headless (set the ``Agg``
backend, or run where no display is available).

Example:
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import jax.random as jr
    >>> import gauss_flows as gf
    >>> from gauss_flows import plotting
    >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
    >>> len(plotting.plot_density(flow, grid_size=20).axes)  # contours and colour bar
    2
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jaxtyping import ArrayLike, PRNGKeyArray

from gauss_flows._validation import as_data_matrix, check_int
from gauss_flows.inspect import LayerTable, forward_with_intermediates
from gauss_flows.train import TrainingLog

if TYPE_CHECKING:  # pragma: no cover
    from flowjax.distributions import Transformed
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_SCATTER = dict(s=4, alpha=0.35, linewidths=0, color="tab:blue")


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("gauss_flows.plotting needs matplotlib (pip install matplotlib)") from err
    return plt


def _style(ax: Axes) -> Axes:
    ax.grid(True, alpha=0.25, lw=0.6)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def _axes(ax: Axes | None, figsize=(4.5, 4.0)) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig, ax = _pyplot().subplots(figsize=figsize, constrained_layout=True)
    return fig, ax


def _two_d(flow: Transformed) -> None:
    if tuple(flow.shape) != (2,):
        raise ValueError(f"this plot needs a 2-D flow; the flow has shape {tuple(flow.shape)}")


def _points(X: ArrayLike, name: str = "X", n_dims: int | None = None) -> np.ndarray:
    return np.asarray(as_data_matrix(X, name=name, min_rows=1, n_dims=n_dims, check_constant=False))


def plot_density(
    flow: Transformed,
    X: ArrayLike | None = None,
    ax: Axes | None = None,
    *,
    grid_size: int = 150,
    limits: tuple[tuple[float, float], tuple[float, float]] | None = None,
    levels: int = 12,
    log: bool = False,
    title: str | None = "learned density",
) -> Figure:
    """Filled contours of a 2-D flow's density, with the data on top.

    Args:
        flow: A flow over 2-D data.
        X: Data to overlay (also sets the plotting window when ``limits`` is ``None``).
        ax: Axes to draw on; a new figure when ``None``.
        grid_size: Grid points per axis.
        limits: ``((x_min, x_max), (y_min, y_max))``; defaults to the data range plus a
            margin, or ``±3`` without data.
        levels: Number of contour levels.
        log: Contour the log density instead of the density.
        title: Axes title.

    Returns:
        The Figure, with the contours and their colour bar.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows.plotting import plot_density
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> fig = plot_density(gf.fit_rbig(X, n_layers=2, n_components=4), X, log=True)
    """
    _two_d(flow)
    grid_size = check_int("grid_size", grid_size, least=2)
    pts = None if X is None else _points(X, n_dims=2)
    if limits is None:
        if pts is None:
            limits = ((-3.0, 3.0), (-3.0, 3.0))
        else:
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            pad = 0.15 * (hi - lo)
            limits = ((lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1]))
    gx = np.linspace(*limits[0], grid_size)
    gy = np.linspace(*limits[1], grid_size)
    xx, yy = np.meshgrid(gx, gy)
    grid = jnp.asarray(np.column_stack([xx.ravel(), yy.ravel()]))
    log_p = np.asarray(flow.log_prob(grid)).reshape(xx.shape)
    values = log_p if log else np.exp(log_p)
    values = np.where(np.isfinite(values), values, np.nan)
    fig, ax = _axes(ax)
    filled = ax.contourf(xx, yy, values, levels=levels, cmap="viridis")
    fig.colorbar(filled, ax=ax, shrink=0.8, label="log density" if log else "density")
    if pts is not None:
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.25, linewidths=0, color="white")
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    if title:
        ax.set_title(title)
    return fig


def plot_samples(
    flow: Transformed,
    X: ArrayLike,
    key: PRNGKeyArray,
    ax: Axes | Sequence[Axes] | None = None,
    *,
    n_samples: int | None = None,
) -> Figure:
    """Samples from a 2-D flow beside the data, on two panels with shared limits.

    Args:
        flow: A flow over 2-D data.
        X: The data.
        key: JAX random key for sampling.
        ax: Two axes (data, samples) to draw on; a new figure when ``None``.
        n_samples: Number of samples (defaults to the number of data rows).

    Returns:
        The Figure, with the data on the left and the samples on the right.

    Example:
        >>> import jax.random as jr
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows.plotting import plot_samples
        >>> X = np.random.default_rng(0).normal(size=(300, 2))
        >>> fig = plot_samples(gf.fit_rbig(X, n_layers=2, n_components=4), X, jr.key(0))
    """
    _two_d(flow)
    pts = _points(X, n_dims=2)
    n = pts.shape[0] if n_samples is None else check_int("n_samples", n_samples)
    samples = np.asarray(flow.sample(key, (n,)))
    if ax is None:
        fig, axes = _pyplot().subplots(1, 2, figsize=(8.5, 4.0), sharex=True, sharey=True, constrained_layout=True)
    else:
        axes = list(ax)
        if len(axes) != 2:
            raise ValueError(f"plot_samples needs two axes (data, samples); got {len(axes)}")
        fig = axes[0].figure
    for a, p, name in zip(axes, (pts, samples), ("data", "flow samples")):
        a.scatter(p[:, 0], p[:, 1], **_SCATTER)
        a.set_title(name)
        _style(a)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.15 * (hi - lo)
    axes[0].set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    axes[0].set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    return fig


def plot_training_curves(
    train_nll: ArrayLike | TrainingLog,
    val_nll: ArrayLike | None = None,
    log_every: int = 25,
    ax: Axes | None = None,
    *,
    title: str | None = "training",
) -> Figure:
    """Negative log-likelihood against the step, as :func:`train_flow` records it.

    Args:
        train_nll: The :class:`~gauss_flows.train.TrainingLog` of a run (its minibatch
            loss and every monitored data set, against its steps), or the training NLL
            alone, one entry per ``log_every`` steps.
        val_nll: With an array ``train_nll``: held-out NLL on the same schedule, if any.
        log_every: With an array ``train_nll``: steps between entries.
        ax: Axes to draw on; a new figure when ``None``.
        title: Axes title.

    Returns:
        The Figure, one line per curve.

    Raises:
        ValueError: If there is no record, or ``val_nll`` comes with a ``TrainingLog``
            (which holds its monitored data sets itself).

    Example:
        >>> import numpy as np
        >>> from gauss_flows.plotting import plot_training_curves
        >>> from gauss_flows.train import TrainingLog
        >>> log = TrainingLog(
        ...     np.array([0, 25]), np.array([3.0, 2.5]), {"val_data": np.array([3.1, 2.6])}
        ... )
        >>> len(plot_training_curves(log).axes[0].lines)
        2
        >>> fig = plot_training_curves([3.0, 2.5, 2.2], [3.1, 2.6, 2.4], log_every=25)
    """
    curves = _training_curves(train_nll, val_nll, check_int("log_every", log_every))
    fig, ax = _axes(ax, figsize=(5.0, 3.5))
    for i, (label, steps, values) in enumerate(curves):
        ax.plot(steps, values, label=label, color=_COLOURS[i % len(_COLOURS)])
    ax.set_xlabel("step")
    ax.set_ylabel("NLL (nats)")
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    _style(ax)
    return fig


_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _training_curves(
    train_nll: ArrayLike | TrainingLog, val_nll: ArrayLike | None, log_every: int
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, steps, NLL)`` of every curve :func:`plot_training_curves` draws."""
    if isinstance(train_nll, TrainingLog):
        if val_nll is not None:
            raise ValueError("val_nll goes with an array train_nll; a TrainingLog holds its own")
        log = train_nll
        curves = [("train", log.steps, np.asarray(log.loss, dtype=float))]
        curves += [
            ("validation" if name == "val_data" else name, log.steps, np.asarray(v, dtype=float))
            for name, v in log.monitored.items()
        ]
    else:
        train = np.asarray(train_nll, dtype=float).ravel()
        curves = [("train", np.arange(train.size) * log_every, train)]
        if val_nll is not None:
            val = np.asarray(val_nll, dtype=float).ravel()
            curves.append(("validation", np.arange(val.size) * log_every, val))
    if curves[0][2].size == 0:
        raise ValueError("train_nll is empty")
    return curves


def plot_layers(
    flow: Transformed,
    X: ArrayLike,
    *,
    blocks: Sequence[int] | None = None,
    n_cols: int = 5,
    max_points: int = 3000,
    panel_size: float = 2.4,
) -> Figure:
    """A panel of the 2-D data after each block of a flow (block 0: standardised data).

    Args:
        flow: A flow over 2-D data.
        X: The data.
        blocks: Which states to show (default: all, from 0 to the latent).
        n_cols: Panels per row.
        max_points: Plot at most this many rows.
        panel_size: Size of each panel in inches.

    Returns:
        The Figure, one Axes per shown state.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows.plotting import plot_layers
        >>> X = np.random.default_rng(0).standard_exponential((300, 2))
        >>> fig = plot_layers(gf.fit_rbig(X, n_layers=3, n_components=4), X)
        >>> len(fig.axes)
        4
    """
    _two_d(flow)
    n_cols, max_points = check_int("n_cols", n_cols), check_int("max_points", max_points)
    pts = _points(X, n_dims=2)[:max_points]
    states = np.asarray(forward_with_intermediates(flow, pts).states)
    chosen = list(range(states.shape[0])) if blocks is None else [int(b) for b in blocks]
    for b in chosen:
        if not 0 <= b < states.shape[0]:
            raise ValueError(f"block {b} out of range: the flow has states 0..{states.shape[0] - 1}")
    n_cols = max(1, min(n_cols, len(chosen)))
    n_rows = -(-len(chosen) // n_cols)
    plt = _pyplot()
    fig = plt.figure(figsize=(panel_size * n_cols, panel_size * n_rows), constrained_layout=True)
    for i, b in enumerate(chosen):
        ax = fig.add_subplot(n_rows, n_cols, i + 1)
        ax.scatter(states[b, :, 0], states[b, :, 1], **_SCATTER)
        ax.set_title("standardised data" if b == 0 else f"after block {b}", fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=7)
        _style(ax)
    return fig


def plot_diagnostics(
    table: LayerTable,
    columns: Sequence[str] = ("nongaussianity", "negentropy", "total_correlation", "cov_error", "ks"),
    *,
    ax: Axes | None = None,
    log: bool = False,
) -> Figure:
    """Diagnostic curves against depth from :func:`inspect_layers`, one panel per column.

    Args:
        table: A :class:`~gauss_flows.inspect.LayerTable`.
        columns: Columns to plot.
        ax: Draw every column on this one Axes instead of one panel each.
        log: Logarithmic y axis (non-positive values are dropped).

    Returns:
        The Figure: one panel per column, or the given Axes' figure.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> from gauss_flows.plotting import plot_diagnostics
        >>> X = np.random.default_rng(0).standard_exponential((300, 2))
        >>> table = gf.inspect_layers(gf.fit_rbig(X, n_layers=3, n_components=4), X)
        >>> len(plot_diagnostics(table, ["nongaussianity", "ks"]).axes)
        2
    """
    if not isinstance(table, LayerTable):
        raise ValueError(f"plot_diagnostics needs a LayerTable from inspect_layers; got {type(table).__name__}")
    columns = list(columns)
    if not columns:
        raise ValueError("no columns to plot")
    for c in columns:
        table[c]  # KeyError naming the columns for unknown names
    depth = table["block"]
    descriptions = table.describe()
    if ax is not None:
        fig, axes = ax.figure, [ax] * len(columns)
    else:
        plt = _pyplot()
        fig, axes = plt.subplots(
            1, len(columns), figsize=(3.2 * len(columns), 3.0), squeeze=False, constrained_layout=True
        )
        axes = list(axes[0])
    for a, c in zip(axes, columns):
        y = np.asarray(table[c], dtype=float)
        if log:
            y = np.where(y > 0, y, np.nan)
        a.plot(depth, y, marker="o", ms=3, label=c)
        if log:
            a.set_yscale("log")
        a.set_xlabel("block")
        if ax is None:
            a.set_title(c, fontsize=10)
            a.set_ylabel("nats" if "nats" in descriptions.get(c, "") else "")
        _style(a)
    if ax is not None:
        ax.legend(frameon=False, fontsize=8)
    return fig
