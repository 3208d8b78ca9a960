"""Amortised posterior inference with a conditional Gaussianization flow, and its calibration.

Two simulators with parameters theta in R^2 and observations x: a linear-Gaussian model,
whose posterior is Gaussian and known in closed form, and a non-Gaussian one (a squared
observation makes the posterior bimodal). For each, one conditional flow
``p(theta | x)`` is fitted on simulated (theta, x) pairs (``gf.fit_density(theta,
condition=x)``) and then used, without retraining, at fresh observations. Calibration is
checked by simulation-based calibration: for test pairs drawn from the joint, the rank of
the true parameter among posterior draws should be uniform, and the central credible
intervals of each parameter should cover the true value at their nominal rate. Run with
``python examples/amortised_posterior.py``; the figure goes to
``examples/figures/amortised_posterior_calibration.png``.

References:
    Talts, S. et al. (2018). Validating Bayesian inference algorithms with
    simulation-based calibration. arXiv:1804.06788.
    Papamakarios, G. & Murray, I. (2016). Fast epsilon-free inference of simulation
    models with Bayesian conditional density estimation. NeurIPS.
"""

from pathlib import Path

import jax
import jax.random as jr
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import gauss_flows as gf  # noqa: E402
from _style import style_ax  # noqa: E402

jax.config.update("jax_enable_x64", True)
FIGURES = Path(__file__).parent / "figures"
N_TRAIN, N_TEST, N_DRAWS = 6000, 300, 500
LEVELS = (0.5, 0.8, 0.95)

A = np.array([[1.0, 0.5], [-0.3, 1.0], [0.8, -0.6]])
NOISE = 0.4


def linear_gaussian(rng, n):
    theta = rng.standard_normal((n, 2))
    return theta, theta @ A.T + NOISE * rng.standard_normal((n, 3))


def linear_posterior(x):
    """The exact posterior N(m, S) of the linear-Gaussian model for one observation."""
    precision = np.eye(2) + A.T @ A / NOISE**2
    cov = np.linalg.inv(precision)
    return cov @ A.T @ x / NOISE**2, cov


def squared(rng, n):
    theta = rng.standard_normal((n, 2))
    x = np.c_[theta[:, 0] ** 2 + theta[:, 1], theta[:, 1] - 0.5 * theta[:, 0] ** 2]
    return theta, x + 0.3 * rng.standard_normal((n, 2))


def calibrate(name, simulate, seed):
    rng = np.random.default_rng(seed)
    theta, x = simulate(rng, N_TRAIN)
    flow = gf.fit_density(theta, condition=x, steps=3000, time_budget=120, random_state=seed)
    theta_t, x_t = simulate(rng, N_TEST)
    draws = np.asarray(flow.sample(jr.key(seed), (N_DRAWS,), condition=x_t))  # (draws, test, 2)
    ranks = np.sum(draws < theta_t[None], axis=0)  # (test, 2), uniform on 0..N_DRAWS if calibrated
    coverage = {}
    for level in LEVELS:
        lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        coverage[level] = float(np.mean((theta_t >= lo) & (theta_t <= hi)))
    nll = -float(np.mean(np.asarray(flow.log_prob(theta_t, condition=x_t))))
    print(f"{name}: held-out NLL of theta given x {nll:.3f}")
    for level, value in coverage.items():
        print(f"  {int(level * 100)}% central intervals cover {100 * value:.1f}% of the true "
              f"parameters (nominal {int(level * 100)}%)")
    return flow, ranks, coverage, (theta_t, x_t, draws)


results = {name: calibrate(name, sim, seed) for seed, (name, sim) in
           enumerate((("linear-Gaussian", linear_gaussian), ("squared (non-Gaussian)", squared)))}

# The linear-Gaussian posterior against the closed form at a few test observations.
_, _, _, (theta_t, x_t, draws) = results["linear-Gaussian"]
errors = []
for i in range(20):
    mean, cov = linear_posterior(x_t[i])
    errors.append((np.abs(draws[:, i].mean(0) - mean).max() / np.sqrt(np.diag(cov)).max(),
                   np.abs(draws[:, i].std(0) / np.sqrt(np.diag(cov)) - 1).max()))
errors = np.array(errors)
print(f"linear-Gaussian vs exact posterior over 20 observations: posterior-mean error "
      f"{errors[:, 0].mean():.3f} posterior sds, sd ratio off by {errors[:, 1].mean():.3f}")

fig, axes = plt.subplots(2, 3, figsize=(13, 7))
for row, (name, (_, ranks, coverage, _)) in enumerate(results.items()):
    for j in range(2):
        ax = axes[row, j]
        ax.hist(ranks[:, j], bins=20, range=(0, N_DRAWS), color="tab:blue", alpha=0.8)
        ax.axhline(N_TEST / 20, color="k", lw=1, ls="--", label="uniform")
        ax.set(title=f"{name}: rank of theta_{j + 1}", xlabel="rank among posterior draws")
        style_ax(ax)
    ax = axes[row, 2]
    nominal = np.array(LEVELS)
    ax.plot([0, 1], [0, 1], color="k", lw=1, ls="--")
    ax.plot(nominal, [coverage[level] for level in LEVELS], "o-", color="tab:red")
    ax.set(title=f"{name}: coverage", xlabel="nominal level", ylabel="empirical coverage",
           xlim=(0.4, 1), ylim=(0.4, 1))
    style_ax(ax)
fig.tight_layout()
FIGURES.mkdir(exist_ok=True)
fig.savefig(FIGURES / "amortised_posterior_calibration.png", dpi=110)
