"""Helpers shared by the benchmark scripts: timing, tables, synthetic data."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` once and return its result and the wall-clock seconds it took."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine_note() -> str:
    """One line naming the machine the numbers came from."""
    import jax

    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (
        f"{platform.processor() or platform.machine()}, {jax.device_count()} JAX device(s): "
        f"{devices}; jax {jax.__version__}"
    )


def write_report(name: str, title: str, body: str) -> Path:
    """Write ``body`` under ``benchmarks/results/<name>.md`` with a title and machine note."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(f"# {title}\n\nMachine: {machine_note()}\n\n{body}\n")
    return path


def non_gaussian_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Correlated Gaussians pushed through assorted monotone maps, plus bimodal columns."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(d, d)) / np.sqrt(d)
    z = rng.normal(size=(n, d)) @ (a + np.eye(d))
    maps = [np.exp, lambda t: t**3, np.sinh, np.tanh, lambda t: t + 2.0 * np.sign(t)]
    x = np.empty_like(z)
    for j in range(d):
        col = z[:, j] / z[:, j].std()
        x[:, j] = maps[j % len(maps)](col)
    return x
