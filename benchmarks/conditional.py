"""Conditional density estimation p(t | c): gauss_flows' conditional recipe against flowjax's
conditional spline flows, warm against cold start, and a class-conditional Bayes classifier.

1. **Known-truth problems.** Three conditional problems whose true density is known:
   a heteroscedastic 1-D response, a heavy-tailed (Student-t, 3 degrees of freedom) 1-D
   response and a bimodal 2-D response. Each model gets the same training wall-clock
   (``--seconds``, compilation included) with the same trainer (``gf.train_flow``,
   held-out pairs for early stopping): gauss_flows' default recipe, as a user calls it,
   ``fit_density(T, condition=C, time_budget=seconds)`` (its greedy start is extra, and
   timed; its fine-tuning is the default two runs, with and without input noise, of at
   most half the default steps each, splitting the budget), and flowjax's conditional
   rational-quadratic-spline coupling flow and masked autoregressive flow
   (``cond_dim=c``; the coupling flow needs 2 target dimensions). The table gives the
   held-out conditional NLL and its gap to the truth's.
2. **Greedy starts.** The conditional greedy fit alone, with its dependence on the
   condition started at zero (the unconditional fit) and by regression (the default),
   beside a joint greedy fit of ``(t, c)`` read as ``log p(t, c) - log p(c)``.
3. **Warm vs cold.** Both greedy starts against the cold builder
   ``conditional_gaussianization_flow`` of the same sizes, trained on the same minibatches
   for the same steps: at how many logged steps is the warm held-out NLL not below cold.
4. **Digits Bayes classifier.** A class-conditional flow ``p(x | class)`` (one-hot
   condition) on the first 16 principal components of scikit-learn's digits, classifying
   by ``argmax_k log p(x | k) + log pi_k``, beside QDA, GaussianNB and a Gaussian mixture
   per class on the same split and features.

Run with ``python benchmarks/conditional.py [--seconds 40]``; the report goes to
``benchmarks/results/conditional.md``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from scipy import stats

from _report import markdown_table, write_report

jax.config.update("jax_enable_x64", True)

import gauss_flows as gf  # noqa: E402

N_TRAIN, N_VAL, N_TEST = 3000, 500, 5000

#: The tables the script can make (``--sections``).
SECTIONS = ("truth", "starts", "curves", "digits")


# ------------------------------------------------------------------ known-truth problems


def heteroscedastic(rng, n):
    c = rng.uniform(-2, 2, (n, 1))
    s = 0.1 + 0.3 * np.abs(c[:, 0])
    t = np.sin(1.5 * c[:, 0]) + s * rng.standard_normal(n)
    return t[:, None], c, stats.norm.logpdf(t, np.sin(1.5 * c[:, 0]), s)


def heavy_tailed(rng, n):
    c = rng.uniform(-2, 2, (n, 1))
    scale = 0.3 * (1 + 0.25 * c[:, 0] ** 2)
    t = 0.5 * c[:, 0] + scale * rng.standard_t(3, n)
    return t[:, None], c, stats.t.logpdf(t, 3, loc=0.5 * c[:, 0], scale=scale)


def bimodal(rng, n):
    c = rng.uniform(-1, 1, (n, 1))
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    m1 = 1.0 + 0.5 * c[:, 0]
    t1 = sign * m1 + 0.2 * rng.standard_normal(n)
    t2 = 0.8 * c[:, 0] * t1 + 0.3 * rng.standard_normal(n)
    log_t1 = np.logaddexp(stats.norm.logpdf(t1, m1, 0.2), stats.norm.logpdf(t1, -m1, 0.2)) - np.log(2)
    log_t2 = stats.norm.logpdf(t2, 0.8 * c[:, 0] * t1, 0.3)
    return np.c_[t1, t2], c, log_t1 + log_t2


PROBLEMS = {"heteroscedastic (1-D)": heteroscedastic, "heavy-tailed t3 (1-D)": heavy_tailed,
            "bimodal (2-D)": bimodal}


def split(problem, seed):
    rng = np.random.default_rng(seed)
    return [problem(rng, n) for n in (N_TRAIN, N_VAL, N_TEST)]


def cond_nll(flow, T, C):
    return -float(jnp.mean(flow.log_prob(jnp.asarray(T), condition=jnp.asarray(C))))


def flowjax_flow(kind, d, c, seed):
    from flowjax.bijections import RationalQuadraticSpline
    from flowjax.distributions import Normal
    from flowjax.flows import coupling_flow, masked_autoregressive_flow

    build = coupling_flow if kind == "coupling" else masked_autoregressive_flow
    return build(jr.key(seed), base_dist=Normal(jnp.zeros(d)), cond_dim=c, flow_layers=6,
                 nn_width=64, nn_depth=2,
                 transformer=RationalQuadraticSpline(knots=8, interval=4.0))


def standardise(train, *others):
    m, s = train.mean(0), train.std(0)
    return [(a - m) / s for a in (train, *others)], float(np.sum(np.log(s)))


def selected(problems):
    """The problems whose names contain one of ``problems`` (all with ``None``)."""
    return {name: f for name, f in PROBLEMS.items()
            if problems is None or any(p.lower() in name.lower() for p in problems)}


def known_truth_rows(seconds, steps, seed, problems=None, peers=True):
    rows, data = [], {}
    for name, problem in selected(problems).items():
        (T, C, _), (Tv, Cv, _), (Tt, Ct, lt) = split(problem, seed)
        truth = -float(np.mean(lt))
        t0 = time.perf_counter()
        flow = gf.fit_density(T, condition=C, time_budget=seconds, random_state=seed)
        results = {"gauss_flows recipe": (cond_nll(flow, Tt, Ct), time.perf_counter() - t0)}
        # flowjax peers on standardised targets and conditions (their best footing); their
        # NLL is converted back to the targets' units by the log of the targets' scales.
        (Ts, Tvs, Tts), log_scale = standardise(T, Tv, Tt)
        (Cs, Cvs, Cts), _ = standardise(C, Cv, Ct)
        for kind in ("coupling", "autoregressive") if peers else ():
            label = f"flowjax {kind} RQS"
            if kind == "coupling" and T.shape[1] < 2:
                results[label] = (None, None)
                continue
            t0 = time.perf_counter()
            peer = flowjax_flow(kind, T.shape[1], C.shape[1], seed)
            peer, _ = gf.train_flow(peer, Ts, condition=Cs, steps=steps, peak_lr=1e-3,
                                    batch=256, val_data=(Tvs, Cvs), patience=1500,
                                    time_budget=seconds, random_state=seed + 1)
            results[label] = (cond_nll(peer, Tts, Cts) + log_scale, time.perf_counter() - t0)
        for label, (value, wall) in results.items():
            gap = None if value is None else value - truth
            rows.append([name, label, f"{truth:.4f}",
                         "n/a (1-D target)" if value is None else f"{value:.4f}",
                         "—" if gap is None else f"{gap:+.4f}",
                         "—" if wall is None else f"{wall:.0f}"])
        data[name] = {"truth": truth, **{k: v[0] for k, v in results.items()}}
    return rows, data


def warm_vs_cold(steps, seed, problems=None):
    """Held-out curves of both greedy starts (``dependence="regression"``, the default, and
    ``"zero"``) and the cold builder of the same sizes, on the same minibatches."""
    from gauss_flows import layout

    rows, data = [], {}
    for name, problem in selected(problems).items():
        (T, C, _), (Tv, Cv, _), _ = split(problem, seed)
        starts = {dependence: gf.fit_rbig(T, condition=C, n_layers=6, n_components=8,
                                          random_state=seed, dependence=dependence)
                  for dependence in ("regression", "zero")}
        stack = layout.conditional_gaussianizer(starts["zero"])
        cold = gf.conditional_gaussianization_flow(
            jr.key(seed), n_dims=T.shape[1], cond_dim=C.shape[1], n_layers=6, n_components=8,
            loc=stack.stack.loc, scale=stack.stack.scale, cond_loc=stack.cond_loc,
            cond_scale=stack.cond_scale,
        )
        curves = {}
        for label, flow in (*starts.items(), ("cold", cold)):
            _, log = gf.train_flow(flow, T, condition=C, steps=steps, peak_lr=3e-3, batch=256,
                                   val_data=(Tv, Cv), log_every=25, random_state=seed + 1)
            curves[label] = log.monitored["val_data"]
        c = curves["cold"]
        for label in starts:
            w = curves[label]
            rows.append([name, f"warm ({label})", f"{w[0]:.3f}", f"{c[0]:.3f}", f"{w[-1]:.3f}",
                         f"{c[-1]:.3f}", f"{int(np.sum(w >= c))} / {len(w)}",
                         f"{float(np.min(c - w)):+.3f}"])
        data[name] = {label: curve.tolist() for label, curve in curves.items()}
    return rows, data


def greedy_starts(seed, problems=None):
    """Test conditional NLL of the greedy starts alone, beside a joint greedy fit.

    The joint fit is ``fit_rbig`` on the pairs ``(t, c)`` and on ``c`` alone, read as
    ``log p(t | c) = log p(t, c) - log p(c)``: the conditional density a greedy fit of
    the joint distribution gives, with its depth chosen on held-out rows.
    """
    rows, data = [], {}
    for name, problem in selected(problems).items():
        (T, C, _), _, (Tt, Ct, lt) = split(problem, seed)
        truth = -float(np.mean(lt))
        result = {}
        for dependence in ("zero", "regression"):
            start = gf.fit_rbig(T, condition=C, n_layers=None, random_state=seed,
                                dependence=dependence)
            result[f"conditional greedy, dependence={dependence!r}"] = cond_nll(start, Tt, Ct)
        joint = gf.fit_rbig(np.c_[T, C], n_layers=None, random_state=seed)
        marginal = gf.fit_rbig(C, n_layers=None, random_state=seed)
        result["joint greedy fit of (t, c), minus that of c"] = -float(
            jnp.mean(joint.log_prob(jnp.asarray(np.c_[Tt, Ct])) - marginal.log_prob(jnp.asarray(Ct)))
        )
        for label, value in result.items():
            rows.append([name, label, f"{truth:.4f}", f"{value:.4f}", f"{value - truth:+.4f}"])
        data[name] = {"truth": truth, **result}
    return rows, data


def digits_classifier(steps, seed):
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.mixture import GaussianMixture
    from sklearn.model_selection import train_test_split
    from sklearn.naive_bayes import GaussianNB

    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    X = X + rng.uniform(0, 1, X.shape)  # dequantised pixels
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    pca = PCA(16, random_state=seed).fit(Xtr)
    Ztr, Zte = pca.transform(Xtr), pca.transform(Xte)
    k = 10
    prior = np.log(np.bincount(ytr, minlength=k) / len(ytr))
    onehot = np.eye(k)
    Ztr_fit, Zval, ytr_fit, yval = train_test_split(Ztr, ytr, test_size=0.15, random_state=seed,
                                                    stratify=ytr)
    flow = gf.fit_rbig(Ztr_fit, condition=onehot[ytr_fit], n_layers=8, n_components=8,
                       random_state=seed)
    flow, _ = gf.train_flow(flow, Ztr_fit, condition=onehot[ytr_fit], steps=steps, peak_lr=2e-3,
                            batch=256, val_data=(Zval, onehot[yval]), patience=500,
                            random_state=seed + 1)
    scores = np.stack([np.asarray(flow.log_prob(Zte, condition=np.tile(onehot[j], (len(Zte), 1))))
                       for j in range(k)], 1) + prior
    acc = {"gauss_flows class-conditional flow": float(np.mean(scores.argmax(1) == yte))}
    acc["QDA (reg_param=0.1)"] = QuadraticDiscriminantAnalysis(reg_param=0.1).fit(Ztr, ytr).score(Zte, yte)
    acc["GaussianNB"] = GaussianNB().fit(Ztr, ytr).score(Zte, yte)
    gmm = [GaussianMixture(3, random_state=seed).fit(Ztr[ytr == j]) for j in range(k)]
    gscores = np.stack([g.score_samples(Zte) for g in gmm], 1) + prior
    acc["GMM per class (3 components)"] = float(np.mean(gscores.argmax(1) == yte))
    return [[name, f"{value:.4f}"] for name, value in acc.items()], acc


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="training wall-clock per model")
    parser.add_argument("--steps", type=int, default=600, help="steps of the warm/cold curves")
    parser.add_argument("--train-steps", type=int, default=1500,
                        help="most steps of each known-truth model (the schedule's length)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--problems", nargs="+", metavar="NAME",
                        help="only the problems whose names contain one of these (e.g. "
                        "bimodal); the partial tables are printed, not written")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="which tables to make; fewer than all are printed, not written")
    parser.add_argument("--no-peers", action="store_true",
                        help="skip the flowjax peers (printed, not written)")
    args = parser.parse_args()
    partial = args.problems is not None or set(args.sections) != set(SECTIONS) or args.no_peers
    truth_rows = start_rows = curve_rows = digit_rows = []
    truth = starts = curves = digits = {}
    if "truth" in args.sections:
        truth_rows, truth = known_truth_rows(args.seconds, args.train_steps, args.seed,
                                             args.problems, peers=not args.no_peers)
        print(markdown_table(["problem", "model", "true NLL", "model NLL", "gap", "wall s"],
                             truth_rows), flush=True)
    start_header = ["problem", "greedy start", "true NLL", "start NLL", "gap"]
    if "starts" in args.sections:
        start_rows, starts = greedy_starts(args.seed, args.problems)
        print(markdown_table(start_header, start_rows), flush=True)
    curve_header = ["problem", "start", "warm step 0", "cold step 0", "warm final", "cold final",
                    "logged steps warm >= cold", "min lead (cold - warm)"]
    if "curves" in args.sections:
        curve_rows, curves = warm_vs_cold(args.steps, args.seed, args.problems)
        print(markdown_table(curve_header, curve_rows), flush=True)
    if partial:
        return
    digit_rows, digits = digits_classifier(1500, args.seed)
    body = "\n\n".join([
        f"Training rows {N_TRAIN}, held-out pairs {N_VAL} (early stopping), test pairs {N_TEST}; "
        f"each model trained with `gf.train_flow` for at most {args.seconds:.0f} s "
        "(compilation included). gauss_flows: the default recipe "
        "`fit_density(T, condition=C, time_budget=seconds)`, every other setting its default "
        "(two fine-tuning runs, with and without input noise, splitting the budget); flowjax "
        f"peers: at most {args.train_steps} steps (the one-cycle schedule's length) at peak "
        "LR 1e-3 on standardised targets and conditions. Wall-clock in the table includes "
        "the greedy start and compilation.",
        "## Held-out conditional NLL against the truth",
        markdown_table(["problem", "model", "true NLL", "model NLL", "gap", "wall s"], truth_rows),
        "## Greedy starts alone (no gradient steps; test pairs; depth chosen on held-out rows)",
        markdown_table(start_header, start_rows),
        f"## Warm vs cold start ({args.steps} steps, same minibatches, held-out NLL every 25 steps)",
        markdown_table(curve_header, curve_rows),
        "## Digits (16 PCA components, 30% test): Bayes classifier accuracy",
        markdown_table(["classifier", "test accuracy"], digit_rows),
    ])
    path = write_report("conditional", "Conditional density estimation", body,
                        data={"known_truth": truth, "starts": starts, "curves": curves, "digits": digits})
    print(path.read_text())


if __name__ == "__main__":
    main()
