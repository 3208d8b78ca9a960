"""Coupling Gaussianization flows beside flowjax's spline coupling flow, in one run.

On the seed's moons (3000 standardised training rows; held out: a fresh sample with
``random_state=1`` standardised with the training mean and std), every gradient-trained
model gets the same loop (``gauss_flows.train_flow``: Adam, clipping, one-cycle cosine LR,
batch 512) for the same number of steps. It prints a markdown table of held-out NLL and
wall-clock and writes it to ``benchmarks/results/coupling.md``.

Run with ``python benchmarks/coupling.py [--steps 3000]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import jax.random as jr
from flowjax.bijections import RationalQuadraticSpline
from flowjax.distributions import StandardNormal
from flowjax.flows import coupling_flow

import gauss_flows as gf
from gauss_flows.datasets import load_moons

jax.config.update("jax_enable_x64", True)

RESULTS = Path(__file__).resolve().parent / "results" / "coupling.md"
SIZES = dict(n_layers=8, n_components=8)


def models(X: jax.Array) -> list[tuple[str, str, float, Callable[[], object]]]:
    """``(name, settings, peak LR, build)`` for every model; ``build`` is timed too."""
    spline = RationalQuadraticSpline(knots=8, interval=4.0)
    flowjax = lambda: coupling_flow(jr.key(0), base_dist=StandardNormal((2,)), transformer=spline, flow_layers=8)
    return [
        ("coupling GF, warm (fit_rbig_coupling)", "4 blocks (8 couplings) × 8 comps, MLP 1×32", 1e-3,
         lambda: gf.fit_rbig_coupling(X, key=jr.key(0), random_state=0, n_layers=4, n_components=8)),
        ("coupling GF, warm, greedy K per dimension from (2, 4)",
         "4 blocks (8 couplings) × 8 comps, MLP 1×32; greedy component_counts=(2, 4)", 1e-3,
         lambda: gf.fit_rbig_coupling(X, key=jr.key(0), random_state=0, n_layers=4, n_components=8,
                                      component_counts=(2, 4))),
        ("coupling GF, cold", "4 blocks (8 couplings) × 8 comps, MLP 1×32", 3e-3,
         lambda: gf.coupling_gaussianization_flow(jr.key(0), n_dims=2, n_layers=4, n_components=8)),
        ("diagonal GF, warm (fit_rbig)", "8 blocks × 8 comps", 1e-3,
         lambda: gf.fit_rbig(X, random_state=0, **SIZES)),
        ("flowjax coupling_flow *(peer)*", "8 layers, RQ spline 8 knots on [-4, 4], MLP 1×50", 1e-3, flowjax),
        ("flowjax coupling_flow *(peer)*", "8 layers, RQ spline 8 knots on [-4, 4], MLP 1×50", 3e-3, flowjax),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    args = parser.parse_args()
    moons = load_moons(n_val=3000)  # the seed's training rows; held out: random_state=1
    X, X_test = jnp.asarray(moons.train), jnp.asarray(moons.val)
    nll = lambda flow, data: -float(jax.vmap(flow.log_prob)(data).mean())

    rows = []
    for name, settings, lr, build in models(X):
        t0 = time.perf_counter()
        flow = build()
        flow, traj = gf.train_flow(flow, X, steps=args.steps, peak_lr=lr)
        jax.block_until_ready(flow)
        seconds = time.perf_counter() - t0
        rows.append((name, settings, lr, nll(flow, X), nll(flow, X_test), seconds))
        print(f"{name} lr {lr:g}: held-out NLL {rows[-1][4]:.4f} ({seconds:.0f} s)", flush=True)

    lines = [
        f"# Coupling Gaussianization vs flowjax coupling flow (moons, {args.steps} steps)",
        "",
        f"Training: 3000 standardised moons (noise 0.08, random_state=0); held out: 3000 fresh "
        f"rows (random_state=1). Every model: `gf.train_flow`, {args.steps} steps × batch 512, "
        f"float64, on {platform.machine()} {jax.devices()[0].platform.upper()} "
        f"({jax.device_count()} device). Time includes building/greedy fitting, compilation "
        "and training. Lower NLL is better.",
        "",
        "| model | settings | peak LR | train NLL | held-out NLL | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for name, settings, lr, train, test, seconds in sorted(rows, key=lambda r: r[4]):
        lines.append(f"| {name} | {settings} | {lr:g} | {train:.4f} | {test:.4f} | {seconds:.0f} |")
    peer = min(r[4] for r in rows if "flowjax" in r[0])
    held_out = {name: test for name, _, _, _, test, _ in rows}
    cold = held_out["coupling GF, cold"]
    lines.append("")
    for label, name in (
        ("Warm coupling GF", "coupling GF, warm (fit_rbig_coupling)"),
        ("Warm coupling GF, greedy K from (2, 4)", "coupling GF, warm, greedy K per dimension from (2, 4)"),
    ):
        warm = held_out[name]
        lines.append(
            f"{label} minus best flowjax coupling flow, held-out NLL: {warm - peer:+.4f} nats "
            f"({'at least as good' if warm <= peer else 'worse'}); minus cold coupling GF: "
            f"{warm - cold:+.4f} nats."
        )
    report = "\n".join(lines) + "\n"
    print("\n" + report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


if __name__ == "__main__":
    main()
