"""Information measures side by side: gauss_flows against k-NN peers, errors and times.

* Mutual information of scalar pairs: :func:`gauss_flows.mutual_information` against
  scikit-learn's k-NN estimator (``mutual_info_regression``, Kraskov et al.).
* Entropy and total correlation for d = 2..10 (correlated Gaussians and the same pushed
  through monotone maps): :func:`gauss_flows.entropy` / :func:`gauss_flows.total_correlation`
  against the Kozachenko–Leonenko k-NN entropy (and TC = Σ marginal − joint k-NN entropies).

Every case has a closed-form (or quadrature) truth; n = 2000, errors are the mean over 5
seeds of ``estimate − truth`` (and of ``|estimate − truth|``), times the mean per call after
one warm-up call (so JAX compilation is excluded). Run ``python benchmarks/information.py
[--seeds 5] [--max-dim 10]``; the markdown table is printed and written to
``benchmarks/results/information.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln
from scipy.stats import norm
from sklearn.feature_selection import mutual_info_regression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from _information_cases import make_case  # noqa: E402

import gauss_flows as gf  # noqa: E402

from _common import timed_calls  # noqa: E402
from _report import markdown_table, ratio, write_report  # noqa: E402

N, SEEDS = 2000, 5


def knn_entropy(x: np.ndarray, k: int = 3) -> float:
    """Kozachenko–Leonenko entropy estimate (nats) with the k-th neighbour (max norm-free, L2)."""
    n, d = x.shape
    dist, _ = cKDTree(x).query(x, k=k + 1)
    eps = np.maximum(dist[:, -1], 1e-300)
    log_unit_ball = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return float(digamma(n) - digamma(k) + log_unit_ball + d * np.mean(np.log(eps)))


def knn_tc(x: np.ndarray, k: int = 3) -> float:
    return sum(knn_entropy(x[:, [i]], k) for i in range(x.shape[1])) - knn_entropy(x, k)


def _quadratic_pair_truth(noise: float) -> float:
    """I(X; X² + σε), X, ε ~ N(0, 1): H(Y) by quadrature minus H(σε)."""
    xs = np.linspace(-9, 9, 3001)
    ys = np.linspace(-5 * noise, 40, 4001)
    py = np.trapezoid(norm.pdf(xs)[None, :] * norm.pdf(ys[:, None], xs[None, :] ** 2, noise), xs, axis=1)
    hy = -np.trapezoid(np.where(py > 0, py * np.log(np.maximum(py, 1e-300)), 0.0), ys)
    return float(hy - 0.5 * np.log(2 * np.pi * np.e * noise**2))


def _pair(name: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if name.startswith("gauss"):
        rho = float(name.split("=")[1])
        z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=N)
        return z[:, 0], z[:, 1]
    if name == "exp/cube, rho=0.6":
        z = rng.multivariate_normal([0, 0], [[1, 0.6], [0.6, 1]], size=N)
        return np.exp(z[:, 0]), z[:, 1] ** 3
    x = rng.standard_normal(N)
    return x, x**2 + 0.3 * rng.standard_normal(N)


PAIRS = {
    "gauss rho=0.3": -0.5 * np.log(1 - 0.3**2),
    "gauss rho=0.6": -0.5 * np.log(1 - 0.6**2),
    "gauss rho=0.9": -0.5 * np.log(1 - 0.9**2),
    "exp/cube, rho=0.6": -0.5 * np.log(1 - 0.6**2),
    "y = x² + 0.3ε": _quadratic_pair_truth(0.3),
}


def _timed_errors(estimate, inputs, truths) -> tuple[float, float, float]:
    """Mean error and mean absolute error against the truths; seconds per call after a warm-up."""
    values, seconds = timed_calls(estimate, inputs)
    e = np.asarray(values) - np.asarray(truths)
    return float(e.mean()), float(np.abs(e).mean()), seconds


def mi_rows(seeds: int = SEEDS) -> list[list]:
    rows = []
    for name, truth in PAIRS.items():
        inputs = [_pair(name, np.random.default_rng(100 + s)) for s in range(seeds)]
        truths = [truth] * seeds
        ours = _timed_errors(lambda x, y: gf.mutual_information(x, y), inputs, truths)
        knn = _timed_errors(
            lambda x, y: float(mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0]),
            inputs,
            truths,
        )
        rows.append([name, truth, *ours, *knn, ratio(knn[2], ours[2])])
    return rows


def entropy_tc_rows(seeds: int = SEEDS, max_dim: int = 10) -> list[list]:
    rows = []
    for nongaussian in (False, True):
        for d in range(2, max_dim + 1):
            cases = [make_case(d, s, nongaussian=nongaussian) for s in range(seeds)]
            inputs = [(c.X,) for c in cases]
            h = _timed_errors(gf.entropy, inputs, [c.entropy for c in cases])
            tc = _timed_errors(gf.total_correlation, inputs, [c.tc for c in cases])
            h_knn = _timed_errors(knn_entropy, inputs, [c.entropy for c in cases])
            tc_knn = _timed_errors(knn_tc, inputs, [c.tc for c in cases])
            kind = "warped" if nongaussian else "Gaussian"
            rows.append([kind, d, h[0], h[1], h[2], h_knn[0], h_knn[1], tc[0], tc[1], tc[2], tc_knn[0], tc_knn[1]])
            print(f"  {kind} d={d} done", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds per case (default 5)")
    parser.add_argument("--max-dim", type=int, default=10,
                        help="largest d of the entropy and TC cases (default 10)")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    print("mutual information of scalar pairs ...", flush=True)
    mi = mi_rows(args.seeds)
    print("entropy and total correlation ...", flush=True)
    ht = entropy_tc_rows(args.seeds, args.max_dim)
    mi_table = markdown_table(
        ["pair", "true MI", "ours: mean err", "ours: mean abs err", "ours: s/call",
         "sklearn k-NN: mean err", "k-NN: mean abs err", "k-NN: s/call", "time ratio k-NN/ours"],
        [[*r[:4], f"{r[4]:.4f}", *r[5:7], f"{r[7]:.4f}", r[8]] for r in mi],
        spec="+.4f",
    )
    ht_table = markdown_table(
        ["data", "d", "H ours: mean err", "H ours: mean abs err", "H ours: s/call",
         "H k-NN (KL): mean err", "H k-NN: mean abs err",
         "TC ours: mean err", "TC ours: mean abs err", "TC ours: s/call",
         "TC k-NN: mean err", "TC k-NN: mean abs err"],
        [[*r[:4], f"{r[4]:.4f}", *r[5:9], f"{r[9]:.4f}", *r[10:]] for r in ht],
        spec="+.4f",
    )
    body = (
        f"n = {N} samples, mean over {args.seeds} seeds (errors in nats; 'warped' = correlated "
        "Gaussians through exp, x³, Φ, sinh per column); times exclude the first (compiling) "
        f"call.\n\n## Mutual information of scalar pairs\n\n{mi_table}\n\n"
        f"## Entropy and total correlation, d = 2..{args.max_dim}\n\n{ht_table}"
    )
    print(body)
    path = write_report("information", "Information measures: gauss_flows vs k-NN estimators",
                        body, data={"mutual_information": mi, "entropy_tc": ht})
    print("written to", path)


if __name__ == "__main__":
    main()
