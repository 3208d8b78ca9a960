"""Coupling warm start against cold start, step by step: who is lower, and what it costs held out.

On the seed's moons (3000 standardised training rows; held out: 3000 fresh rows with
``random_state=1`` in the same units) and with the seed's budget (3000 steps of
``gf.train_flow``, batch 512), every warm-start setting below is trained beside a cold
coupling flow of the same architecture, on the same minibatches. Every 25 steps
``train_flow`` records the minibatch loss and (``val_data``) the NLL of the whole training
set and of the held-out rows. For each setting the report gives:

* the NLL at step 0 and the final training and held-out NLL;
* how many logged steps have the warm NLL of the whole training set *not below* the cold
  one, and the smallest lead (cold minus warm) over all logged steps;
* the same count for the logged minibatch loss (whose paired difference carries a
  minibatch noise of about 0.01 nats) and for the held-out NLL.

Run with ``python benchmarks/coupling_warm_start.py [--steps 3000] [--seeds 0 1 2]``; the
report goes to ``benchmarks/results/coupling_warm_start.md``. A seed ``s`` sets the
conditioners' key, the greedy fit's ``random_state`` and the minibatch seed (``1 + s``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from _common import moons_split, moons_study_args, nll
from _models import MODELS, Budget, Model, fit_model
from _report import markdown_table, write_report

COLD_LR = 3e-3  # the seed's cold-start peak LR
SEED_WARMUP = 0.3  # train_flow's default warm-up, the seed's


class Architecture(NamedTuple):
    """A coupling architecture shared by a cold flow and its warm starts."""

    name: str
    options: dict[str, Any]


class WarmSetting(NamedTuple):
    """One warm start: greedy options of ``fit_rbig_coupling``, its peak LR and warm-up."""

    name: str
    greedy: dict[str, Any]
    peak_lr: float
    warmup: float = SEED_WARMUP


class Outcome(NamedTuple):
    """What one warm start scored on one seed."""

    architecture: str
    setting: WarmSetting
    warm_test: float
    cold_test: float
    diagonal_test: float
    crossings: int  # logged steps where warm is not below cold, whole training set
    batch_crossings: int  # the same for the logged minibatch loss
    test_crossings: int  # the same for the held-out NLL


DEFAULTS = Architecture("4 blocks (builder defaults)", dict(n_layers=4, n_components=8))
TIGHT = dict(n_components=8, offset_bound=1.0, log_scale_bound=0.5)
TIGHT_6 = Architecture("6 blocks, MLP width 16, offset_bound 1, log_scale_bound 0.5",
                       dict(n_layers=6, nn_width=16, **TIGHT))
TIGHT_8 = Architecture("8 blocks, offset_bound 1, log_scale_bound 0.5", dict(n_layers=8, **TIGHT))
COUNTS_2_8 = "greedy component_counts=(2, 8)"
SETTINGS: list[tuple[Architecture, WarmSetting]] = [
    (DEFAULTS, WarmSetting("default greedy fit", {}, 1e-3)),
    (DEFAULTS, WarmSetting("default greedy fit", {}, 3e-3, warmup=0.05)),
    (DEFAULTS, WarmSetting("greedy component_counts=(2, 4)", dict(component_counts=(2, 4)), 1e-3,
                           warmup=0.05)),
    (TIGHT_8, WarmSetting(COUNTS_2_8, dict(component_counts=(2, 8)), 1e-3, warmup=0.02)),
    # examples/coupling_warm_start.py
    (TIGHT_6, WarmSetting(COUNTS_2_8, dict(component_counts=(2, 8)), 1e-3, warmup=0.02)),
]


def train(model: Model, X, X_test, *, steps: int, seed: int) -> dict[str, Any]:
    """Build and train one flow with the seed's loop; the trajectories and the final NLLs.

    Every 25 steps ``train_flow`` records the minibatch loss and the NLL of the whole
    training set and of the held-out rows; their first record is the starting flow's.
    """
    # nn_width 32: the builders' default, for the architectures that do not set it.
    budget = Budget(steps=steps, batch=512, seed=seed, nn_width=32, lr_cold=COLD_LR,
                    warmup=SEED_WARMUP)
    fitted = fit_model(model, X, {"training set": X, "held out": X_test}, budget)
    log = fitted.log
    return dict(
        start=float(log.monitored["training set"][0]),
        train=nll(fitted, X),
        test=nll(fitted, X_test),
        batch_traj=np.asarray(log.loss),
        train_traj=np.asarray(log.monitored["training set"]),
        test_traj=np.asarray(log.monitored["held out"]),
    )


def summary(measured: list[Outcome], n_seeds: int) -> str:
    """Per setting, over the seeds: the crossings and how often each claim held."""
    rows = []
    for arch, setting in SETTINGS:
        mine = [m for m in measured if m.architecture == arch.name and m.setting == setting]
        rows.append([
            arch.name, setting.name, f"{setting.peak_lr:g}", f"{setting.warmup:g}",
            f"{np.mean([m.warm_test for m in mine]):.4f}",
            ", ".join(str(m.crossings) for m in mine),
            ", ".join(str(m.batch_crossings) for m in mine),
            ", ".join(str(m.test_crossings) for m in mine),
            f"{sum(m.crossings == 0 for m in mine)} of {n_seeds}",
            f"{sum(m.warm_test < m.diagonal_test for m in mine)} of {n_seeds}",
            f"{sum(m.crossings == 0 and m.warm_test < m.diagonal_test for m in mine)} of {n_seeds}",
            f"{sum(m.warm_test < m.cold_test for m in mine)} of {n_seeds}",
        ])
    header = [
        "architecture", "warm start", "warm peak LR", "warm-up", "mean warm held-out NLL",
        "logged steps warm ≥ cold (whole training set), per seed",
        "the same, logged minibatch", "the same, held out",
        "seeds with warm below cold at every logged step (whole training set)",
        "seeds with warm held-out < warm diagonal", "seeds with both",
        "seeds with warm held-out < cold",
    ]
    return "Over the seeds:\n\n" + markdown_table(header, rows)


def compare(seed: int, arch: Architecture, setting: WarmSetting, warm: dict, cold: dict,
            diagonal: dict) -> tuple[list, Outcome]:
    """One warm start against the cold flow of its architecture: a table row, an outcome."""
    lead, batch_lead, test_lead = (
        cold[f"{what}_traj"] - warm[f"{what}_traj"] for what in ("train", "batch", "test")
    )
    count = lambda d: int(np.sum(d <= 0))
    row = [
        seed, arch.name, setting.name, f"{setting.peak_lr:g}", f"{setting.warmup:g}",
        f"{warm['start']:.4f}", f"{warm['train']:.4f}", f"{cold['train']:.4f}",
        f"{warm['test']:.4f}", f"{cold['test']:.4f}", f"{diagonal['test']:.4f}",
        f"{count(lead)} of {lead.size}", f"{float(lead.min()):+.4f}",
        f"{count(batch_lead)} of {lead.size}", f"{count(test_lead)} of {lead.size}",
    ]
    outcome = Outcome(arch.name, setting, warm["test"], cold["test"], diagonal["test"],
                      count(lead), count(batch_lead), count(test_lead))
    return row, outcome


def measure(steps: int, seeds: list[int]) -> tuple[list[list], list[Outcome]]:
    """Every setting on every seed, beside the cold flow of its architecture."""
    X, _, X_test = moons_split()  # the seed's training rows; held out: random_state=1
    rows, measured = [], []
    for seed in seeds:
        run = lambda model: train(model, X, X_test, steps=steps, seed=seed)
        diagonal = run(MODELS["diag_warm"].variant(n_layers=8, n_components=8))
        print(f"seed {seed}: warm diagonal held-out {diagonal['test']:.4f}", flush=True)
        colds = {}
        for arch, setting in SETTINGS:
            if arch.name not in colds:
                colds[arch.name] = run(MODELS["coupling_cold"].variant(**arch.options))
                print(f"seed {seed}, {arch.name}: cold held-out {colds[arch.name]['test']:.4f}",
                      flush=True)
            warm = run(MODELS["coupling_warm"].variant(
                **arch.options, **setting.greedy,
                training={"peak_lr": setting.peak_lr, "warmup": setting.warmup}))
            row, outcome = compare(seed, arch, setting, warm, colds[arch.name], diagonal)
            rows.append(row)
            measured.append(outcome)
            print(" | ".join(map(str, row)), flush=True)
    return rows, measured


def main() -> None:
    args = moons_study_args(__doc__)
    rows, measured = measure(args.steps, args.seeds)
    header = [
        "seed", "architecture", "warm start", "warm peak LR", "warm-up", "warm NLL at step 0",
        "warm train NLL", "cold train NLL", "warm held-out NLL", "cold held-out NLL",
        "warm diagonal held-out NLL", "logged steps warm ≥ cold (whole training set)",
        "smallest lead (cold − warm), whole training set",
        "logged steps warm ≥ cold (minibatch)", "logged steps warm ≥ cold (held out)",
    ]
    body = (
        f"Moons: 3000 standardised training rows (noise 0.08, random_state=0); held out: "
        f"3000 fresh rows (random_state=1). Every flow: `gf.train_flow`, {args.steps} steps × "
        f"batch 512, float64; warm-up: the fraction of the steps over which the learning rate "
        f"rises to its peak (`train_flow`'s `warmup`, the seed's {SEED_WARMUP:g} unless stated); "
        f"cold coupling flows at peak LR {COLD_LR:g}, the seed's diagonal "
        "warm start (`fit_rbig`, 8 blocks × 8 components) at 1e-3. Each warm coupling flow "
        "(`fit_rbig_coupling`) is compared with the cold coupling flow of its own architecture "
        "on the same minibatches. Every 25 steps the NLL of the whole training set, the "
        "minibatch loss and the held-out NLL are logged (`train_flow(..., val_data={...})`). "
        "Lower NLL is better.\n\n" + markdown_table(header, rows) + "\n\n"
        + summary(measured, len(args.seeds))
    )
    path = write_report(
        "coupling_warm_start", "Coupling warm start against cold start, logged step by step",
        body, data={"header": header, "rows": rows},
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
