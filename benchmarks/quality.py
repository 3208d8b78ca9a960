"""Held-out quality: greedy variants and the recommended recipe against flowjax's spline
flows at equal wall-clock, side by side in one run.

Moons: trained on the seed's 3000 points, scored on a fresh moons sample (another seed)
standardised with the training statistics. Other sets come from ``gauss_flows.datasets``
(``--datasets digits power mnist``; POWER is subsampled with ``--power-rows``) and are
scored on their test split. Every model comes from the one registry
(``benchmarks/_models.py``). The cold flow and the peers train with ``gf.train_flow`` for
as long as the recipe took (equal wall-clock), their one-cycle schedules sized to that
time from the measured step rate, early-stopped on the same validation rows.

A data set's rows come in two parts: the greedy variants, and the recipe with the flows
given its wall-clock. Each part's rows come from one run. The results are kept in
``results/quality.json`` (saved after every row, so a stopped run keeps what it
measured); a run replaces the parts it covers (``--parts``) and the report
``results/quality.md`` is written from all of them, each part with its run's command,
commit, machine and date. ``--time-budget`` caps the recipe's fine-tuning (seconds), and
so the others' time. On wide data (over 100 columns) the greedy depth chosen on held-out
rows is capped at 16 blocks, and a fit that took over a minute is not timed a second time
(compilation is then a small share of it).

Run: ``python benchmarks/quality.py [--datasets moons digits] [--steps 3000] [--report-only]
[--parts greedy recipe] [--time-budget 600]``
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import jax

from _common import load_dataset, moons_split, nll, timed
from _models import MODELS, Budget, fit_model
from _report import markdown_table, read_report_data, run_info, write_report

#: Data sets in report order.
DATASETS = ("moons", "digits", "power", "mnist")
#: Greedy depth cap on held-out rows: fit_rbig's default, lower for wide data.
MAX_LAYERS, MAX_LAYERS_WIDE, WIDE = 100, 16, 100
#: Fits slower than this (seconds) are not repeated to time them without compilation.
REPEAT_UNDER_S = 60.0
#: The parts of a data set's rows, each measured in one run.
PARTS = ("greedy", "recipe")
#: Early stopping of the equal-wall-clock flows: 500 gradient steps without improvement.
PATIENCE = 500
#: The flowjax peers (published with a StandardNormal base).
PEERS = {
    "coupling": MODELS["flowjax_coupling"].variant(
        "flowjax RQ-spline coupling (equal wall-clock)", trainable_base=False),
    "autoregressive": MODELS["flowjax_maf"].variant(
        "flowjax RQ-spline autoregressive (equal wall-clock)", trainable_base=False),
}


def load(name: str, power_rows: int):
    if name == "moons":
        return moons_split()
    ds = load_dataset(name, max_rows=power_rows) if name == "power" else load_dataset(name)
    return ds.train, ds.val, ds.test


def load_results() -> dict[str, dict]:
    """Every data set's kept parts: ``{name: {"shape": ..., part: {"run", "rows"}}}``."""
    return read_report_data("quality")[1] or {}


class ResultStore:
    """The kept results, with one data set's part being measured and saved row by row."""

    def __init__(self, name: str, part: str, shape: str):
        self.results = load_results()
        entry = self.results.setdefault(name, {})
        entry["shape"] = shape
        entry[part] = {"run": run_info(), "rows": []}
        self.rows = entry[part]["rows"]

    def add(self, row: list) -> None:
        self.rows.append(row)
        print(" | ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row), flush=True)
        write(self.results)


def scored(name: str, label: str, model, data, budget: Budget, store: ResultStore) -> float:
    """Fit one model, add its row (depth, seconds, train and held-out NLL); the seconds."""
    train, val, test = data
    fitted, seconds = timed(lambda: fit_model(model, train, val, budget))
    store.add([name, label, fitted.info["depth"], seconds, nll(fitted, train), nll(fitted, test)])
    return seconds


def run_greedy(name: str, data, store: ResultStore) -> None:
    """Each greedy variant: rotations at fixed depth, then depth and components chosen."""
    max_layers = MAX_LAYERS_WIDE if data[0].shape[1] > WIDE else MAX_LAYERS
    budget, rbig = Budget(), MODELS["rbig"]
    for rotation in ("pca", "random", "ica", "sliced", "max-sliced"):
        scored(name, f"greedy fit_rbig, {rotation}, 8 blocks",
               rbig.variant(n_layers=8, rotation=rotation), data, budget, store)
    for rotation in ("sliced", "max-sliced"):
        best = rbig.variant(n_layers=None, rotation=rotation, n_components=16, patience=5,
                            max_layers=max_layers)
        label = f"greedy fit_rbig, {rotation}, K=16, depth on held-out rows"
        if scored(name, label, best, data, budget, store) < REPEAT_UNDER_S:
            # The same fit again: compiled code is reused, so this is the fitting time alone.
            scored(name, "  same, second call (compiled)", best, data, budget, store)
    chosen = rbig.variant(n_layers=None, rotation="max-sliced", n_components=16, patience=5,
                          component_counts=(4, 8, 16), max_layers=max_layers)
    scored(name, "greedy fit_rbig, max-sliced, K chosen from (4, 8, 16) per block and dimension",
           chosen, data, budget, store)


def run_recipe(name: str, data, store: ResultStore, args) -> None:
    """The recipe, then the cold flow and both flowjax flows for the recipe's wall-clock."""
    capped = "" if args.time_budget is None else f", fine-tuning capped at {args.time_budget:g} s"
    budget = Budget(steps=args.steps, batch=512, time_budget=args.time_budget)
    t_recipe = scored(name, f"recipe fit_density (<= {args.steps} steps in all{capped})",
                      MODELS["recipe"], data, budget, store)
    # Equal wall-clock: each schedule spans the steps that fit in the recipe's time.
    timed_budget = replace(budget, steps=None, time_budget=t_recipe, patience=PATIENCE)
    scored(name, "cold Gaussianization flow (equal wall-clock)", MODELS["diag_cold"], data,
           timed_budget, store)
    for peer in PEERS.values():
        scored(name, peer.label, peer, data, timed_budget, store)


def run_dataset(name: str, args) -> None:
    data = load(name, args.power_rows)
    train, val, test = data
    shape = (f"{len(train):,} train / {len(val):,} validation / {len(test):,} test rows, "
             f"{train.shape[1]} columns")
    for part in args.parts:
        store = ResultStore(name, part, shape)
        if part == "greedy":
            run_greedy(name, data, store)
        else:
            run_recipe(name, data, store, args)


def _part_note(part: str, kept: dict) -> str:
    """Where a kept part's rows came from (older parts name only a date and machine)."""
    run = kept.get("run") or {"date": kept.get("date"), "machine": kept.get("machine")}
    where = f"{part} rows run {run['date']} on {run['machine']}"
    if "command" in run:
        where += f" by `{run['command']}` (git {run['git']})"
    return where + (f" ({kept['note']})" if "note" in kept else "")


def write(results: dict):
    """The report, from every kept part; the kept parts are its JSON."""
    runs, rows = [], []
    for name in (n for n in DATASETS if n in results):
        entry = results[name]
        parts = [p for p in PARTS if p in entry]
        runs.append(f"- {name}: {entry['shape']}; "
                    + "; ".join(_part_note(p, entry[p]) for p in parts))
        rows += [row for p in parts for row in entry[p]["rows"]]
    body = (
        "NLL in nats per row (lower is better); train NLL and held-out NLL. "
        "Times include compilation. Peers: 8 layers, MLP width 64, 8 knots, trained with "
        "gf.train_flow (peak LR 1e-3, one-cycle over the steps that fit in the recipe's "
        "wall-clock, early-stopped on validation rows after 500 steps without improvement). "
        "A data set's greedy rows come from one run, its recipe and peer rows from one "
        "run:\n\n" + "\n".join(runs) + "\n\n"
        + markdown_table(["data", "model", "blocks", "seconds", "train NLL", "held-out NLL"], rows)
    )
    return write_report("quality", "Held-out quality", body, data=results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["moons"], choices=DATASETS)
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=PARTS)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--time-budget", type=float, default=None,
                        help="cap on the recipe's fine-tuning, seconds (default: none)")
    parser.add_argument("--power-rows", type=int, default=50_000)
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the report from the kept results, measure nothing")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    for name in [] if args.report_only else args.datasets:
        run_dataset(name, args)
    print("written to", write(load_results()))


if __name__ == "__main__":
    main()
