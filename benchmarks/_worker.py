"""Fit and score one model on one data set, in its own process; write a JSON result.

Run by ``benchmarks/run.py`` as ``python benchmarks/_worker.py JOB.json``. The job names
the prepared data (an ``.npz`` written by the runner), the model and the budget. The peak
resident memory of this process (``ru_maxrss``) is the model's memory figure; the figure
right after loading the libraries and the data is reported too, so the model's own share
can be read off.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _models  # noqa: E402


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _dataset(path: str):
    from gauss_flows.datasets import Dataset

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return Dataset(
            name=meta["name"],
            train=z["train"],
            val=z["val"],
            test=z["test"],
            notes=meta["notes"],
            levels=meta["levels"],
            logit_lambda=meta["logit_lambda"],
        )


def run(job: dict) -> dict:
    out: dict = {"model": job["model"], "dataset": job["dataset"]}
    label, fn = _models.MODELS[job["model"]]
    out["label"] = label
    budget = _models.Budget(**job["budget"])
    if job["model"] != "zuko_gf":  # importing JAX costs memory; zuko rows do not use it
        import jax

        if job.get("jax_cache"):  # rows with the same structure reuse compiled XLA programs
            jax.config.update("jax_compilation_cache_dir", job["jax_cache"])
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

        out["device"] = str(jax.devices()[0].device_kind)
        out["platform"] = jax.devices()[0].platform
    data = _dataset(job["data"])
    train = data.train.astype(np.float32)
    val = data.val.astype(np.float32)
    test = data.test.astype(np.float64)
    out["rss_before_mib"] = _rss_mib()
    t0 = time.perf_counter()
    try:
        fitted = fn(train, val, budget)
    except _models.Unavailable as err:
        return {**out, "status": "unavailable", "reason": str(err)}
    except _models.Skipped as err:
        return {**out, "status": "skipped", "reason": str(err)}
    out["fit_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    lp = fitted.log_prob(test)
    out["eval_s"] = time.perf_counter() - t1
    out["peak_rss_mib"] = _rss_mib()
    out.update(fitted.info)
    finite = np.isfinite(lp)
    out["n_test"] = int(lp.size)
    out["n_nonfinite"] = int((~finite).sum())
    if not finite.all():
        out["status"] = "nonfinite"
        out["reason"] = f"{out['n_nonfinite']} of {lp.size} test log-densities are not finite"
        lp_f = lp[finite]
    else:
        out["status"] = "ok"
        lp_f = lp
    out["test_ll"] = float(lp_f.mean()) if lp_f.size else math.nan
    out["test_ll_se"] = float(lp_f.std(ddof=1) / math.sqrt(lp_f.size)) if lp_f.size > 1 else math.nan
    if data.levels is not None and finite.all():
        out["bits_per_dim"] = data.bits_per_dim(lp, test)
    return out


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        result = run(job)
    except Exception as err:  # reported as this row's error, the run goes on
        result = {
            "model": job["model"],
            "dataset": job["dataset"],
            "label": _models.MODELS[job["model"]][0],
            "status": "error",
            "reason": f"{type(err).__name__}: {err}".splitlines()[0][:300],
            "traceback": traceback.format_exc()[-3000:],
            "peak_rss_mib": _rss_mib(),
        }
    Path(job["out"]).write_text(json.dumps(result, indent=1, default=float))
    sys.stdout.flush()
    os._exit(0)  # skip slow interpreter teardown of XLA / torch


if __name__ == "__main__":
    main()
