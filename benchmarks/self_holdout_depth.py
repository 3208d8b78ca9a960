"""Depth of ``fit_rbig(n_layers=None)`` without ``val_data``: the rows it holds out itself
against the training-gain rule.

Each data set is fitted with the library defaults and ``n_layers=None`` four ways: the
depth by the training gains (``val_fraction=0``); the depth by the log-likelihood of
the 20% of rows ``fit_rbig`` holds out itself, refitted on every row to that depth (the
default); the held-out fit itself kept (fitted on the other 80%); and, for reference,
the depth on the data set's own validation rows (``val_data``). Held-out NLL is on the
data set's test rows. Float64.

Run: ``python benchmarks/self_holdout_depth.py [--datasets moons power] [--power-rows 20000]``
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

from _common import load_dataset, moons_split, nll, timed
from _report import markdown_table, write_report


def variants(train: np.ndarray, val: np.ndarray) -> dict:
    """The fits, by label, each a function of no arguments returning the flow."""
    import gauss_flows as gf
    from gauss_flows.fit.rbig import _greedy_settings, _held_out_split

    options = {**gf.fit_rbig.__kwdefaults__, "n_layers": None}
    for name in ("condition", "architecture", "nn_width", "nn_depth"):
        options.pop(name)
    kept_train, kept_held = _held_out_split(train, _greedy_settings("fit_rbig", **options))
    return {
        "training-gain rule (val_fraction=0; the previous default)":
            lambda: gf.fit_rbig(train, n_layers=None, val_fraction=0),
        "depth on 20% held out by fit_rbig, refitted on every row (the default, patience 5)":
            lambda: gf.fit_rbig(train, n_layers=None),
        "the same with patience 3":
            lambda: gf.fit_rbig(train, n_layers=None, patience=3),
        "depth on 20% held out by fit_rbig, the fit on the other 80% kept":
            lambda: gf.fit_rbig(kept_train, n_layers=None, val_data=kept_held, patience=5),
        "reference: depth on the data set's validation rows (val_data)":
            lambda: gf.fit_rbig(train, n_layers=None, val_data=val),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["moons", "power"])
    parser.add_argument("--power-rows", type=int, default=20_000)
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    from gauss_flows import layout

    rows, sizes = [], []
    for name in args.datasets:
        if name == "moons":
            train, val, test = moons_split()
        else:
            ds = load_dataset(name, max_rows=args.power_rows)
            train, val, test = ds.train, ds.val, ds.test
        sizes.append(f"{name}: {len(train):,} train / {len(val):,} validation / "
                     f"{len(test):,} test rows, {train.shape[1]} columns")
        for label, fit in variants(train, val).items():
            flow, seconds = timed(fit)
            rows.append([name, label, layout.n_layers(flow), seconds, nll(flow, train),
                         nll(flow, test)])
            print(rows[-1], flush=True)
    body = (
        "fit_rbig with its defaults (K=8, sliced rotations; the depth rule's patience 5 "
        "blocks on self-held-out rows, 3 on val_data and the training gains) and n_layers=None; "
        "NLL in nats per row. Times include compilation.\n\n"
        + "".join(f"- {s}\n" for s in sizes) + "\n"
        + markdown_table(["data", "depth rule", "blocks", "seconds", "train NLL",
                          "held-out NLL"], rows)
    )
    print(body)
    print("written to", write_report("self_holdout_depth", "Self-held-out depth", body, data=rows))


if __name__ == "__main__":
    main()
