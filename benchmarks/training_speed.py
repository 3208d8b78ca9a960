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
from flowjax.bijections import Affine
from flowjax.distributions import StandardNormal, Transformed

import gauss_flows as gf

from _common import interleaved, median, moons_split
from _models import MODELS, Budget, build_flow
from _report import markdown_table, ratio, write_report

#: The two models, from the one registry: the seed's warm start and flowjax's spline
#: coupling flow at its own defaults (MLP width 50; as published, a StandardNormal base).
MODELS_TIMED = {
    "gauss_flows warm start (8 blocks, K=8)": MODELS["rbig"].variant(n_layers=8, n_components=8),
    "flowjax coupling_flow, RQ spline (8 knots, 8 layers)": MODELS["flowjax_coupling"].variant(
        nn_width=50, trainable_base=False),
}


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


def loop_ms(seconds: dict, name, steps: int, short: int) -> list[float]:
    """Per-step ms of the seed loop, repeat by repeat: compilation cancels in the difference."""
    return [1e3 * (t_long - t_short) / (steps - short)
            for t_short, t_long in zip(seconds[name, "short"], seconds[name, "long"])]


def measure(flows: dict, X, steps: int, repeats: int):
    """Both loops on every model, the models taking turns, repeat after repeat."""
    short = steps // 10
    for flow in flows.values():  # compile train_flow once per model (same settings)
        gf.train_flow(flow, X, steps=steps, peak_lr=1e-3)
    fns = {}
    for name, flow in flows.items():
        fns[name, "short"] = lambda flow=flow: seed_loop(flow, X, steps=short, peak_lr=1e-3)
        fns[name, "long"] = lambda flow=flow: seed_loop(flow, X, steps=steps, peak_lr=1e-3)
        fns[name, "scan"] = lambda flow=flow: gf.train_flow(flow, X, steps=steps, peak_lr=1e-3)
    seconds, last = interleaved(fns, repeats)
    rows, per_step = [], {}
    for name in flows:
        loop = median(loop_ms(seconds, name, steps, short))
        scan_ms = [1e3 * t / steps for t in seconds[name, "scan"]]
        per_step[name] = (loop, median(scan_ms))
        spread = f"{min(scan_ms):.3g}–{max(scan_ms):.3g}"
        rows.append([name, loop, per_step[name][1], spread, last[name, "long"][1][-1],
                     float(last[name, "scan"][1].loss[-1])])
    return rows, per_step


def loop_floor(X, steps: int, repeats: int) -> float:
    """The seed loop's fixed cost per step, on a flow that does almost nothing.

    One elementwise affine map: the loop's dispatch of its jitted step and its eager key
    split, index draw and gather remain. No model trained by this loop can step faster.
    """
    floor = Transformed(StandardNormal((2,)), Affine(jnp.zeros(2), jnp.ones(2)))
    short = steps // 10
    seconds, _ = interleaved({
        ("floor", "short"): lambda: seed_loop(floor, X, steps=short, peak_lr=1e-3),
        ("floor", "long"): lambda: seed_loop(floor, X, steps=steps, peak_lr=1e-3),
    }, repeats)
    return median(loop_ms(seconds, "floor", steps, short))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report", default="training_speed",
                        help="name of the report under results/ (default: training_speed)")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)  # as in the seed notebook

    X = jnp.asarray(moons_split()[0])
    flows = {name: build_flow(model, np.asarray(X), None, Budget())
             for name, model in MODELS_TIMED.items()}
    rows, per_step = measure(flows, X, args.steps, args.repeats)
    ours, peer = per_step.values()
    floor = loop_floor(X, args.steps, args.repeats)
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
        f"{ratio(peer[0], ours[0])} with the seed loop, {ratio(peer[1], ours[1])} with "
        f"gf.train_flow.\n\nThe seed loop's own cost per step, measured on a one-affine-layer "
        f"flow: {floor:.3g} ms. Against the spline flow's {peer[0]:.3g} ms, no model trained by "
        f"that loop can be more than {ratio(peer[0], floor)} faster per step; the models' "
        "own compute is what gf.train_flow's column compares."
    )
    print(body)
    path = write_report(args.report, "Training speed per step", body,
                        data={"rows": rows, "seed_loop_floor_ms": floor})
    print("written to", path)


if __name__ == "__main__":
    main()
