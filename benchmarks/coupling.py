"""Coupling Gaussianization flows beside flowjax's spline coupling flow, in one run.

On the seed's moons (3000 standardised training rows; held out: a fresh sample with
``random_state=1`` standardised with the training mean and std), every gradient-trained
model gets the same loop (``gauss_flows.train_flow``: Adam, clipping, one-cycle cosine LR,
batch 512) for the same number of steps. A seed ``s`` sets every model's key, the greedy
fits' ``random_state`` and the minibatch seed (``1 + s``). Every model comes from the one
registry (``benchmarks/_models.py``). The report gives held-out NLL and wall-clock, per
seed and averaged over the seeds: ``benchmarks/results/coupling.md``.

Run with ``python benchmarks/coupling.py [--steps 3000] [--seeds 0 1 2]``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from _common import moons_split, moons_study_args, nll, timed
from _models import MODELS, Budget, Model, fit_model
from _report import markdown_table, write_report

EXAMPLE = dict(n_layers=6, n_components=8, nn_width=16, offset_bound=1.0, log_scale_bound=0.5)
EXAMPLE_SETTINGS = "6 blocks (12 couplings) × 8 comps, MLP 1×16, offset bounds 1 and 0.5"
DEFAULTS = dict(n_layers=4, n_components=8, nn_width=32)  # the builders' defaults
DEFAULT_SETTINGS = "4 blocks (8 couplings) × 8 comps, MLP 1×32"
FLOWJAX_SETTINGS = "8 layers, RQ spline 8 knots on [-4, 4], MLP 1×50"
WARM = "coupling GF, warm (fit_rbig_coupling)"
PEER = "flowjax coupling_flow *(peer)*"


class Config(NamedTuple):
    """What identifies a model across seeds: its label, settings and training schedule."""

    name: str
    settings: str
    peak_lr: float
    warmup: float


class Result(NamedTuple):
    """One model trained on one seed."""

    seed: int
    config: Config
    train: float
    test: float
    seconds: float


def models() -> list[tuple[Config, Model]]:
    """Every model, with the schedule it trains on (the first: the example's setting)."""
    warm, cold = MODELS["coupling_warm"], MODELS["coupling_cold"]
    # flowjax's own coupling_flow defaults (MLP width 50), as published: StandardNormal base.
    flowjax = MODELS["flowjax_coupling"].variant(nn_width=50, trainable_base=False)
    rows = [
        (WARM, f"{EXAMPLE_SETTINGS}; greedy component_counts=(2, 8)", 1e-3, 0.02,
         warm.variant(component_counts=(2, 8), **EXAMPLE)),
        ("coupling GF, cold", EXAMPLE_SETTINGS, 3e-3, 0.3, cold.variant(**EXAMPLE)),
        (WARM, DEFAULT_SETTINGS, 1e-3, 0.3, warm.variant(**DEFAULTS)),
        (WARM, f"{DEFAULT_SETTINGS}; greedy component_counts=(2, 4)", 1e-3, 0.05,
         warm.variant(component_counts=(2, 4), **DEFAULTS)),
        ("coupling GF, cold", DEFAULT_SETTINGS, 3e-3, 0.3, cold.variant(**DEFAULTS)),
        ("diagonal GF, warm (fit_rbig)", "8 blocks × 8 comps", 1e-3, 0.3,
         MODELS["diag_warm"].variant(n_layers=8, n_components=8)),
        (PEER, FLOWJAX_SETTINGS, 1e-3, 0.3, flowjax),
        (PEER, FLOWJAX_SETTINGS, 3e-3, 0.3, flowjax),
    ]
    return [(Config(name, settings, lr, warmup),
             model.variant(training={"peak_lr": lr, "warmup": warmup}))
            for name, settings, lr, warmup, model in rows]


def measure(steps: int, seeds: list[int]) -> list[Result]:
    """Every model on every seed: build (or greedy fit) and train, timed together."""
    X, _, X_test = moons_split()
    rows = []
    for seed in seeds:
        budget = Budget(steps=steps, batch=512, seed=seed)
        for config, model in models():
            fitted, seconds = timed(lambda: fit_model(model, X, None, budget))
            rows.append(Result(seed, config, nll(fitted, X), nll(fitted, X_test), seconds))
            print(f"seed {seed}: {config.name}, {config.settings}, lr {config.peak_lr:g}: "
                  f"held-out NLL {rows[-1].test:.4f} ({seconds:.0f} s)", flush=True)
    return rows


def tables(rows: list[Result], seeds: list[int]) -> str:
    """The averaged table, the per-seed differences and the verdict lines."""
    configs = list(dict.fromkeys(r.config for r in rows))
    mean_test, averaged = {}, []
    for config in configs:
        mine = [r for r in rows if r.config == config]
        mean_test[config] = float(np.mean([r.test for r in mine]))
        averaged.append([config.name, config.settings, f"{config.peak_lr:g}", f"{config.warmup:g}",
                         f"{np.mean([r.train for r in mine]):.4f}", f"{mean_test[config]:.4f}",
                         ", ".join(f"{r.test:.4f}" for r in mine),
                         f"{np.mean([r.seconds for r in mine]):.0f}"])
    warm, peers = configs[0], [c for c in configs if c.name == PEER]
    best_peer = min(peers, key=mean_test.get)
    test_of = {(r.seed, r.config): r.test for r in rows}
    diffs = [[seed, *(f"{test_of[seed, warm] - test_of[seed, c]:+.4f}" for c in peers)]
             for seed in seeds]
    lines = [
        "Averaged over the seeds:", "",
        markdown_table(["model", "settings", "peak LR", "warm-up", "train NLL", "held-out NLL",
                        "per seed", "time (s)"], averaged),
        "", "Warm coupling GF (first row) minus flowjax coupling flow, held-out NLL:", "",
        markdown_table(["seed", *(f"minus flowjax at lr {c.peak_lr:g}" for c in peers)], diffs),
        "", f"Mean held-out NLL over the seeds against flowjax at its better learning rate "
        f"({best_peer.peak_lr:g}, {mean_test[best_peer]:.4f}):", "",
    ]
    for config in (c for c in configs if c.name == WARM):
        diff = mean_test[config] - mean_test[best_peer]
        lines.append(f"- {config.name}, {config.settings}: {mean_test[config]:.4f}, "
                     f"{diff:+.4f} nats ({'at least as good' if diff <= 0 else 'worse'}).")
    return "\n".join(lines)


def main() -> None:
    args = moons_study_args(__doc__)
    rows = measure(args.steps, args.seeds)
    body = (
        f"Training: 3000 standardised moons (noise 0.08, random_state=0); held out: 3000 fresh "
        f"rows (random_state=1). Every model: `gf.train_flow`, {args.steps} steps × batch 512, "
        "float64; warm-up: the fraction of the steps over which the learning rate rises to its "
        f"peak. Seeds: {', '.join(map(str, args.seeds))} (a seed sets the keys, the greedy "
        "fits' random_state and the minibatch seed). Time includes building/greedy fitting, "
        "compilation and training. Lower NLL is better. The first row is the setting of "
        "`examples/coupling_warm_start.py`.\n\n" + tables(rows, args.seeds)
    )
    print("\n" + body)
    title = f"Coupling Gaussianization vs flowjax coupling flow (moons, {args.steps} steps)"
    path = write_report(
        "coupling", title, body, data=[r._asdict() | {"config": r.config._asdict()} for r in rows])
    print("written to", path)


if __name__ == "__main__":
    main()
