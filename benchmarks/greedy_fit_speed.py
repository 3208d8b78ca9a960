"""Greedy RBIG fit: gauss_flows (JAX, EM over all dimensions at once) against the same
greedy algorithm written with one scikit-learn ``GaussianMixture`` fit per dimension
(the registry's ``sklearn_rbig`` peer, ``benchmarks/_models.py``).

Both fits standardise the data, use the same PCA rotation in every block, fit a
``K``-component mixture to every rotated dimension, and Gaussianize through its CDF. The
scikit-learn fit's mixtures are loaded into the same flow structure, so both models'
likelihoods are evaluated by the same code. Times include JAX compilation.

The library's defaults fit each block on at most ``fit_rows`` (``2**15``) random rows
and transform every row; a row with ``fit_rows=None`` fits every block on every row.
Held-out NLL is on a fresh sample of the same generator, as many rows as the data.

Run: ``python benchmarks/greedy_fit_speed.py [--rows 200000] [--dims 16] [--layers 12]``
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp

from _common import interleaved, non_gaussian_data, nll
from _models import MODELS, Budget, fit_model
from _report import markdown_table, ratio, write_report


def fits(skip_defaults: bool) -> dict:
    """The rows, by label: registry entries (ours first, then the scikit-learn peer)."""
    from gauss_flows.fit import MixtureFit

    plain = MixtureFit(em_steps=100, em_tol=1e-3, accelerate=False, prior_count=0.0,
                       tail_weight=0.0)
    rows = {"gauss_flows fit_rbig, same algorithm (pca, plain EM, tol 1e-3, 100 iterations)":
            MODELS["rbig"].variant(rotation="pca", marginal=plain, fit_rows=None)}
    rows["gauss_flows fit_rbig, library defaults (sliced rotations, regularised EM, "
         "each block fitted on 2^15 rows)"] = MODELS["rbig"]
    if not skip_defaults:
        rows["gauss_flows fit_rbig, library defaults but every block fitted on every row "
             "(fit_rows=None)"] = MODELS["rbig"].variant(fit_rows=None)
    rows["per-dimension sklearn GaussianMixture (pca; its defaults: tol 1e-3, 100 iterations)"] = (
        MODELS["sklearn_rbig"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--skip-defaults", action="store_true",
                        help="leave out the every-row defaults row (the slowest fit)")
    args = parser.parse_args()

    X = non_gaussian_data(args.rows, args.dims)
    X_test = non_gaussian_data(args.rows, args.dims, sample_seed=1)
    budget = Budget(n_layers=args.layers, n_components=args.components)
    models = fits(args.skip_defaults)
    # One timed fit each (compilation included), in turn.
    seconds, fitted = interleaved(
        {label: lambda m=m: fit_model(m, X, None, budget) for label, m in models.items()}, 1)
    t_peer = seconds[list(models)[-1]][0]
    rows = [[label, seconds[label][0], nll(fitted[label], X), nll(fitted[label], X_test),
             ratio(t_peer, seconds[label][0])] for label in models]
    body = (
        f"Data: {args.rows} x {args.dims} non-Gaussian (correlated Gaussians through exp, cube, "
        f"sinh, tanh and a bimodal map); {args.layers} blocks, K={args.components}; "
        f"JAX dtype {jnp.asarray(X).dtype}. Times include compilation.\n\n"
        + markdown_table(["fit", "seconds", "NLL on the data (nats)",
                          "held-out NLL (fresh sample, nats)", "speed-up vs sklearn"], rows)
    )
    print(body)
    path = write_report("greedy_fit_speed", "Greedy fit speed", body, data=rows)
    print("written to", path)


if __name__ == "__main__":
    main()
