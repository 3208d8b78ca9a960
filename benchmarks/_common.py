"""Helpers shared by the benchmark scripts: data, held-out NLL, timing and ratios."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

#: Data set names of :func:`load_dataset` and their loaders in ``gauss_flows.datasets``.
LOADERS = {
    "moons": "load_moons",
    "power": "load_power",
    "digits": "load_digits",
    "mnist": "load_mnist",
    "patches": "load_image_patches",
}


def load_dataset(name: str, **kwargs: Any):
    """A ``gauss_flows.datasets.Dataset`` by its benchmark name (``"patches"``: image patches)."""
    from gauss_flows import datasets

    return getattr(datasets, LOADERS[name])(**kwargs)


def moons_split(n_val: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's moons with fresh held-out rows, all in the training rows' units.

    Train: ``make_moons(3000, noise=0.08, random_state=0)`` standardised; test: 3000 rows
    with ``random_state=1`` (the held-out rows of the coupling benchmarks); validation:
    ``n_val`` rows with ``random_state=3``.
    """
    from sklearn.datasets import make_moons

    train, _ = make_moons(n_samples=3000, noise=0.08, random_state=0)
    test, _ = make_moons(n_samples=3000, noise=0.08, random_state=1)
    val, _ = make_moons(n_samples=n_val, noise=0.08, random_state=3)
    m, s = train.mean(0), train.std(0)
    return (train - m) / s, (val - m) / s, (test - m) / s


def non_gaussian_data(n: int, d: int, seed: int = 0, sample_seed: int | None = None) -> np.ndarray:
    """Correlated Gaussians pushed through assorted monotone maps, plus bimodal columns.

    ``seed`` fixes the generator (its mixing matrix) and, without ``sample_seed``, the
    rows too; ``sample_seed`` draws fresh rows of the same generator (a held-out sample).
    """
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    if sample_seed is not None:
        rng = np.random.default_rng([seed, sample_seed])
    z = rng.normal(size=(n, d)) @ (a + np.eye(d))
    maps = [np.exp, lambda t: t**3, np.sinh, np.tanh, lambda t: t + 2.0 * np.sign(t)]
    x = np.empty_like(z)
    for j in range(d):
        col = z[:, j] / z[:, j].std()
        x[:, j] = maps[j % len(maps)](col)
    return x


def moons_study_args(doc: str):
    """The moons studies' command line (``--steps``, ``--seeds``); float64 on, as in the seed."""
    import argparse

    import jax

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)
    return args


# ------------------------------------------------------------------------ held-out NLL


def nll(model, X) -> float:
    """Mean negative log-likelihood (nats per row) of a fitted model on rows ``X``.

    ``model`` is anything with a batched ``log_prob(X) -> (n,)`` in data units: a
    :class:`_models.Fitted` (peers' standardisation already undone) or a flow.
    """
    return -float(np.mean(np.asarray(model.log_prob(X))))


def log_likelihood_summary(lp: np.ndarray) -> dict[str, Any]:
    """Mean test log-likelihood, its standard error over rows, and the non-finite count."""
    finite = np.isfinite(lp)
    kept = lp[finite]
    return {
        "n_test": int(lp.size),
        "n_nonfinite": int((~finite).sum()),
        "test_ll": float(kept.mean()) if kept.size else math.nan,
        "test_ll_se": float(kept.std(ddof=1) / math.sqrt(kept.size)) if kept.size > 1 else math.nan,
    }


# ----------------------------------------------------------------------------- timing


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` once and return its result and the wall-clock seconds it took."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def interleaved(
    fns: Mapping[Any, Callable[[], Any]], repeats: int
) -> tuple[dict[Any, list[float]], dict[Any, Any]]:
    """Time every function ``repeats`` times, taking turns, repeat after repeat.

    A slow spell of a shared machine then falls on all of them alike. Returns each
    function's seconds per repeat and its last result.
    """
    seconds: dict[Any, list[float]] = {name: [] for name in fns}
    last: dict[Any, Any] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            last[name], t = timed(fn)
            seconds[name].append(t)
    return seconds, last


def median(values: Iterable[float]) -> float:
    """The median of some timings."""
    return float(statistics.median(list(values)))


def timed_calls(
    fn: Callable[..., Any], inputs: Sequence[tuple], *, warm_up: bool = True
) -> tuple[list[Any], float]:
    """Call ``fn(*args)`` for every ``args``; results and mean seconds per call.

    With ``warm_up`` the first input is run once first, untimed, so JAX compilation (and
    any cached set-up) is left out of the times.
    """
    if warm_up:
        fn(*inputs[0])
    results, times = [], []
    for args in inputs:
        out, t = timed(lambda: fn(*args))
        results.append(out)
        times.append(t)
    return results, float(np.mean(times))
