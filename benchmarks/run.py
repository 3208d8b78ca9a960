"""Side-by-side density-estimation benchmark: gauss_flows and its peers on real data.

One command regenerates ``benchmarks/RESULTS.md``::

    python benchmarks/run.py --quick      # ~19 minutes on 2 CPU cores, small budgets
    python benchmarks/run.py --full       # the full data sets and budgets (hours on CPU)

Every (data set, model) pair runs in its own subprocess (``benchmarks/_worker.py``), so a
crash or out-of-memory kill costs one row, and each row's peak memory is its own process's
``ru_maxrss``. Every gradient-trained model on a data set gets the same number of steps
and batch size with the same optax loop (``gauss_flows.train_flow``); the table states
steps and wall-clock per row. Rows that cannot run here (a missing package or a
gauss_flows function not yet in this checkout) are listed with the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _models import MODELS, Budget  # noqa: E402
from _report import write_report  # noqa: E402

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


def prepare(name: str, kwargs: dict, folder: Path) -> tuple[Path, dict]:
    """Load a data set once and save it for the workers; return the path and its summary."""
    from gauss_flows import datasets

    loader = getattr(datasets, f"load_{'image_patches' if name == 'patches' else name}")
    t0 = time.perf_counter()
    data = loader(**kwargs)
    meta = {
        "name": data.name,
        "notes": data.notes,
        "levels": data.levels,
        "logit_lambda": data.logit_lambda,
        "shape": [len(data.train), len(data.val), len(data.test), data.n_dims],
        "load_s": time.perf_counter() - t0,
    }
    path = folder / f"{name}.npz"
    np.savez(path, train=data.train, val=data.val, test=data.test, meta=json.dumps(meta))
    return path, meta


def run_job(job: dict, timeout: float, folder: Path) -> dict:
    """Run one worker; turn a timeout or a crash into an error row."""
    job_path = folder / f"{job['dataset']}-{job['model']}.json"
    job_path.write_text(json.dumps(job))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "_worker.py"), str(job_path)],
            capture_output=True, text=True, timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {**_stub(job), "status": "timeout", "reason": f"exceeded the {timeout:.0f} s limit"}
    wall = time.perf_counter() - t0
    out = Path(job["out"])
    if not out.exists():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        return {**_stub(job), "status": "crashed", "wall_s": wall,
                "reason": f"exit code {proc.returncode}: {tail[0][:300]}"}
    result = json.loads(out.read_text())
    result["wall_s"] = wall
    return result


def _stub(job: dict) -> dict:
    return {"model": job["model"], "dataset": job["dataset"], "label": MODELS[job["model"]][0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small budgets (default)")
    mode.add_argument("--full", action="store_true", help="full data sets and budgets")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--steps", type=int, help="override every data set's training steps")
    parser.add_argument("--timeout", type=float, help="seconds allowed per model")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--jax-cache", default=str(Path.home() / ".cache" / "gauss_flows_bench_jax"),
                        help="persistent XLA compilation cache shared by the workers ('' to disable)")
    parser.add_argument("--require-gpu", action="store_true",
                        help="fail unless JAX sees a GPU (used by gpu.sh)")
    args = parser.parse_args(argv)
    mode_name = "full" if args.full else "quick"
    timeout = args.timeout or TIMEOUT_S[mode_name]

    if args.require_gpu:
        probe = subprocess.run(
            [sys.executable, "-c", "import jax; print(jax.devices()[0].platform)"],
            capture_output=True, text=True,
        )
        if probe.stdout.strip() != "gpu":
            print(f"error: JAX sees no GPU ({probe.stdout.strip() or probe.stderr.strip()[-200:]})",
                  file=sys.stderr)
            return 2

    started = time.perf_counter()
    revision = subprocess.run(
        ["git", "-C", str(HERE), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip() or "unknown"
    results, data_meta = [], {}
    with tempfile.TemporaryDirectory(prefix="gf-bench-") as tmp:
        folder = Path(tmp)
        for name in args.datasets:
            kwargs, budget = CONFIG[mode_name][name]
            if args.steps:
                budget = replace(budget, steps=args.steps)
            try:
                path, meta = prepare(name, kwargs, folder)
            except ImportError as err:
                print(f"[{name}] not loaded: {err}", flush=True)
                data_meta[name] = {"error": str(err)}
                continue
            meta["budget"] = asdict(budget)
            data_meta[name] = meta
            print(f"[{name}] {meta['shape']} loaded in {meta['load_s']:.1f}s", flush=True)
            for model in args.models:
                job = {"dataset": name, "model": model, "data": str(path), "budget": asdict(budget),
                       "out": str(folder / f"{name}-{model}.out.json"), "jax_cache": args.jax_cache}
                result = run_job(job, timeout, folder)
                results.append(result)
                ll = result.get("test_ll")
                print(f"  {model:17s} {result['status']:11s} "
                      + (f"LL {ll:9.3f}  " if ll is not None else "")
                      + f"{result.get('wall_s', 0):6.1f}s  {result.get('reason', '')}", flush=True)
    total = time.perf_counter() - started
    run_info = {
        "mode": mode_name,
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "total_s": total,
        "host": f"{platform.platform()}, {os.cpu_count()} CPU cores visible",
        "python": platform.python_version(),
        "jax_platforms": os.environ.get("JAX_PLATFORMS", "(unset)"),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "revision": revision,
    }
    write_report(args.output, results, data_meta, run_info)
    args.output.with_suffix(".json").write_text(
        json.dumps({"run": run_info, "data": data_meta, "results": results}, indent=1, default=float)
    )
    print(f"wrote {args.output} in {total / 60:.1f} min", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
