"""The examples run as written and print their claims as holding (slow: minutes each)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, figures: Path) -> str:
    """Run ``examples/<name>`` in a fresh interpreter; its standard output."""
    env = dict(os.environ, GAUSS_FLOWS_FIGURES=str(figures), MPLBACKEND="Agg")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, env=env,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_coupling_warm_start_claims_hold(tmp_path):
    out = run_example("coupling_warm_start.py", tmp_path)
    assert "same pytree structure: True" in out
    gap = float(out.split("on the training data:")[1].split()[0])
    assert gap < 1e-6
    assert "at every logged step (whole training set NLL): True" in out
    assert "held-out NLL better than warm diagonal's: True" in out
    assert (tmp_path / "coupling_warm_start_trajectories.png").stat().st_size > 0
    assert (tmp_path / "coupling_warm_start_densities.png").stat().st_size > 0


@pytest.mark.slow
def test_rbig_warm_start_claims_hold(tmp_path):
    """The seed notebook's code (the README's main example)."""
    out = run_example("rbig_warm_start.py", tmp_path)
    assert "Invert == Invert: True" in out
    assert "warm trajectory below cold at every logged step: True" in out
    assert (tmp_path / "rbig_warm_start_trajectories.png").stat().st_size > 0
