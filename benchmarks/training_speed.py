"""Training speed: the seed notebook's 3000-step loop on its Gaussianization flow against the
same loop training flowjax's rational-quadratic-spline coupling flow (8 knots, 8 layers).

Both models are trained on the seed's moons with the seed's loop (a Python ``for`` over
jitted steps) and with ``gf.train_flow`` (the same steps inside compiled scans). Each
timing excludes compilation: one warm-up call with the same settings compiles, then the
timed run starts. The seed loop defines its jitted step inside the function, so every call
compiles afresh; its per-step time is therefore taken from two runs,
``(t(steps) − t(steps/10)) / (0.9·steps)``, which cancels the compilation (and any other
fixed cost) exactly. The seed loop also pays, every step, the Python dispatch of its jitted
step and of its eager key split, index draw and gather (the same for both models).
``eqx.filter_jit`` waits for every call's result before it returns (it checks for runtime
errors), so none of that Python work overlaps the model's compute: it adds to each step.

Run: ``python benchmarks/training_speed.py [--steps 3000] [--repeats 3] [--report NAME]``
(the report goes to ``results/NAME.md``, ``training_speed`` by default). The GPU table,
``results/training_speed_gpu.md``, is this script's report from a run with ``--repeats 2``
on an H200 (CUDA build of jax 0.11.2); ``--report training_speed_gpu`` writes it there.
"""

from __future__ import annotations

import argparse

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
from flowjax.bijections import Affine, RationalQuadraticSpline
from flowjax.distributions import StandardNormal, Transformed
from flowjax.flows import coupling_flow
from sklearn.datasets import make_moons

import gauss_flows as gf

from _common import markdown_table, timed, write_report


def seed_loop(flow, X, *, steps, peak_lr, clip_norm=1.0, batch=512, seed=1):
    """The seed notebook's ``train_flow`` (with ``X`` passed in)."""
    params, static = eqx.partition(flow, eqx.is_inexact_array)
    schedule = optax.cosine_onecycle_schedule(transition_steps=steps, peak_value=peak_lr)
    opt = optax.chain(optax.clip_by_global_norm(clip_norm), optax.adam(schedule))
    state = opt.init(params)

    @eqx.filter_jit
    def step(params, state, xb):
        loss, grads = eqx.filter_value_and_grad(
            lambda p: -jnp.mean(jax.vmap(eqx.combine(p, static).log_prob)(xb)))(params)
        updates, state = opt.update(grads, state)
        return eqx.apply_updates(params, updates), state, loss

    key, traj = jr.key(seed), []
    for i in range(steps):
        key, sk = jr.split(key)
        idx = jr.randint(sk, (batch,), 0, X.shape[0])
        params, state, loss = step(params, state, X[idx])
        if i % 25 == 0:
            traj.append(float(loss))
    return eqx.combine(params, static), np.array(traj)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report", default="training_speed",
                        help="name of the report under results/ (default: training_speed)")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)  # as in the seed notebook

    X, _ = make_moons(n_samples=3000, noise=0.08, random_state=0)
    X = jnp.asarray((X - X.mean(0)) / X.std(0))
    models = {
        "gauss_flows warm start (8 blocks, K=8)": gf.fit_rbig(X, n_layers=8, n_components=8),
        "flowjax coupling_flow, RQ spline (8 knots, 8 layers)": coupling_flow(
            jr.key(0),
            base_dist=StandardNormal((2,)),
            transformer=RationalQuadraticSpline(knots=8, interval=4.0),
            flow_layers=8,
        ),
    }
    short = args.steps // 10
    for flow in models.values():  # compile train_flow once per model (same settings)
        gf.train_flow(flow, X, steps=args.steps, peak_lr=1e-3)
    # The models take turns, repeat after repeat, so that a slow spell of this shared
    # machine falls on both; each model's median over the repeats is reported.
    loop_ms = {name: [] for name in models}
    scan_ms = {name: [] for name in models}
    last_nll = {}
    for _ in range(args.repeats):
        for name, flow in models.items():
            _, t_short = timed(lambda: seed_loop(flow, X, steps=short, peak_lr=1e-3))
            (_, traj), t_long = timed(lambda: seed_loop(flow, X, steps=args.steps, peak_lr=1e-3))
            # Compilation (and any other fixed cost) cancels in the difference.
            loop_ms[name].append(1e3 * (t_long - t_short) / (args.steps - short))
            (_, traj2), t_scan = timed(
                lambda: gf.train_flow(flow, X, steps=args.steps, peak_lr=1e-3)
            )
            scan_ms[name].append(1e3 * t_scan / args.steps)
            last_nll[name] = (traj[-1], traj2[-1])
    rows, per_step = [], {}
    for name in models:
        loop, scan = np.median(loop_ms[name]), np.median(scan_ms[name])
        per_step[name] = (loop, scan)
        spread = f"{min(scan_ms[name]):.3g}–{max(scan_ms[name]):.3g}"
        rows.append([name, loop, scan, spread, *last_nll[name]])
    ours, peer = per_step.values()
    # The seed loop's fixed cost per step (dispatching the jitted step, and the eager key
    # split, index draw and gather), measured on a flow that does almost nothing: one
    # elementwise affine map. No model trained by this loop can step faster.
    floor = Transformed(StandardNormal((2,)), Affine(jnp.zeros(2), jnp.ones(2)))
    floor_ms = []
    for _ in range(args.repeats):
        _, t_short = timed(lambda: seed_loop(floor, X, steps=short, peak_lr=1e-3))
        _, t_long = timed(lambda: seed_loop(floor, X, steps=args.steps, peak_lr=1e-3))
        floor_ms.append(1e3 * (t_long - t_short) / (args.steps - short))
    floor_loop = float(np.median(floor_ms))
    body = (
        f"{args.steps} steps, batch 512, float64 (as in the seed), moons 3000 x 2. "
        "Compilation excluded (seed loop: difference of a full and a tenth-length run). "
        f"Medians over {args.repeats} repeats, the models taking turns.\n\n"
        + markdown_table(
            ["model", "ms/step, seed loop", "ms/step, gf.train_flow",
             "gf.train_flow, range over repeats", "last logged NLL (seed loop)",
             "last logged NLL (train_flow)"],
            rows,
        )
        + f"\n\nPer-step speed-up of gauss_flows over the spline coupling flow: "
        f"{peer[0] / ours[0]:.2f}x with the seed loop, {peer[1] / ours[1]:.2f}x with gf.train_flow."
        f"\n\nThe seed loop's own cost per step, measured on a one-affine-layer flow: "
        f"{floor_loop:.3g} ms. Against the spline flow's {peer[0]:.3g} ms, no model trained by "
        f"that loop can be more than {peer[0] / floor_loop:.2f}x faster per step; the models' "
        "own compute is what gf.train_flow's column compares."
    )
    print(body)
    print("written to", write_report(args.report, "Training speed per step", body))


if __name__ == "__main__":
    main()
