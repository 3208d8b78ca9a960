"""Full POWER at equal wall-clock: the gauss_flows recipe against flowjax's spline coupling flow.

POWER is prepared as the MAF paper did (``gauss_flows.datasets.load_power``: 1.66 million
training rows, 6 dimensions). Each model runs in its own subprocess
(``benchmarks/_worker.py``), so its peak memory (``VmHWM``) is its own, and gets the
same wall-clock budget, loading excluded. Every model comes from the one registry
(``benchmarks/_models.py``) and trains with the one loop (``gauss_flows.train_flow``):

* gauss_flows recipe: greedy ``fit_rbig`` (each block's mixtures estimated on
  ``--fit-rows`` random rows, every row transformed; depth chosen on validation rows),
  then ``train_flow`` on all training rows, early-stopped on validation rows, for the rest
  of the budget;
* the same recipe with the coupling architecture (``fit_rbig_coupling``, 8 blocks, MLP
  1×64) before fine-tuning;
* flowjax ``coupling_flow`` with a rational-quadratic spline (8 knots, 8 layers, MLP
  128×2), batch 512, constant-rate Adam 1e-3 (the setting quoted in the issue), for the
  whole budget, keeping the flow with the best validation NLL (checked every 500 steps).

The gauss_flows fine-tuning sizes its one-cycle schedule to the time left: a short timed
run measures the step rate, and the step count is that time divided by it. Test
log-likelihoods are in nats (higher is better) on the MAF test split. ``--models`` runs a
subset; a run without a gauss_flows row reports absolute values only ("no reference row").

Run: ``python benchmarks/power_scale.py [--minutes 5] [--fit-rows 100000] [--max-rows N]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _models import MODELS, Budget  # noqa: E402
from _report import PUBLISHED_POWER, best_against_peers, markdown_table, write_report  # noqa: E402
from _worker import prepare, run_job  # noqa: E402

#: Validation rows for early stopping and depth choice: a fixed subset.
VAL_ROWS = 20_000
FINE_TUNING = {"batch": 1024, "patience": 1000}  # 40 records of 25 steps without improvement


def models(fit_rows: int) -> dict:
    """The three rows, by key: registry entries at this benchmark's settings."""
    return {
        "recipe": MODELS["diag_warm"].variant(
            "gauss_flows recipe, diagonal (fit_rbig → train_flow)",
            n_layers=None, max_layers=12, fit_rows=fit_rows, training=FINE_TUNING),
        "recipe_coupling": MODELS["coupling_warm"].variant(
            "gauss_flows recipe, coupling (fit_rbig_coupling → train_flow)",
            n_layers=8, nn_width=64, fit_rows=fit_rows, training=FINE_TUNING),
        # The setting: constant-rate Adam 1e-3, batch 512, the best flow of every
        # 500 steps on the validation rows; as published, a StandardNormal base.
        "flowjax": MODELS["flowjax_coupling"].variant(
            nn_width=128, nn_depth=2, trainable_base=False,
            training={"schedule": "constant", "batch": 512, "log_every": 500,
                      "keep_best": True}),
    }


def settings(key: str, r: dict, fit_rows: int, n_val: int) -> str:
    """The settings column: what the row's fit did."""
    if key == "flowjax":
        return (f"{r['sizes']}; {r['steps_run']} steps × {r['batch']}, constant Adam "
                f"{r['peak_lr']:g} (the issue's setting), best of every 500 steps on "
                f"{n_val:,} validation rows")
    greedy = f"greedy: {r['sizes']}, each block's mixtures fitted on {fit_rows:,} rows"
    if key == "recipe":
        greedy += ", depth by validation LL (at most 12)"
    return (f"{greedy}, {r['greedy_s']:.0f} s; then {r['steps']} planned steps × {r['batch']} "
            f"(peak LR {r['peak_lr']:g}), early-stopped on {n_val:,} validation rows")


def body(results: list[dict], meta: dict, args) -> str:
    """The table, the verdict and the published context."""
    n_train, n_val, n_test, d = meta["shape"]
    ok = [r for r in results if r["status"] == "ok"]
    rows = [[r["label"] if r["ours"] else f"{r['label']} *(peer)*",
             f"{r['test_ll']:.3f} ± {r['test_ll_se']:.3f}", r["fit_s"], r["peak_rss_mib"],
             settings(r["model"], r, args.fit_rows, n_val)] for r in ok]
    failed = [f"- {r['label']}: {r['status']} — {r.get('reason', '')}" for r in results
              if r["status"] != "ok"]
    subset = f" (the split's first {n_val:,})" if n_val == VAL_ROWS else ""
    return (
        f"POWER: {n_train:,} train / {n_val:,} val{subset} / "
        f"{n_test:,} test rows, {d} dimensions ({meta['notes']}). Budget: {args.minutes:g} "
        "minutes of wall-clock per model, data loading excluded, compilation and greedy "
        "fitting included. Peak RSS is the model's own process.\n\n"
        + markdown_table(["model", "test LL (nats) ± s.e.", "seconds", "peak RSS MiB",
                          "settings"], rows)
        + "\n\n" + best_against_peers(ok, score=lambda r: r["test_ll"])
        + ("\n\nNot in the table:\n" + "\n".join(failed) if failed else "")
        + f"\n\n{PUBLISHED_POWER}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--fit-rows", type=int, default=100_000)
    parser.add_argument("--max-rows", type=int, default=None,
                        help="subsample POWER (smoke runs); default: the full data")
    parser.add_argument("--models", nargs="+", choices=["recipe", "recipe_coupling", "flowjax"],
                        default=["recipe", "recipe_coupling", "flowjax"])
    args = parser.parse_args()
    budget = Budget(steps=None, time_budget=60 * args.minutes, lr_warm=1e-3, lr_peer=1e-3)
    variants = models(args.fit_rows)
    results = []
    with tempfile.TemporaryDirectory(prefix="gf-power-") as tmp:
        path, meta = prepare("power", {"max_rows": args.max_rows}, Path(tmp), val_rows=VAL_ROWS)
        for key in args.models:
            job = {"dataset": "power", "key": key, "model": variants[key].spec(),
                   "data": str(path), "budget": asdict(budget)}
            results.append(run_job(job, timeout=60 * args.minutes + 1800, folder=Path(tmp)))
            r = results[-1]
            print(f"{key}: {r['status']}, test LL {r.get('test_ll', float('nan')):.3f} in "
                  f"{r.get('fit_s', float('nan')):.0f} s {r.get('reason', '')}", flush=True)
    text = body(results, meta, args)
    print(text)
    name = "power_scale" if args.minutes == 5 and args.max_rows is None else (
        f"power_scale_{args.minutes:g}min" + (f"_{args.max_rows}rows" if args.max_rows else ""))
    title = "POWER at full size, equal wall-clock" if args.max_rows is None else (
        f"POWER, first {args.max_rows:,} rows, equal wall-clock")
    path = write_report(name, title, text,
                        data={"data": meta, "results": results})
    print("written to", path)


if __name__ == "__main__":
    main()
