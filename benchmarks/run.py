"""Side-by-side density-estimation benchmark: gauss_flows and its peers on real data.

One command regenerates ``benchmarks/results/density.md`` (and ``density.json``)::

    python benchmarks/run.py --quick      # ~19 minutes on 2 CPU cores, small budgets
    python benchmarks/run.py --full       # the full data sets and budgets (hours on CPU)

Every (data set, model) pair runs in its own subprocess (``benchmarks/_worker.py``), so a
crash or out-of-memory kill costs one row, and each row's peak memory is its own process's
``VmHWM`` (Linux). Every model comes from the one registry (``benchmarks/_models.py``) at its
best settings; every gradient-trained model on a data set gets the same number of steps
and batch size with the same loop (``gauss_flows.train_flow``; zuko the same schedule in
torch); the table states steps and wall-clock per row. Rows that cannot run here (a
missing package or a gauss_flows function not in this checkout) are listed with the
reason. ``--report-only`` rewrites the markdown from the JSON of the last run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _models import MODELS, Budget  # noqa: E402
from _report import (PUBLISHED_POWER, RESULTS, best_against_peers, fmt,  # noqa: E402
                     read_report_data, run_info, write_report)
from _worker import prepare, run_job  # noqa: E402

DATASETS = ("moons", "power", "digits", "mnist", "patches")

# Per data set: loader keyword arguments and the training budget, for each mode.
CONFIG = {
    "quick": {
        "moons": ({}, Budget(steps=300, batch=256)),
        "power": ({"max_rows": 10_000}, Budget(steps=300, batch=256)),
        "digits": ({}, Budget(steps=200, batch=256, n_layers=4, gmm_grid=(1, 2, 4))),
        "mnist": ({}, Budget(steps=50, batch=64, n_layers=2, nn_width=32, gmm_grid=(1, 2))),
        "patches": (
            {"n_train": 10_000, "n_val": 1_000, "n_test": 1_000},
            Budget(steps=200, batch=256, n_layers=4, gmm_grid=(1, 4, 16)),
        ),
    },
    "full": {
        "moons": ({}, Budget(steps=3000, batch=512)),
        "power": ({}, Budget(steps=5000, batch=1024, nn_width=128, gmm_grid=(1, 4, 16, 32, 64))),
        "digits": ({}, Budget(steps=2000, batch=256, nn_width=128, gmm_grid=(1, 2, 4, 8, 16))),
        "mnist": ({}, Budget(steps=1000, batch=128, nn_width=128, gmm_grid=(1, 2, 4, 8))),
        "patches": ({}, Budget(steps=3000, batch=512, nn_width=128, gmm_grid=(1, 4, 16, 32))),
    },
}
TIMEOUT_S = {"quick": 240, "full": 4 * 3600}

HOW_TO_READ = (
    "How to read: test LL is the mean log-density of the held-out test rows in the data "
    "set's units (higher is better; ± one standard error over rows). Every model is a "
    "density of the same data: peers that want standardised inputs get them and their "
    "log-densities are corrected by the standardisation's Jacobian. All gradient-trained "
    "rows on a data set use the same steps, batch, Adam + global-norm clip 1 and one-cycle "
    "cosine schedule (`gauss_flows.train_flow`; zuko gets the same loop in torch); "
    "*fit s* is the wall-clock of the whole fit, greedy stage and JIT compilation included. "
    "Peak RSS is the model's own subprocess (`VmHWM`: libraries and data included). "
    "Rows marked *(peer)* are other libraries."
)


def _table(rows: list[dict], discrete: bool) -> list[str]:
    head = "| # | model | test LL (nats) ± s.e. |" + (" bits/dim |" if discrete else "")
    head += " steps × batch (peak LR) | fit s | eval s | peak RSS MiB | settings |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: -r["test_ll"])
    for i, r in enumerate(ok, 1):
        steps = r.get("steps") or 0
        budget = "no gradient steps" if not steps else f"{steps} × {r.get('batch', '?')}"
        if steps and r.get("peak_lr"):
            budget += f" ({r['peak_lr']:g})"
        label = r["label"] if r["ours"] else f"{r['label']} *(peer)*"
        line = f"| {i} | {label} | {r['test_ll']:.3f} ± {r['test_ll_se']:.3f} |"
        if discrete:
            line += f" {fmt(r.get('bits_per_dim'), '.3f')} |"
        note = f"; {r['note']}" if r.get("note") else ""
        line += (f" {budget} | {fmt(r.get('fit_s'), '.1f')} | {fmt(r.get('eval_s'), '.1f')} |"
                 f" {fmt(r.get('peak_rss_mib'), '.0f')} | {r.get('sizes', '')}{note} |")
        lines.append(line)
    return lines


def _section(name: str, meta: dict, rows: list[dict]) -> list[str]:
    out = [f"## {name}", ""]
    if "error" in meta:
        return out + [f"Not loaded: {meta['error']}", ""]
    n_tr, n_va, n_te, d = meta["shape"]
    out.append(f"{n_tr:,} train / {n_va:,} val / {n_te:,} test rows, {d} dimensions. "
               f"{meta['notes']}.")
    if meta.get("levels"):
        out.append(f"Dequantised discrete data ({meta['levels']} levels): bits/dim is −log2 of "
                   "the density of the dequantised raw values per dimension (lower is better).")
    if name == "power":
        out.append(PUBLISHED_POWER + " Quick-mode numbers use a subsample and tiny budgets.")
    ok = [r for r in rows if r["status"] == "ok"]
    out += ["", *_table(rows, bool(meta.get("levels"))), "",
            best_against_peers(ok, score=lambda r: r["test_ll"])]
    other = [r for r in rows if r["status"] != "ok"]
    if other:
        out += ["", "Not in the table:"]
        out += [f"- {r['label']}: {r['status']} — {r.get('reason', '')}" for r in other]
    return out + [""]


def report(path: Path, results: list[dict], data_meta: dict, run: dict) -> Path:
    """Write the run's tables (one per data set, best first) and notes."""
    lines = [f"Mode: {run['mode']}; {run['total_s'] / 60:.1f} min in all.", "", HOW_TO_READ, ""]
    for name, meta in data_meta.items():
        lines += _section(name, meta, [r for r in results if r["dataset"] == name])
    data = {"mode": run["mode"], "total_s": run["total_s"], "data": data_meta, "results": results}
    header = {k: v for k, v in run.items() if k not in ("mode", "total_s")}
    return write_report(path, f"Density estimation: gauss_flows and peers ({run['mode']} mode)",
                        "\n".join(lines), data=data, run=header)


def _devices(results: list[dict]) -> str:
    kinds = sorted({f"{r.get('platform', '?')}: {r['device']}" for r in results if r.get("device")})
    return "JAX device of the workers: " + ("; ".join(kinds) or "unknown")


def _require_gpu() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import jax; print(jax.devices()[0].platform)"],
                           capture_output=True, text=True, check=False)
    if probe.stdout.strip() == "gpu":
        return True
    print(f"error: JAX sees no GPU ({probe.stdout.strip() or probe.stderr.strip()[-200:]})",
          file=sys.stderr)
    return False


def measure(args, mode: str) -> tuple[list[dict], dict]:
    """Every (data set, model) row, each in its own worker process."""
    timeout = args.timeout or TIMEOUT_S[mode]
    results, data_meta = [], {}
    with tempfile.TemporaryDirectory(prefix="gf-bench-") as tmp:
        folder = Path(tmp)
        for name in args.datasets:
            kwargs, budget = CONFIG[mode][name]
            budget = replace(budget, steps=args.steps) if args.steps else budget
            try:
                path, meta = prepare(name, kwargs, folder)
            except ImportError as err:
                print(f"[{name}] not loaded: {err}", flush=True)
                data_meta[name] = {"error": str(err)}
                continue
            data_meta[name] = {**meta, "budget": asdict(budget)}
            print(f"[{name}] {meta['shape']} loaded in {meta['load_s']:.1f}s", flush=True)
            for key in args.models:
                job = {"dataset": name, "key": key, "model": MODELS[key].spec(), "data": str(path),
                       "budget": asdict(budget), "jax_cache": args.jax_cache}
                results.append(run_job(job, timeout, folder))
                r = results[-1]
                ll = f"LL {r['test_ll']:9.3f}  " if r.get("test_ll") is not None else ""
                print(f"  {key:17s} {r['status']:11s} {ll}{r.get('wall_s', 0):6.1f}s  "
                      f"{r.get('reason', '')}", flush=True)
    return results, data_meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small budgets (default)")
    mode.add_argument("--full", action="store_true", help="full data sets and budgets")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, help="override every data set's training steps")
    parser.add_argument("--timeout", type=float, help="seconds allowed per model")
    parser.add_argument("--output", type=Path, default=RESULTS / "density.md")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the markdown from the output's JSON, measure nothing")
    cache = Path.home() / ".cache" / "gauss_flows_bench_jax"
    parser.add_argument("--jax-cache", default=str(cache),
                        help="persistent XLA compilation cache of the workers ('' to disable)")
    parser.add_argument("--require-gpu", action="store_true",
                        help="fail unless JAX sees a GPU (used by gpu.sh)")
    args = parser.parse_args(argv)
    if args.report_only:
        run, saved = read_report_data(args.output)
        if saved is None:
            parser.error(f"no {args.output.with_suffix('.json')} to report from")
        run.update(mode=saved["mode"], total_s=saved["total_s"])
        print("wrote", report(args.output, saved["results"], saved["data"], run))
        return 0
    if args.require_gpu and not _require_gpu():
        return 2
    mode_name = "full" if args.full else "quick"
    started = time.perf_counter()
    results, data_meta = measure(args, mode_name)
    # The workers ran JAX; this process names their device without starting a backend.
    run = {**run_info(device=_devices(results)), "mode": mode_name,
           "total_s": time.perf_counter() - started}
    print(f"wrote {report(args.output, results, data_meta, run)} in {run['total_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
