"""Held-out NLL against known truths: every model's excess over the true density, in one run.

For each process of ``_truths.py`` (moons by its generating process, a Gaussian mixture,
Neal's funnel, rings, a smoothed checkerboard) the script draws 3,000 training rows
(seed 0) and 3,000 held-out rows (seed 1) and reports each model's held-out NLL and its
excess over the true density's NLL on the same rows (a Monte Carlo estimate of the KL
divergence from the truth, with its standard error over rows).

Models, each with what its users get without tuning or the peer's best setting:

- ``gf.GaussianizationDensity()`` with no arguments, in JAX's default 32-bit mode;
- ``gf.fit_rbig(X, n_layers=None)``, the greedy fit alone;
- scikit-learn ``GaussianMixture`` (full covariance), components chosen by BIC from 1 to 32;
- scikit-learn ``KernelDensity`` (Gaussian kernel), bandwidth by 5-fold cross-validation
  over 24 values.

The peers fit standardised rows and their log-densities are corrected by the
standardisation's Jacobian. Times include JAX compilation.

Run: ``python benchmarks/known_truth.py [--truths moons rings] [--rows 3000]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _report import fmt, markdown_table, run_info, write_report
from _truths import TRUTHS


def _standardised(fit):
    """A peer fitted on standardised rows, its log-density in data units."""

    def fit_in_data_units(X):
        m, s = X.mean(0), X.std(0)
        score, info = fit((X - m) / s)
        return (lambda Y: score((Y - m) / s) - np.log(s).sum()), info

    return fit_in_data_units


@_standardised
def _gmm_bic(Z):
    from sklearn.mixture import GaussianMixture

    best = None
    for k in range(1, 33):
        model = GaussianMixture(k, covariance_type="full", reg_covar=1e-6, n_init=1,
                                random_state=0).fit(Z)
        bic = model.bic(Z)
        if best is None or bic < best[0]:
            best = (bic, k, model)
    _, k, model = best
    return model.score_samples, f"{k} full-covariance components (BIC over 1-32)"


@_standardised
def _kde_cv(Z):
    from sklearn.model_selection import GridSearchCV
    from sklearn.neighbors import KernelDensity

    grid = GridSearchCV(KernelDensity(), {"bandwidth": np.geomspace(0.01, 1.0, 24)}, cv=5)
    grid.fit(Z)
    h = grid.best_params_["bandwidth"]
    return grid.best_estimator_.score_samples, f"bandwidth {h:.3g} (5-fold CV over 24)"


def _default_estimator(X):
    import gauss_flows as gf

    model = gf.GaussianizationDensity().fit(X)
    return model.score_samples, "GaussianizationDensity() defaults, float32"


def _greedy_default(X):
    import numpy as np

    import gauss_flows as gf

    flow = gf.fit_rbig(X, n_layers=None)
    n_layers = gf.layout.n_layers(flow)
    return (lambda Y: np.asarray(flow.log_prob(Y), dtype=np.float64),
            f"fit_rbig(X, n_layers=None): {n_layers} blocks")


MODELS = {
    "gauss_flows GaussianizationDensity()": _default_estimator,
    "gauss_flows fit_rbig(n_layers=None), greedy only": _greedy_default,
    "scikit-learn GaussianMixture, BIC *(peer)*": _gmm_bic,
    "scikit-learn KernelDensity, 5-fold CV *(peer)*": _kde_cv,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--truths", nargs="+", default=list(TRUTHS), choices=list(TRUTHS))
    parser.add_argument("--rows", type=int, default=3000)
    args = parser.parse_args()

    run = run_info()
    sections, data = [], {}
    for name in args.truths:
        truth = TRUTHS[name]
        X, X_test = truth.sample(args.rows, 0), truth.sample(args.rows, 1)
        true_lp = truth.log_prob(X_test)
        rows, data[name] = [], {"truth_nll": float(-true_lp.mean())}
        rows.append(["true density", fmt(float(-true_lp.mean()), ".4f"), "0", "—", "—", truth.description])
        for label, fit in MODELS.items():
            start = time.perf_counter()
            score, info = fit(X)
            seconds = time.perf_counter() - start
            lp = np.asarray(score(X_test), dtype=np.float64)
            excess = true_lp - lp
            se = float(excess.std(ddof=1) / np.sqrt(len(excess)))
            data[name][label] = {"nll": float(-lp.mean()), "excess": float(excess.mean()),
                                 "se": se, "seconds": seconds, "settings": info}
            rows.append([label, fmt(float(-lp.mean()), ".4f"), fmt(float(excess.mean()), ".4f"),
                         fmt(se, ".4f"), fmt(seconds, ".3g"), info])
            print(f"{name:13s} {label:55s} NLL {-lp.mean():.4f}  excess {excess.mean():+.4f} "
                  f"± {se:.4f}  {seconds:.1f} s", flush=True)
        sections.append(
            f"## {name}\n\n{args.rows:,} training rows (seed 0), {args.rows:,} held-out rows "
            f"(seed 1).\n\n"
            + markdown_table(["model", "held-out NLL", "excess over truth (KL)", "± s.e.",
                              "fit s", "settings"], rows)
        )
    body = ("NLL in nats per row in the data's units (lower is better). The excess is the "
            "held-out NLL minus the true density's NLL on the same rows, an estimate of the "
            "KL divergence from the truth; its standard error is over rows (paired, so much "
            "smaller than either NLL's).\n\n" + "\n\n".join(sections))
    write_report("known_truth", "Held-out NLL against known truths", body, data=data, run=run)


if __name__ == "__main__":
    main()
