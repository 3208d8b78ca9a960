"""Coupling Gaussianization flows beside flowjax's spline coupling flow, in one run.

On the seed's moons (3000 standardised training rows; held out: a fresh sample with
``random_state=1`` standardised with the training mean and std), every gradient-trained
model gets the same loop (``gauss_flows.train_flow``: Adam, clipping, one-cycle cosine LR,
batch 512) for the same number of steps. A seed ``s`` sets every model's key, the greedy
fits' ``random_state`` and the minibatch seed (``1 + s``). It prints markdown tables of
held-out NLL and wall-clock, per seed and averaged over the seeds, and writes them to
``benchmarks/results/coupling.md``.

Run with ``python benchmarks/coupling.py [--steps 3000] [--seeds 0 1 2]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flowjax.bijections import RationalQuadraticSpline
from flowjax.distributions import StandardNormal
from flowjax.flows import coupling_flow

import gauss_flows as gf
from gauss_flows.datasets import load_moons

jax.config.update("jax_enable_x64", True)

RESULTS = Path(__file__).resolve().parent / "results" / "coupling.md"
DIAGONAL = dict(n_layers=8, n_components=8)
EXAMPLE = dict(n_layers=6, n_components=8, nn_width=16, offset_bound=1.0, log_scale_bound=0.5)
EXAMPLE_SETTINGS = "6 blocks (12 couplings) × 8 comps, MLP 1×16, offset bounds 1 and 0.5"
DEFAULTS = dict(n_layers=4, n_components=8)
DEFAULT_SETTINGS = "4 blocks (8 couplings) × 8 comps, MLP 1×32"
FLOWJAX_SETTINGS = "8 layers, RQ spline 8 knots on [-4, 4], MLP 1×50"
WARM = "coupling GF, warm (fit_rbig_coupling)"
PEER = "flowjax coupling_flow *(peer)*"


class Model(NamedTuple):
    """One benchmarked model: its label, settings, training schedule and builder."""

    name: str
    settings: str
    peak_lr: float
    warmup: float
    build: Callable[[], object]


class Config(NamedTuple):
    """What identifies a model across seeds."""

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


def models(X: jax.Array, seed: int) -> list[Model]:
    """Every model of one seed; ``build`` is timed with the training."""
    key = jr.key(seed)
    spline = RationalQuadraticSpline(knots=8, interval=4.0)
    flowjax = lambda: coupling_flow(key, base_dist=StandardNormal((2,)), transformer=spline, flow_layers=8)
    return [
        Model(WARM, f"{EXAMPLE_SETTINGS}; greedy component_counts=(2, 8)", 1e-3, 0.02,
              lambda: gf.fit_rbig_coupling(X, key=key, random_state=seed, component_counts=(2, 8),
                                           **EXAMPLE)),
        Model("coupling GF, cold", EXAMPLE_SETTINGS, 3e-3, 0.3,
              lambda: gf.coupling_gaussianization_flow(key, n_dims=2, **EXAMPLE)),
        Model(WARM, DEFAULT_SETTINGS, 1e-3, 0.3,
              lambda: gf.fit_rbig_coupling(X, key=key, random_state=seed, **DEFAULTS)),
        Model(WARM, f"{DEFAULT_SETTINGS}; greedy component_counts=(2, 4)", 1e-3, 0.05,
              lambda: gf.fit_rbig_coupling(X, key=key, random_state=seed, component_counts=(2, 4),
                                           **DEFAULTS)),
        Model("coupling GF, cold", DEFAULT_SETTINGS, 3e-3, 0.3,
              lambda: gf.coupling_gaussianization_flow(key, n_dims=2, **DEFAULTS)),
        Model("diagonal GF, warm (fit_rbig)", "8 blocks × 8 comps", 1e-3, 0.3,
              lambda: gf.fit_rbig(X, random_state=seed, **DIAGONAL)),
        Model(PEER, FLOWJAX_SETTINGS, 1e-3, 0.3, flowjax),
        Model(PEER, FLOWJAX_SETTINGS, 3e-3, 0.3, flowjax),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    moons = load_moons(n_val=3000)  # the seed's training rows; held out: random_state=1
    X, X_test = jnp.asarray(moons.train), jnp.asarray(moons.val)
    nll = lambda flow, data: -float(jax.vmap(flow.log_prob)(data).mean())

    rows: list[Result] = []
    for seed in args.seeds:
        for model in models(X, seed):
            t0 = time.perf_counter()
            flow = model.build()
            flow, _ = gf.train_flow(flow, X, steps=args.steps, peak_lr=model.peak_lr,
                                    warmup=model.warmup, seed=1 + seed)
            jax.block_until_ready(flow)
            seconds = time.perf_counter() - t0
            config = Config(model.name, model.settings, model.peak_lr, model.warmup)
            rows.append(Result(seed, config, nll(flow, X), nll(flow, X_test), seconds))
            print(f"seed {seed}: {model.name}, {model.settings}, lr {model.peak_lr:g}: "
                  f"held-out NLL {rows[-1].test:.4f} ({seconds:.0f} s)", flush=True)

    lines = [
        f"# Coupling Gaussianization vs flowjax coupling flow (moons, {args.steps} steps)",
        "",
        f"Training: 3000 standardised moons (noise 0.08, random_state=0); held out: 3000 fresh "
        f"rows (random_state=1). Every model: `gf.train_flow`, {args.steps} steps × batch 512, "
        f"float64, on {platform.machine()} {jax.devices()[0].platform.upper()} "
        f"({jax.device_count()} device); warm-up: the fraction of the steps over which the "
        "learning rate rises to its peak. Seeds: "
        f"{', '.join(map(str, args.seeds))} (a seed sets the keys, the greedy fits' "
        "random_state and the minibatch seed). Time includes building/greedy fitting, "
        "compilation and training. Lower NLL is better. The first row is the setting of "
        "`examples/coupling_warm_start.py`.",
        "",
    ]
    configs = list(dict.fromkeys(r.config for r in rows))
    mean_test = {}
    header = "| model | settings | peak LR | warm-up | train NLL | held-out NLL | per seed | time (s) |"
    lines += ["Averaged over the seeds:", "", header, "|---|---|---|---|---|---|---|---|"]
    for config in configs:
        mine = [r for r in rows if r.config == config]
        mean_test[config] = float(np.mean([r.test for r in mine]))
        lines.append(
            f"| {config.name} | {config.settings} | {config.peak_lr:g} | {config.warmup:g} "
            f"| {np.mean([r.train for r in mine]):.4f} | {mean_test[config]:.4f} "
            f"| {', '.join(f'{r.test:.4f}' for r in mine)} "
            f"| {np.mean([r.seconds for r in mine]):.0f} |"
        )
    warm = configs[0]
    peers = [c for c in configs if c.name == PEER]
    best_peer = min(peers, key=mean_test.get)
    test_of = {(r.seed, r.config): r.test for r in rows}
    lines += ["", "Warm coupling GF (first row) minus flowjax coupling flow, held-out NLL:", ""]
    lines += ["| seed | " + " | ".join(f"minus flowjax at lr {c.peak_lr:g}" for c in peers) + " |",
              "|---|" + "---|" * len(peers)]
    for seed in args.seeds:
        diffs = (test_of[seed, warm] - test_of[seed, c] for c in peers)
        lines.append(f"| {seed} | " + " | ".join(f"{d:+.4f}" for d in diffs) + " |")
    lines += ["", f"Mean held-out NLL over the seeds against flowjax at its better learning rate "
              f"({best_peer.peak_lr:g}, {mean_test[best_peer]:.4f}):", ""]
    for config in configs:
        if config.name == WARM:
            diff = mean_test[config] - mean_test[best_peer]
            lines.append(f"- {config.name}, {config.settings}: {mean_test[config]:.4f}, "
                         f"{diff:+.4f} nats ({'at least as good' if diff <= 0 else 'worse'}).")
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


if __name__ == "__main__":
    main()
