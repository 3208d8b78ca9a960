"""One model on one data set in a process of its own: both ends of that protocol.

A runner (``run.py``, ``power_scale.py``) saves each data set once with :func:`prepare`
and runs every model with :func:`run_job`, which starts ``python benchmarks/_worker.py
JOB.json``. The worker fits the job's model (a registry entry and its variant, see
``_models.from_spec``), scores the test rows and writes a JSON result; a crash, a timeout
or an out-of-memory kill costs that one row. The peak resident memory of the worker
(``VmHWM``, see :func:`_rss_mib`) is the model's memory figure; the figure right after loading the
libraries and the data is reported too, so the model's own share can be read off.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _common  # noqa: E402
import _models  # noqa: E402

# ------------------------------------------------------------------------ runner side


def prepare(name: str, kwargs: dict, folder: Path, *, val_rows: int | None = None):
    """Load a data set once and save it for the workers; return the path and its summary.

    ``val_rows`` keeps only the first that many validation rows (a fixed subset for
    early stopping and depth choice on large data).
    """
    t0 = time.perf_counter()
    data = _common.load_dataset(name, **kwargs)
    val = data.val if val_rows is None else data.val[:val_rows]
    meta = {
        "name": data.name,
        "notes": data.notes,
        "levels": data.levels,
        "logit_lambda": data.logit_lambda,
        "shape": [len(data.train), len(val), len(data.test), data.n_dims],
        "load_s": time.perf_counter() - t0,
    }
    path = folder / f"{name}.npz"
    np.savez(path, train=data.train, val=val, test=data.test, meta=json.dumps(meta))
    return path, meta


def run_job(job: dict, timeout: float, folder: Path) -> dict:
    """Run one worker on ``job``; turn a timeout or a crash into an error row."""
    tag = f"{job['dataset']}-{job['key']}"
    job = {**job, "out": str(folder / f"{tag}.out.json")}
    job_path = folder / f"{tag}.json"
    job_path.write_text(json.dumps(job))
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "_worker.py"), str(job_path)],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired:
        return {**_stub(job), "status": "timeout", "reason": f"exceeded the {timeout:.0f} s limit"}
    wall = time.perf_counter() - t0
    out = Path(job["out"])
    if not out.exists():
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        return {**_stub(job), "status": "crashed", "wall_s": wall,
                "reason": f"exit code {proc.returncode}: {tail[0][:300]}"}
    return {**json.loads(out.read_text()), "wall_s": wall}


def _stub(job: dict) -> dict:
    model = _models.from_spec(job["model"])
    return {"model": job["key"], "dataset": job["dataset"], "label": model.label,
            "ours": model.ours}


# ------------------------------------------------------------------------ worker side


def _rss_mib() -> float:
    """Peak resident memory of this process, MiB.

    Linux's ``VmHWM`` (the peak of this address space, new at ``exec``); ``ru_maxrss``
    elsewhere. On Linux ``ru_maxrss`` is carried over ``fork`` and ``exec``, so a worker
    would report at least its runner's peak (the runner holds every data set it loaded).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _dataset(path: str):
    from gauss_flows.datasets import Dataset

    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return Dataset(name=meta["name"], train=z["train"], val=z["val"], test=z["test"],
                       notes=meta["notes"], levels=meta["levels"],
                       logit_lambda=meta["logit_lambda"])


def _device(job: dict) -> dict:
    import jax

    if job.get("jax_cache"):  # rows with the same structure reuse compiled XLA programs
        jax.config.update("jax_compilation_cache_dir", job["jax_cache"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    device = jax.devices()[0]
    return {"device": str(device.device_kind), "platform": device.platform}


def run(job: dict) -> dict:
    """Fit the job's model, score the test rows; the result row."""
    model = _models.from_spec(job["model"])
    out = _stub(job)
    if model.uses_jax:  # importing JAX costs memory; the zuko row does not use it
        out.update(_device(job))
    data = _dataset(job["data"])
    train, val = data.train.astype(np.float32), data.val.astype(np.float32)
    test = data.test.astype(np.float64)
    out["rss_before_mib"] = _rss_mib()
    try:
        fitted, out["fit_s"] = _common.timed(
            lambda: _models.fit_model(model, train, val, _models.Budget(**job["budget"])))
    except _models.Unavailable as err:
        return {**out, "status": "unavailable", "reason": str(err)}
    except _models.Skipped as err:
        return {**out, "status": "skipped", "reason": str(err)}
    lp, out["eval_s"] = _common.timed(lambda: fitted.log_prob(test))
    out["peak_rss_mib"] = _rss_mib()
    out.update(fitted.info)
    out.update(_common.log_likelihood_summary(lp))
    out["status"] = "ok"
    if out["n_nonfinite"]:
        out["status"] = "nonfinite"
        out["reason"] = f"{out['n_nonfinite']} of {lp.size} test log-densities are not finite"
    elif data.levels is not None:
        out["bits_per_dim"] = data.bits_per_dim(lp, test)
    return out


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        result = run(job)
    except Exception as err:  # reported as this row's error, the run goes on
        result = {
            **_stub(job),
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
