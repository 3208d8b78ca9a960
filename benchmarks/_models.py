"""The models compared by ``benchmarks/run.py``: gauss_flows and its peers, one function each.

Each model function takes the training/validation rows (float32, data units) and a budget
and returns a :class:`Fitted`: a batched log-density in data units plus what the report
states about the run (steps, learning rate, sizes). Models that need standardised inputs
(the flowjax and zuko flows, scikit-learn's mixtures and KDE) are fitted on
``(x − mean) / sd`` of the training rows and their log-densities corrected by
``−Σ log sd``, so every row of the table is a density of the same data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class Unavailable(Exception):
    """The model cannot run here (a package or a gauss_flows function is missing)."""


class Skipped(Exception):
    """The model is deliberately not run on this data set (the reason is the message)."""


@dataclass
class Budget:
    """Training settings shared by every gradient-trained model on one data set."""

    steps: int
    batch: int = 256
    n_layers: int = 8
    n_components: int = 8
    nn_width: int = 64
    nn_depth: int = 1
    knots: int = 8
    lr_cold: float = 3e-3
    lr_warm: float = 1e-3
    lr_peer: float = 1e-3
    gmm_grid: tuple[int, ...] = (1, 2, 4, 8, 16)
    kde_max_cost: float = 5e9
    time_budget: float | None = None
    peer_time_cap: float = 150.0  # seconds; the torch peer stops there and says so


@dataclass
class Fitted:
    """A fitted model: ``log_prob(X) -> (n,)`` in data units, plus what to report."""

    log_prob: Callable[[np.ndarray], np.ndarray]
    info: dict = field(default_factory=dict)


def _standardise(train: np.ndarray):
    mu, sd = train.mean(axis=0), train.std(axis=0)
    return mu, sd, float(np.log(sd).sum())


def _jax_log_prob(flow, batch: int = 2048, shift=None, scale=None, log_det: float = 0.0):
    import equinox as eqx
    import jax.numpy as jnp

    @eqx.filter_jit
    def lp(f, xb):
        return f.log_prob(xb)

    def log_prob(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if shift is not None:
            X = (X - shift) / scale
        out = [np.asarray(lp(flow, jnp.asarray(X[i : i + batch]))) for i in range(0, len(X), batch)]
        return np.concatenate(out).astype(np.float64) - log_det

    return log_prob


def _train(flow, X, X_val, budget: Budget, peak_lr: float):
    import gauss_flows as gf

    flow, train_nll, val_nll = gf.train_flow(
        flow, X, steps=budget.steps, peak_lr=peak_lr, batch=budget.batch, val_data=X_val,
        log_every=max(1, min(25, budget.steps)),
    )
    return flow, {
        "steps": budget.steps,
        "batch": budget.batch,
        "peak_lr": peak_lr,
        "final_train_nll": float(train_nll[-1]) if len(train_nll) else math.nan,
        "steps_run": len(train_nll) * max(1, min(25, budget.steps)),
    }


def _gf(name: str):
    import gauss_flows as gf

    fn = getattr(gf, name, None)
    if fn is None:
        raise Unavailable(f"gauss_flows.{name} not available in this checkout")
    return fn


# ------------------------------------------------------------------ gauss_flows models


def rbig(train, val, budget: Budget) -> Fitted:
    fit_rbig = _gf("fit_rbig")
    flow = fit_rbig(train, n_layers=budget.n_layers, n_components=budget.n_components, random_state=0)
    return Fitted(
        _jax_log_prob(flow),
        {"steps": 0, "sizes": f"{budget.n_layers} blocks × {budget.n_components} comps"},
    )


def diag_cold(train, val, budget: Budget) -> Fitted:
    import jax.random as jr

    build = _gf("gaussianization_flow")
    flow = build(
        jr.key(0), n_dims=train.shape[1], n_layers=budget.n_layers,
        n_components=budget.n_components, loc=train.mean(0), scale=train.std(0),
    )
    flow, info = _train(flow, train, val, budget, budget.lr_cold)
    info["sizes"] = f"{budget.n_layers} blocks × {budget.n_components} comps"
    return Fitted(_jax_log_prob(flow), info)


def diag_warm(train, val, budget: Budget) -> Fitted:
    fit_rbig = _gf("fit_rbig")
    flow = fit_rbig(train, n_layers=budget.n_layers, n_components=budget.n_components, random_state=0)
    flow, info = _train(flow, train, val, budget, budget.lr_warm)
    info["sizes"] = f"{budget.n_layers} blocks × {budget.n_components} comps"
    return Fitted(_jax_log_prob(flow), info)


def _coupling_sizes(budget: Budget) -> str:
    return (
        f"{budget.n_layers} blocks × {budget.n_components} comps, MLP {budget.nn_depth}×{budget.nn_width}"
    )


def coupling_cold(train, val, budget: Budget) -> Fitted:
    import jax.random as jr

    build = _gf("coupling_gaussianization_flow")
    if train.shape[1] < 2:
        raise Skipped("coupling needs at least 2 dimensions")
    flow = build(
        jr.key(0), n_dims=train.shape[1], n_layers=budget.n_layers,
        n_components=budget.n_components, nn_width=budget.nn_width, nn_depth=budget.nn_depth,
        loc=train.mean(0), scale=train.std(0),
    )
    flow, info = _train(flow, train, val, budget, budget.lr_cold)
    info["sizes"] = _coupling_sizes(budget)
    return Fitted(_jax_log_prob(flow), info)


def coupling_warm(train, val, budget: Budget) -> Fitted:
    import jax.random as jr

    fit = _gf("fit_rbig_coupling")
    flow = fit(
        train, key=jr.key(0), n_layers=budget.n_layers, n_components=budget.n_components,
        random_state=0, nn_width=budget.nn_width, nn_depth=budget.nn_depth,
    )
    flow, info = _train(flow, train, val, budget, budget.lr_warm)
    info["sizes"] = _coupling_sizes(budget)
    return Fitted(_jax_log_prob(flow), info)


def recipe(train, val, budget: Budget) -> Fitted:
    fit_density = _gf("fit_density")
    from gauss_flows.recipe import default_peak_lr, fine_tuning_runs

    flow = fit_density(
        train, n_components=budget.n_components, steps=budget.steps, random_state=0,
        batch=budget.batch, time_budget=budget.time_budget,
    )
    return Fitted(
        _jax_log_prob(flow),
        # noise="auto" splits the step budget between its runs, each at the rate for its
        # share; with too few rows to hold out it runs once.
        {"steps": budget.steps, "batch": budget.batch,
         "peak_lr": default_peak_lr(
             fine_tuning_runs(len(train), steps=budget.steps,
                              n_components=budget.n_components)[0][1]),
         "sizes": "fit_density defaults (architecture by rows per column, depth by held-out rows)",
         "note": "holds out 10% of the training rows for early stopping; noise='auto' "
                 "fine-tunes twice (with and without input noise, half of the step budget each) "
                 "and keeps the better on the held-out rows"},
    )


# --------------------------------------------------------------------- flowjax peers


def _flowjax_spline(kind: str, train, val, budget: Budget) -> Fitted:
    import jax.numpy as jnp
    import jax.random as jr
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import Normal
    from flowjax.flows import coupling_flow, masked_autoregressive_flow

    d = train.shape[1]
    if kind == "coupling" and d < 2:
        raise Skipped("coupling needs at least 2 dimensions")
    mu, sd, log_det = _standardise(train)
    z, z_val = (train - mu) / sd, (val - mu) / sd
    build = coupling_flow if kind == "coupling" else masked_autoregressive_flow
    flow = build(
        jr.key(0), base_dist=Normal(jnp.zeros(d)),
        transformer=RationalQuadraticSpline(knots=budget.knots, interval=4.0),
        flow_layers=budget.n_layers, nn_width=budget.nn_width, nn_depth=budget.nn_depth,
    )
    flow, info = _train(flow, z, z_val, budget, budget.lr_peer)
    info["sizes"] = (
        f"{budget.n_layers} layers, RQ spline {budget.knots} knots on [-4, 4], "
        f"MLP {budget.nn_depth}×{budget.nn_width}"
    )
    return Fitted(_jax_log_prob(flow, shift=mu, scale=sd, log_det=log_det), info)


def flowjax_coupling(train, val, budget: Budget) -> Fitted:
    return _flowjax_spline("coupling", train, val, budget)


def flowjax_maf(train, val, budget: Budget) -> Fitted:
    return _flowjax_spline("maf", train, val, budget)


# ------------------------------------------------------------------ scikit-learn peers


def gmm(train, val, budget: Budget) -> Fitted:
    from sklearn.mixture import GaussianMixture

    mu, sd, log_det = _standardise(train)
    z = (train - mu) / sd
    grid = [k for k in budget.gmm_grid if k <= max(1, len(z) // (2 * z.shape[1]))] or [1]
    best, scores = None, {}
    for k in grid:
        model = GaussianMixture(k, covariance_type="full", reg_covar=1e-6, random_state=0).fit(z)
        scores[k] = model.bic(z)
        if best is None or scores[k] < scores[best[0]]:
            best = (k, model)
    k, model = best
    return Fitted(
        lambda X: model.score_samples((np.asarray(X, dtype=np.float64) - mu) / sd) - log_det,
        {"steps": 0, "sizes": f"{k} full-covariance components (BIC over {grid})"},
    )


def kde(train, val, budget: Budget) -> Fitted:
    from sklearn.neighbors import KernelDensity

    n, d = train.shape
    bandwidths = np.geomspace(0.02, 1.0, 8)
    cost = (len(val) * len(bandwidths) + 2 * len(val)) * n * d
    if cost > budget.kde_max_cost:
        raise Skipped(
            f"KDE skipped: ~{cost:.1e} kernel evaluations (n_train×d×(n_val×8 + n_test)) exceed "
            f"the {budget.kde_max_cost:.0e} budget"
        )
    mu, sd, log_det = _standardise(train)
    z, z_val = (train - mu) / sd, (val - mu) / sd
    scores = []
    for h in bandwidths:
        model = KernelDensity(bandwidth=float(h)).fit(z)
        scores.append(model.score_samples(z_val).mean())
    h = float(bandwidths[int(np.argmax(scores))])
    model = KernelDensity(bandwidth=h).fit(z)
    return Fitted(
        lambda X: model.score_samples((np.asarray(X, dtype=np.float64) - mu) / sd) - log_det,
        {"steps": 0, "sizes": f"Gaussian kernel, bandwidth {h:.3g} (of 8, by validation LL)"},
    )


# ------------------------------------------------------------------------- zuko peer


def zuko_gf(train, val, budget: Budget) -> Fitted:
    try:
        import torch
        import zuko
    except ImportError as err:
        raise Unavailable(f"zuko/torch not installed ({err.name})") from None

    torch.manual_seed(0)
    mu, sd, log_det = _standardise(train)
    z = torch.as_tensor((train - mu) / sd, dtype=torch.float32)
    flow = zuko.flows.GF(features=train.shape[1], transforms=budget.n_layers, components=budget.n_components)
    opt = torch.optim.Adam(flow.parameters(), lr=budget.lr_peer)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=budget.lr_peer, total_steps=budget.steps, anneal_strategy="cos"
    )
    gen = torch.Generator().manual_seed(1)
    import time

    start, done = time.perf_counter(), 0
    for _ in range(budget.steps):
        if time.perf_counter() - start > budget.peer_time_cap:
            break
        done += 1
        idx = torch.randint(0, z.shape[0], (budget.batch,), generator=gen)
        loss = -flow().log_prob(z[idx]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(flow.parameters(), 1.0)
        opt.step()
        sched.step()
    flow.eval()

    def log_prob(X: np.ndarray) -> np.ndarray:
        Z = torch.as_tensor((np.asarray(X) - mu) / sd, dtype=torch.float32)
        with torch.no_grad():
            out = [flow().log_prob(Z[i : i + 4096]).numpy() for i in range(0, len(Z), 4096)]
        return np.concatenate(out).astype(np.float64) - log_det

    info = {"steps": budget.steps, "batch": budget.batch, "peak_lr": budget.lr_peer,
            "sizes": f"zuko GF, {budget.n_layers} transforms × {budget.n_components} comps"}
    if done < budget.steps:
        info["steps"] = done
        info["note"] = (
            f"**stopped by the {budget.peer_time_cap:.0f} s wall-clock cap after {done} of "
            f"{budget.steps} steps** (under-trained; the one-cycle schedule was cut short)"
        )
    return Fitted(log_prob, info)


MODELS: dict[str, tuple[str, Callable]] = {
    "rbig": ("gauss_flows fit_rbig (greedy, no gradients)", rbig),
    "diag_cold": ("gauss_flows diagonal GF, cold (random init)", diag_cold),
    "diag_warm": ("gauss_flows diagonal GF, warm (fit_rbig → train_flow)", diag_warm),
    "coupling_cold": ("gauss_flows coupling GF, cold", coupling_cold),
    "coupling_warm": ("gauss_flows coupling GF, warm (fit_rbig_coupling)", coupling_warm),
    "recipe": ("gauss_flows fit_density (recipe)", recipe),
    "flowjax_coupling": ("flowjax coupling_flow, RQ spline", flowjax_coupling),
    "flowjax_maf": ("flowjax masked_autoregressive_flow, RQ spline", flowjax_maf),
    "gmm": ("scikit-learn GaussianMixture (BIC)", gmm),
    "kde": ("scikit-learn KernelDensity (val. bandwidth)", kde),
    "zuko_gf": ("zuko GF (torch)", zuko_gf),
}
