"""Greedy RBIG by marginal family: gauss_flows' ``fit_rbig`` against the ``rbig`` package.

Both libraries offer the same menu for the marginal step of a greedy RBIG block: a
Gaussian mixture, a kernel density estimate, a histogram / empirical CDF with tails, and
a monotone spline. This script fits every family of both on the same rows and reports the
held-out negative log-likelihood (nats per row), the number of blocks each fit kept, and
the fit time, with ratios against the ``rbig`` fit of the same family measured in the same
run.

* ours: ``gf.fit_rbig(X, marginal=family)`` at its defaults (8 blocks, the seed's depth),
  and with ``n_layers=None, val_data=`` (blocks added while held-out rows gain);
* rbig: ``rbig.AnnealedRBIG`` with its PCA rotation, ``tol="auto"`` (its calibrated
  stopping table) and, for the empirical marginal, Gaussian tails (``tail="gaussian"``,
  without which held-out rows beyond the training range get ``-inf``); other families
  through its ``strategy`` option at their defaults.

Data: the seed's moons (3000 training rows, standardised), a 6-d non-Gaussian set
(correlated Gaussians through monotone maps and a bimodal map; 5000 training rows) and
POWER (``--power-rows``, 5000 training rows by default). Times include JAX compilation
for ours. Non-finite held-out log-densities are counted and left out of the mean. An rbig
fit that runs past ``--limit-s`` (300 s) is stopped and its row says so.

Run: ``python benchmarks/rbig_marginals.py [--datasets moons synthetic power]``; the
markdown table is printed and written to ``benchmarks/results/rbig_marginals.md``.
Requires the ``rbig`` wheel (``../shared/wheels``); without it the peer rows say so.
"""

from __future__ import annotations

import argparse
import math
import signal
import warnings

import equinox as eqx
import jax
import numpy as np

from _common import load_dataset, log_likelihood_summary, moons_split, non_gaussian_data, timed
from _report import markdown_table, ratio, write_report

#: Our family name -> the rbig marginal of the same kind.
FAMILIES = {"mixture": "gmm", "kde": "kde", "histogram": "empirical", "spline": "spline"}


def datasets(names, power_rows: int):
    """(train, val, test) by name; every split in the same units."""
    out = {}
    for name in names:
        if name == "moons":
            train, val, test = moons_split()
        elif name == "synthetic":
            X = non_gaussian_data(11_000, 6)
            train, val, test = X[:5000], X[5000:6000], X[6000:]
        elif name == "power":
            ds = load_dataset("power", max_rows=4 * power_rows)
            train, val, test = ds.train[:power_rows], ds.val[:2000], ds.test[:10_000]
        else:
            raise ValueError(f"unknown data set {name!r}")
        out[name] = tuple(np.asarray(a, np.float64) for a in (train, val, test))
    return out


def fit_ours(family, train, val):
    """``fit_rbig`` at its defaults (``val=None``: 8 blocks), or with depth chosen on ``val``."""
    import gauss_flows as gf

    if val is None:
        flow = gf.fit_rbig(train, marginal=family)
    else:
        flow = gf.fit_rbig(train, marginal=family, n_layers=None, val_data=val)
    jax.block_until_ready(flow)
    log_prob = eqx.filter_jit(lambda f, X: f.log_prob(X))
    return (lambda X: np.asarray(log_prob(flow, X))), int(flow.bijection.bijection.n_layers)


class FitTimeout(Exception):
    """A fit ran past its time limit."""


def _within(seconds: float, fn):
    """``fn()``, interrupted by ``FitTimeout`` after ``seconds`` (between Python steps)."""
    def stop(signum, frame):
        raise FitTimeout(f"over {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fit_rbig(family, train, limit_s):
    import rbig

    if family == "empirical":
        model = rbig.AnnealedRBIG(rotation="pca", tol="auto", random_state=0,
                                  marginal_kwargs={"tail": "gaussian"})
    else:
        model = rbig.AnnealedRBIG(rotation="pca", tol="auto", random_state=0,
                                  strategy=[("pca", family)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _within(limit_s, lambda: model.fit(train))
    return (lambda X: np.asarray(model.score_samples(X))), len(model.layers_)


def rbig_available() -> bool:
    try:
        import rbig  # noqa: F401
    except ImportError:
        return False
    return True


def run(data, with_peer: bool, limit_s: float):
    rows, raw = [], []
    for name, (train, val, test) in data.items():
        for ours, theirs in FAMILIES.items():
            entries = {
                f"gauss_flows {ours}": lambda: fit_ours(ours, train, None),
                f"gauss_flows {ours}, depth on val_data": lambda: fit_ours(ours, train, val),
            }
            if with_peer:
                entries[f"rbig {theirs}"] = lambda: fit_rbig(theirs, train, limit_s)
            results = {}
            for label, fit in entries.items():
                try:  # a failing or overlong fit costs its row, not the run
                    (log_prob, depth), seconds = timed(fit)
                    summary = log_likelihood_summary(log_prob(test))
                    results[label] = {"nll": -summary["test_ll"], "se": summary["test_ll_se"],
                                      "nonfinite": summary["n_nonfinite"], "depth": depth,
                                      "seconds": seconds}
                except Exception as error:
                    results[label] = {"error": f"{type(error).__name__}: {error}"[:120]}
                print(name, label, results[label], flush=True)
            peer = results.get(f"rbig {theirs}", {})
            for label, r in results.items():
                raw.append({"dataset": name, "model": label, **r})
                if "error" in r:
                    rows.append([name, label, r["error"], "", "", "", "", ""])
                    continue
                gain = (peer["nll"] - r["nll"]) if "nll" in peer else None
                rows.append([
                    name, label, f"{r['nll']:.3f} ± {r['se']:.3f}", r["nonfinite"], r["depth"],
                    f"{r['seconds']:.2f}",
                    "—" if gain is None or label.startswith("rbig") else f"{gain:+.3f}",
                    ratio(peer.get("seconds"), r["seconds"]) if not label.startswith("rbig")
                    else "1.00",
                ])
    return rows, raw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["moons", "synthetic", "power"])
    parser.add_argument("--power-rows", type=int, default=5000, help="POWER training rows")
    parser.add_argument("--limit-s", type=float, default=300.0,
                        help="time limit of one rbig fit (its KDE marginal is quadratic in rows)")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    with_peer = rbig_available()
    rows, raw = run(datasets(args.datasets, args.power_rows), with_peer, args.limit_s)
    best = {}
    for r in raw:
        if "nll" in r and math.isfinite(r["nll"]):
            side = "rbig" if r["model"].startswith("rbig") else "ours"
            key = (r["dataset"], side)
            if key not in best or r["nll"] < best[key][0]:
                best[key] = (r["nll"], r["model"])
    verdicts = [[d, *best[(d, "ours")][::-1], *(best.get((d, "rbig"), (math.nan, "—"))[::-1])]
                for d in args.datasets if (d, "ours") in best]
    body = (
        "Held-out NLL in nats per row (± standard error over test rows; lower is better), "
        "blocks kept, fit seconds (ours include compilation), NLL gain over the rbig fit "
        "of the same family (positive: ours is better), and speed-up over it."
        + ("" if with_peer else "\n\n**rbig is not installed: peer rows are missing.**")
        + "\n\n"
        + markdown_table(["data", "fit", "held-out NLL", "non-finite", "blocks", "seconds",
                          "gain vs rbig", "speed-up vs rbig"], rows)
        + "\n\nBest of each side:\n\n"
        + markdown_table(["data", "best of ours", "NLL", "best of rbig", "NLL"],
                         [[d, m, f"{v:.3f}", pm, f"{pv:.3f}"] for d, m, v, pm, pv in verdicts])
    )
    print(body)
    path = write_report("rbig_marginals", "Greedy RBIG by marginal family", body, data=raw)
    print("written to", path)


if __name__ == "__main__":
    main()
