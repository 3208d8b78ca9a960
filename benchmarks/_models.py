"""The one model registry of the benchmarks: gauss_flows and its peers, each at its best.

Every model is a :class:`Model`: a name, a label, whether it is ours or a peer, and how it
is fitted. JAX flows (ours and flowjax's) are *built* (a random start or a greedy fit)
and then, if the entry names a learning rate, trained by one loop for all of them
(:func:`train`: ``gauss_flows.train_flow``, the same steps, batch and schedule for every
model on a data set). Other models (the recipe, scikit-learn's, zuko's) *fit* themselves.
A script picks entries from :data:`MODELS` and adapts them with :meth:`Model.variant`
(other sizes, another learning rate); :func:`fit_model` fits one and returns a
:class:`Fitted`: a batched log-density in data units plus what the report states.

Models that want standardised inputs (flowjax's flows, scikit-learn's mixtures and KDE,
zuko) are fitted on ``(x − mean) / sd`` of the training rows and their log-densities
corrected by ``−Σ log sd``, so every model is a density of the same data.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


class Unavailable(Exception):
    """The model cannot run here (a package or a gauss_flows function is missing)."""


class Skipped(Exception):
    """The model is deliberately not run on this data set (the reason is the message)."""


@dataclass(frozen=True)
class Budget:
    """Sizes and training settings shared by every model on one data set.

    ``steps=None`` trains for as many steps as fit in ``time_budget`` (seconds for the
    whole fit, greedy stage included), the one-cycle schedule sized to them from the
    measured step rate. For the recipe, ``time_budget`` caps its fine-tuning.
    ``patience`` counts gradient steps. A ``seed`` sets every model's key and greedy
    ``random_state``; the minibatches are drawn with ``random_state=seed + 1``.
    """

    steps: int | None = 3000
    batch: int = 256
    n_layers: int = 8
    n_components: int = 8
    nn_width: int = 64
    nn_depth: int = 1
    knots: int = 8
    lr_cold: float = 3e-3
    lr_warm: float = 1e-3
    lr_peer: float = 1e-3
    warmup: float = 0.3
    log_every: int = 25
    patience: int | None = None
    time_budget: float | None = None
    seed: int = 0
    gmm_grid: tuple[int, ...] = (1, 2, 4, 8, 16)
    kde_max_cost: float = 5e9
    peer_time_cap: float = 150.0  # seconds; the torch peer stops there and says so


@dataclass
class Fitted:
    """A fitted model: ``log_prob(X) -> (n,)`` in data units, plus what to report."""

    log_prob: Callable[[np.ndarray], np.ndarray]
    info: dict = field(default_factory=dict)
    flow: Any = None  # the JAX flow, in the units it was fitted in
    log: Any = None  # the gf.TrainingLog of its gradient training


@dataclass(frozen=True)
class Model:
    """One entry of the registry.

    Attributes:
        name: Registry key.
        label: How reports name it.
        ours: A gauss_flows model (else a peer).
        build: For JAX flows: ``build(train, val, budget, **options) -> (flow, info)``,
            a random start or a greedy fit.
        fit: For other models: ``fit(train, val, budget, **options) -> Fitted``.
        lr: The budget's learning rate (``"cold"``, ``"warm"`` or ``"peer"``) the built
            flow is trained at by :func:`train`; ``None``: not trained.
        standardise: Fitted on standardised rows, densities corrected.
        options: Keyword arguments of ``build``/``fit``: the model's settings.
        training: Keyword arguments of :func:`train` (``peak_lr``, ``warmup``,
            ``schedule``, ``batch``, ``log_every``, ``patience``, ``keep_best``).
        uses_jax: Whether fitting it imports JAX (its worker reports the JAX device).
    """

    name: str
    label: str
    ours: bool
    build: Callable[..., tuple[Any, dict]] | None = None
    fit: Callable[..., Fitted] | None = None
    lr: str | None = None
    standardise: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    training: Mapping[str, Any] = field(default_factory=dict)
    uses_jax: bool = True

    @property
    def display(self) -> str:
        """The label, marked ``*(peer)*`` for other libraries."""
        return self.label if self.ours else f"{self.label} *(peer)*"

    def variant(self, label: str | None = None, *, training: Mapping | None = None,
                **options: Any) -> Model:
        """The same model with other settings (options and training override this entry's)."""
        return replace(self, label=label or self.label, options={**self.options, **options},
                       training={**self.training, **(training or {})})

    def spec(self) -> dict[str, Any]:
        """What a worker process needs to rebuild this variant (:func:`from_spec`)."""
        return {"name": self.name, "label": self.label, "options": dict(self.options),
                "training": dict(self.training)}


def from_spec(spec: Mapping[str, Any]) -> Model:
    """The registry entry named in ``spec``, with its variant's settings."""
    base = MODELS[spec["name"]]
    return replace(base, label=spec.get("label", base.label),
                   options=dict(spec.get("options", base.options)),
                   training=dict(spec.get("training", base.training)))


# -------------------------------------------------------------- fitting any model


@dataclass(frozen=True)
class Standardisation:
    """``x → (x − shift) / scale`` (identity with no shift), and its log-Jacobian."""

    shift: np.ndarray | None = None
    scale: np.ndarray | None = None
    log_det: float = 0.0

    @classmethod
    def of(cls, X: np.ndarray) -> Standardisation:
        mu, sd = X.mean(axis=0), X.std(axis=0)
        return cls(mu, sd, float(np.log(sd).sum()))

    def __call__(self, X):
        if X is None or self.shift is None:
            return X
        if isinstance(X, Mapping):
            return {name: self(v) for name, v in X.items()}
        return (X - self.shift) / self.scale

    def density(self, log_prob: Callable) -> Callable[[np.ndarray], np.ndarray]:
        """A log-density of standardised rows as one of data rows."""
        if self.shift is None:
            return log_prob
        return lambda X: log_prob(self(np.asarray(X))) - self.log_det


def fit_model(model: Model, X: np.ndarray, val, budget: Budget) -> Fitted:
    """Fit one model (build, then train, for JAX flows); densities in data units."""
    start = time.perf_counter()
    standard = Standardisation.of(X) if model.standardise else Standardisation()
    z, z_val = standard(X), standard(val)
    if model.fit is not None:
        fitted = model.fit(z, z_val, budget, **model.options)
        fitted.log_prob = standard.density(fitted.log_prob)
        return fitted
    flow, info = model.build(z, z_val, budget, **model.options)
    log = None
    if model.lr is not None:
        info["greedy_s"] = time.perf_counter() - start
        training = {"peak_lr": getattr(budget, f"lr_{model.lr}"), **model.training}
        flow, log, trained = train(flow, z, z_val, budget, started=start, **training)
        info.update(trained)
    import jax

    jax.block_until_ready(flow)
    return Fitted(standard.density(jax_log_prob(flow)), info, flow, log)


def build_flow(model: Model, X: np.ndarray, val, budget: Budget):
    """The model's flow before training (its random start or greedy fit)."""
    if model.build is None:
        raise TypeError(f"{model.name} is not a JAX flow")
    standard = Standardisation.of(X) if model.standardise else Standardisation()
    return model.build(standard(X), standard(val), budget, **model.options)[0]


def jax_log_prob(flow, batch: int = 2048) -> Callable[[np.ndarray], np.ndarray]:
    """A flow's log-density of many rows, ``batch`` rows per compiled call, as NumPy."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    dtype = jax.dtypes.canonicalize_dtype(np.float64)  # float64 with x64 enabled
    lp = eqx.filter_jit(lambda f, xb: f.log_prob(xb))

    def log_prob(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=dtype)
        out = [np.asarray(lp(flow, jnp.asarray(X[i : i + batch]))) for i in range(0, len(X), batch)]
        return np.concatenate(out).astype(np.float64)

    return log_prob


def train(
    flow, X, val, budget: Budget, *, peak_lr: float, started: float, warmup: float | None = None,
    schedule: str = "one-cycle", batch: int | None = None, log_every: int | None = None,
    patience: int | None = None, keep_best: bool = False,
):
    """Train any flow with ``gauss_flows.train_flow``: the one loop of every JAX model.

    ``schedule="one-cycle"`` is ``train_flow``'s own (Adam, clipping, one-cycle cosine);
    ``"constant"`` is plain Adam at ``peak_lr``. With ``budget.steps=None`` the steps are
    those that fit in the time left (one-cycle: sized from the measured step rate).
    ``keep_best`` returns the flow with the best validation NLL seen without stopping
    early. Returns the flow, its ``TrainingLog`` and what the report states.
    """
    import gauss_flows as gf

    batch = batch or budget.batch
    steps, optimizer = budget.steps, None
    if schedule == "constant":
        import optax

        optimizer, steps = optax.adam(peak_lr), steps or 10**8
    elif steps is None:
        steps = steps_for_time(flow, X, _time_left(budget, started), peak_lr=peak_lr, batch=batch)
    log_every = log_every or max(1, min(budget.log_every, steps))
    patience = steps if keep_best else (patience if patience is not None else budget.patience)
    left = _time_left(budget, started)
    flow, log = gf.train_flow(
        flow, X, steps=steps, peak_lr=peak_lr, batch=batch, random_state=budget.seed + 1,
        val_data=val, log_every=log_every, patience=patience,
        time_budget=None if left is None else max(left, 1.0),
        warmup=budget.warmup if warmup is None else warmup, optimizer=optimizer,
    )
    info = {"steps": steps, "batch": batch, "peak_lr": peak_lr, "schedule": schedule,
            "steps_run": min(steps, len(log.loss) * log_every),
            "final_train_nll": float(log.loss[-1]) if len(log.loss) else math.nan}
    return flow, log, info


def _time_left(budget: Budget, started: float) -> float | None:
    if budget.time_budget is None:
        return None
    return budget.time_budget - (time.perf_counter() - started)


def steps_for_time(flow, X, seconds: float | None, *, peak_lr: float, batch: int,
                   probe: int = 100, share: float = 0.85) -> int:
    """Steps of ``train_flow`` that fill ``share`` of ``seconds``, timed on a short run.

    The probe runs twice (the first compiles); the share left over covers the real run's
    compilation and the records' held-out NLLs.
    """
    import gauss_flows as gf

    if seconds is None:
        raise ValueError("steps=None needs a time_budget")
    gf.train_flow(flow, X, steps=probe, peak_lr=peak_lr, batch=batch)  # compiles
    t0 = time.perf_counter()
    gf.train_flow(flow, X, steps=probe, peak_lr=peak_lr, batch=batch)
    per_step = (time.perf_counter() - t0) / probe
    return max(probe, int(share * seconds / per_step))


# ------------------------------------------------------------------ gauss_flows models


def _gf(name: str):
    import gauss_flows as gf

    fn = getattr(gf, name, None)
    if fn is None:
        raise Unavailable(f"gauss_flows.{name} not available in this checkout")
    return fn


def describe(flow) -> dict[str, Any]:
    """A flow of ours as the report states it, read through ``gauss_flows.layout``."""
    from gauss_flows import layout

    depth, sizes = layout.n_layers(flow), layout.blocks(flow).architecture()
    text = f"{depth} blocks × {sizes['n_components']} comps"
    if "nn_width" in sizes:  # a coupling block
        text += f", MLP {sizes['nn_depth']}×{sizes['nn_width']}"
    return {"depth": depth, "n_components": sizes["n_components"], "sizes": text,
            "architecture": "coupling" if "nn_width" in sizes else "diagonal"}


def _first(val):
    return next(iter(val.values())) if isinstance(val, Mapping) else val


def _greedy_options(train, val, budget: Budget, options: Mapping, coupling: bool) -> dict:
    sizes = {"n_layers": budget.n_layers, "n_components": budget.n_components,
             "random_state": budget.seed}
    if coupling:
        sizes |= {"nn_width": budget.nn_width, "nn_depth": budget.nn_depth}
    kw = sizes | dict(options)
    if kw["n_layers"] is None and "val_data" not in kw:  # depth chosen on held-out rows
        kw["val_data"] = _first(val)
    return kw


def _build_rbig(train, val, budget: Budget, **options):
    flow = _gf("fit_rbig")(train, **_greedy_options(train, val, budget, options, False))
    return flow, describe(flow)


def _build_coupling_warm(train, val, budget: Budget, **options):
    import jax.random as jr

    if train.shape[1] < 2:
        raise Skipped("coupling needs at least 2 dimensions")
    kw = _greedy_options(train, val, budget, options, True)
    flow = _gf("fit_rbig_coupling")(train, key=jr.key(budget.seed), **kw)
    return flow, describe(flow)


def _build_cold(train, val, budget: Budget, *, coupling: bool = False, **options):
    import jax.random as jr

    sizes = {"n_layers": budget.n_layers, "n_components": budget.n_components}
    if coupling:
        if train.shape[1] < 2:
            raise Skipped("coupling needs at least 2 dimensions")
        sizes |= {"nn_width": budget.nn_width, "nn_depth": budget.nn_depth}
    build = _gf("coupling_gaussianization_flow" if coupling else "gaussianization_flow")
    flow = build(jr.key(budget.seed), n_dims=train.shape[1], loc=train.mean(0),
                 scale=train.std(0), **(sizes | dict(options)))
    return flow, describe(flow)


def _recipe(train, val, budget: Budget, **options) -> Fitted:
    flow = _gf("fit_density")(
        train, n_components=budget.n_components, steps=budget.steps, random_state=budget.seed,
        batch=budget.batch, time_budget=budget.time_budget, **options,
    )
    info = {"steps": budget.steps, "batch": budget.batch, "peak_lr": _recipe_lr(len(train), budget),
            **describe(flow)}
    info["sizes"] = (f"fit_density defaults (architecture by rows per column, depth by held-out "
                     f"rows): {info['architecture']}, {info['sizes']}")
    info["note"] = ("holds out 10% of the training rows for early stopping; noise='auto' "
                    "fine-tunes twice (with and without input noise, half of the step budget "
                    "each) and keeps the better on the held-out rows")
    return Fitted(jax_log_prob(flow), info, flow)


def _recipe_lr(n_rows: int, budget: Budget) -> float | None:
    """The recipe's peak LR: noise='auto' splits the steps between its runs."""
    from gauss_flows.recipe import default_peak_lr, fine_tuning_runs

    if budget.steps is None:
        return None
    runs = fine_tuning_runs(n_rows, steps=budget.steps, n_components=budget.n_components)
    return default_peak_lr(runs[0][1])


# --------------------------------------------------------------------- flowjax peers


def _build_flowjax(train, val, budget: Budget, *, kind: str, trainable_base: bool = True,
                   **options):
    """A flowjax rational-quadratic-spline flow (coupling or masked autoregressive).

    ``trainable_base``: a ``Normal`` base with trainable location and scale (flowjax's own
    examples), else ``StandardNormal``.
    """
    import jax.numpy as jnp
    import jax.random as jr
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import Normal, StandardNormal
    from flowjax.flows import coupling_flow, masked_autoregressive_flow

    d = train.shape[1]
    if kind == "coupling" and d < 2:
        raise Skipped("coupling needs at least 2 dimensions")
    kw = {"flow_layers": budget.n_layers, "nn_width": budget.nn_width,
          "nn_depth": budget.nn_depth, "knots": budget.knots} | dict(options)
    knots = kw.pop("knots")
    build = coupling_flow if kind == "coupling" else masked_autoregressive_flow
    base = Normal(jnp.zeros(d)) if trainable_base else StandardNormal((d,))
    flow = build(jr.key(budget.seed), base_dist=base,
                 transformer=RationalQuadraticSpline(knots=knots, interval=4.0), **kw)
    sizes = (f"{kw['flow_layers']} layers, RQ spline {knots} knots on [-4, 4], "
             f"MLP {kw['nn_depth']}×{kw['nn_width']}")
    return flow, {"depth": kw["flow_layers"], "sizes": sizes}


# ------------------------------------------------------------------ scikit-learn peers


def _gmm(z, z_val, budget: Budget) -> Fitted:
    from sklearn.mixture import GaussianMixture

    grid = [k for k in budget.gmm_grid if k <= max(1, len(z) // (2 * z.shape[1]))] or [1]
    best, scores = None, {}
    for k in grid:
        model = GaussianMixture(k, covariance_type="full", reg_covar=1e-6, random_state=0).fit(z)
        scores[k] = model.bic(z)
        if best is None or scores[k] < scores[best[0]]:
            best = (k, model)
    k, model = best
    return Fitted(lambda X: model.score_samples(np.asarray(X, dtype=np.float64)),
                  {"steps": 0, "sizes": f"{k} full-covariance components (BIC over {grid})"})


def _kde(z, z_val, budget: Budget) -> Fitted:
    from sklearn.neighbors import KernelDensity

    n, d = z.shape
    bandwidths = np.geomspace(0.02, 1.0, 8)
    cost = (len(z_val) * len(bandwidths) + 2 * len(z_val)) * n * d
    if cost > budget.kde_max_cost:
        raise Skipped(
            f"KDE skipped: ~{cost:.1e} kernel evaluations (n_train×d×(n_val×8 + n_test)) exceed "
            f"the {budget.kde_max_cost:.0e} budget"
        )
    scores = [KernelDensity(bandwidth=float(h)).fit(z).score_samples(z_val).mean()
              for h in bandwidths]
    h = float(bandwidths[int(np.argmax(scores))])
    model = KernelDensity(bandwidth=h).fit(z)
    return Fitted(lambda X: model.score_samples(np.asarray(X, dtype=np.float64)),
                  {"steps": 0,
                   "sizes": f"Gaussian kernel, bandwidth {h:.3g} (of 8, by validation LL)"})


def _sklearn_rbig(X, val, budget: Budget) -> Fitted:
    """The greedy RBIG algorithm with one scikit-learn ``GaussianMixture`` per dimension.

    Same PCA rotation per block as ``fit_rbig(rotation="pca")``; the mixtures are loaded
    into the library's flow structure, so its likelihood is computed by the same code.
    """
    import jax
    import jax.numpy as jnp
    from sklearn.mixture import GaussianMixture

    from gauss_flows import layout
    from gauss_flows.bijections import (GaussianizationBlock, GaussianizationStack,
                                        HouseholderRotation, MixtureCDFGaussianization,
                                        stack_blocks)

    loc, scale = X.mean(0), X.std(0)
    z, blocks = (X - loc) / scale, []
    for _ in range(budget.n_layers):
        centered = z - z.mean(0)
        _, vecs = np.linalg.eigh(centered.T @ centered / len(z))
        rot = HouseholderRotation.from_matrix(vecs[:, ::-1].T)
        y = z @ np.asarray(rot.matrix).T
        fits = [GaussianMixture(budget.n_components, random_state=budget.seed).fit(y[:, [j]])
                for j in range(y.shape[1])]
        params = [jnp.asarray(np.stack(p)) for p in zip(*(
            (np.log(g.weights_), g.means_[:, 0], 0.5 * np.log(g.covariances_[:, 0, 0]))
            for g in fits))]
        block = GaussianizationBlock(rot, MixtureCDFGaussianization(*params))
        z = np.asarray(jax.vmap(block.transform)(jnp.asarray(z)))
        blocks.append(block)
    flow = layout.assemble_flow(GaussianizationStack(loc, scale, stack_blocks(blocks)))
    return Fitted(jax_log_prob(flow), {"steps": 0, **describe(flow)}, flow)


# ------------------------------------------------------------------------- zuko peer


def _zuko_gf(z, z_val, budget: Budget) -> Fitted:
    try:
        import torch
        import zuko
    except ImportError as err:
        raise Unavailable(f"zuko/torch not installed ({err.name})") from None

    torch.manual_seed(budget.seed)
    zt = torch.as_tensor(z, dtype=torch.float32)
    flow = zuko.flows.GF(features=z.shape[1], transforms=budget.n_layers,
                         components=budget.n_components)
    done = _torch_one_cycle(flow, zt, budget)
    flow.eval()

    def log_prob(X: np.ndarray) -> np.ndarray:
        Z = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        with torch.no_grad():
            out = [flow().log_prob(Z[i : i + 4096]).numpy() for i in range(0, len(Z), 4096)]
        return np.concatenate(out).astype(np.float64)

    info = {"steps": budget.steps, "batch": budget.batch, "peak_lr": budget.lr_peer,
            "sizes": f"zuko GF, {budget.n_layers} transforms × {budget.n_components} comps"}
    if done < budget.steps:
        info["steps"] = done
        info["note"] = (
            f"**stopped by the {budget.peer_time_cap:.0f} s wall-clock cap after {done} of "
            f"{budget.steps} steps** (under-trained; the one-cycle schedule was cut short)"
        )
    return Fitted(log_prob, info)


def _torch_one_cycle(flow, z, budget: Budget) -> int:
    """``train_flow``'s loop in torch: Adam, clip 1, one-cycle cosine; the steps done."""
    import torch

    opt = torch.optim.Adam(flow.parameters(), lr=budget.lr_peer)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=budget.lr_peer, total_steps=budget.steps, anneal_strategy="cos",
        pct_start=budget.warmup,
    )
    gen = torch.Generator().manual_seed(budget.seed + 1)
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
    return done


# ------------------------------------------------------------------------ the registry


def _registry() -> dict[str, Model]:
    from functools import partial

    entries = [
        Model("rbig", "gauss_flows fit_rbig (greedy, no gradients)", True, build=_build_rbig),
        Model("diag_cold", "gauss_flows diagonal GF, cold (random init)", True,
              build=_build_cold, lr="cold"),
        Model("diag_warm", "gauss_flows diagonal GF, warm (fit_rbig → train_flow)", True,
              build=_build_rbig, lr="warm"),
        Model("coupling_cold", "gauss_flows coupling GF, cold", True,
              build=partial(_build_cold, coupling=True), lr="cold"),
        Model("coupling_warm", "gauss_flows coupling GF, warm (fit_rbig_coupling)", True,
              build=_build_coupling_warm, lr="warm"),
        Model("recipe", "gauss_flows fit_density (recipe)", True, fit=_recipe),
        Model("flowjax_coupling", "flowjax coupling_flow, RQ spline", False,
              build=partial(_build_flowjax, kind="coupling"), lr="peer", standardise=True),
        Model("flowjax_maf", "flowjax masked_autoregressive_flow, RQ spline", False,
              build=partial(_build_flowjax, kind="maf"), lr="peer", standardise=True),
        Model("gmm", "scikit-learn GaussianMixture (BIC)", False, fit=_gmm, standardise=True),
        Model("kde", "scikit-learn KernelDensity (val. bandwidth)", False, fit=_kde,
              standardise=True),
        Model("sklearn_rbig", "greedy RBIG, one scikit-learn GaussianMixture per dimension",
              False, fit=_sklearn_rbig),
        Model("zuko_gf", "zuko GF (torch)", False, fit=_zuko_gf, standardise=True,
              uses_jax=False),
    ]
    return {m.name: m for m in entries}


#: Every model the benchmarks run, by name.
MODELS: dict[str, Model] = _registry()
