"""Every plot renders headless to a non-empty PNG with the expected axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import pytest

import gauss_flows as gf
from gauss_flows import plotting


@pytest.fixture(scope="module")
def data_and_flow():
    X = np.random.default_rng(0).standard_exponential((300, 2))
    return X, gf.fit_rbig(X, n_layers=3, n_components=4)


def _save(fig, tmp_path, name) -> None:
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=50)
    plt.close(fig)
    assert path.stat().st_size > 1000


def test_plot_density(data_and_flow, tmp_path):
    X, flow = data_and_flow
    fig = plotting.plot_density(flow, X)
    assert len(fig.axes) == 2  # the contours and their colour bar
    _save(fig, tmp_path, "density")
    fig, ax = plt.subplots()
    assert plotting.plot_density(flow, ax=ax, log=True, grid_size=40) is fig
    _save(fig, tmp_path, "density_log")


def test_plot_samples(data_and_flow, tmp_path):
    X, flow = data_and_flow
    fig = plotting.plot_samples(flow, X, jr.key(0))
    assert len(fig.axes) == 2
    _save(fig, tmp_path, "samples")


def test_plot_training_curves(tmp_path):
    fig = plotting.plot_training_curves([3.0, 2.4, 2.1, 2.0], [3.1, 2.6, 2.3, 2.2], log_every=25)
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2
    assert fig.axes[0].lines[0].get_xdata().tolist() == [0, 25, 50, 75]
    _save(fig, tmp_path, "training")


def test_plot_training_curves_from_a_training_log(tmp_path):
    from gauss_flows.train import TrainingLog

    log = TrainingLog(
        steps=np.array([0, 10, 20]),
        loss=np.array([3.0, 2.5, 2.2]),
        monitored={"training set": np.array([3.1, 2.6, 2.3]), "held out": np.array([3.2, 2.8, 2.7])},
    )
    fig = plotting.plot_training_curves(log)
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ["train", "training set", "held out"]
    assert all(line.get_xdata().tolist() == [0, 10, 20] for line in lines)
    _save(fig, tmp_path, "training_log")
    single = TrainingLog(np.array([0, 25]), np.array([2.0, 1.5]), {"val_data": np.array([2.1, 1.7])})
    labels = [line.get_label() for line in plotting.plot_training_curves(single).axes[0].lines]
    assert labels == ["train", "validation"]
    plt.close("all")
    with pytest.raises(ValueError, match="val_nll"):
        plotting.plot_training_curves(single, [1.0, 2.0])


def test_plot_layers(data_and_flow, tmp_path):
    X, flow = data_and_flow
    fig = plotting.plot_layers(flow, X)
    assert len(fig.axes) == 4  # standardised data + 3 blocks
    _save(fig, tmp_path, "layers")
    assert len(plotting.plot_layers(flow, X, blocks=[0, 3]).axes) == 2


def test_plot_diagnostics(data_and_flow, tmp_path):
    X, flow = data_and_flow
    table = gf.inspect_layers(flow, X, tc_method="gaussian")
    fig = plotting.plot_diagnostics(table)
    assert len(fig.axes) == 5
    _save(fig, tmp_path, "diagnostics")
    fig, ax = plt.subplots()
    plotting.plot_diagnostics(table, ["nongaussianity", "negentropy"], ax=ax, log=True)
    assert len(fig.axes) == 1 and len(ax.lines) == 2
    _save(fig, tmp_path, "diagnostics_one_axes")


def test_plot_errors(data_and_flow):
    X, flow = data_and_flow
    flow3 = gf.fit_rbig(np.random.default_rng(0).normal(size=(100, 3)), n_layers=1, n_components=2)
    with pytest.raises(ValueError, match="2-D flow"):
        plotting.plot_density(flow3)
    with pytest.raises(ValueError, match="out of range"):
        plotting.plot_layers(flow, X, blocks=[9])
    with pytest.raises(ValueError, match="LayerTable"):
        plotting.plot_diagnostics({"block": [0]})
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_training_curves([])
