"""``gauss-flows info`` on discrete and degenerate data: a warning, or one-line errors with exit 2."""

from __future__ import annotations

import numpy as np
import pytest

from gauss_flows.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    path = tmp_path_factory.mktemp("info")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 500))
    tables = {
        "discrete": rng.integers(0, 4, (500, 2)),
        "pair": np.column_stack([x, y]),
        "copy": np.column_stack([x, x]),
        "exp": np.column_stack([x, np.exp(x)]),
        "wide": rng.normal(size=(25, 30)),
    }
    for name, table in tables.items():
        np.savetxt(path / f"{name}.csv", table, delimiter=",")
    return {name: str(path / f"{name}.csv") for name in tables}


@pytest.mark.parametrize(
    "name, extra, match",
    [
        ("copy", [], "columns 0 and 1 of X have the same ranks"),
        ("exp", ["--groups", "0:1"], "increasing function"),
        ("pair", ["--groups", "0,0:1"], "drop the redundant columns"),
        ("wide", [], "more rows than columns"),
    ],
)
def test_info_refuses_degenerate_data(files, capsys, name, extra, match):
    code, out, err = _run(capsys, "info", files[name], *extra)
    assert code == 2
    assert out == ""  # nothing is printed before the estimates are all made
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gauss-flows: error: "), err
    assert match in lines[0] and "nan" not in lines[0]


def test_info_on_discrete_data_warns_in_one_line_and_measures_no_dependence(files, capsys):
    code, out, err = _run(capsys, "info", files["discrete"], "--groups", "0:1")
    assert code == 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("gauss-flows: warning: X looks discrete"), err
    tc = float(out.split("total correlation:")[1].split()[0])
    mi = float(out.split("mutual information")[1].split(":")[1].split()[0])
    assert abs(tc) < 0.05 and abs(mi) < 0.05
