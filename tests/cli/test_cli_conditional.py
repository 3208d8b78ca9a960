"""The command line with a conditional model: fit --condition-columns, score, sample --condition."""

from __future__ import annotations

import numpy as np
import pytest

from gauss_flows.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cond_cli")
    rng = np.random.default_rng(0)
    c = rng.uniform(-1, 1, 300)
    t = np.c_[c + 0.2 * rng.normal(size=300), rng.normal(size=300)]
    np.savetxt(root / "d.csv", np.c_[t, c], delimiter=",", header="a,b,c", comments="")
    np.savetxt(root / "cond.csv", [[-0.5], [0.5], [0.0]], delimiter=",", header="c", comments="")
    model = root / "m.gflow"
    assert main(["fit", str(root / "d.csv"), "-o", str(model), "--condition-columns", "c",
                 "--strategy", "rbig", "--layers", "2", "-q"]) == 0
    return root, model


def test_score_and_sample_a_conditional_model(files, capsys):
    import gauss_flows as gf

    root, model = files
    assert gf.read_header(model)["metadata"]["condition_columns"] == [2]
    capsys.readouterr()
    assert main(["score", str(model), str(root / "d.csv")]) == 0
    scores = np.array(capsys.readouterr().out.split(), dtype=float)
    data = np.loadtxt(root / "d.csv", delimiter=",", skiprows=1)
    expected = gf.load(model).log_prob(data[:, :2], condition=data[:, 2:])
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    assert main(["sample", str(model), "--condition", str(root / "cond.csv"), "-n", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "a,b" and len(lines) == 1 + 3 * 2


def test_conditional_usage_errors(files, capsys):
    root, model = files
    assert main(["sample", str(model), "-n", "3"]) == 2
    assert "--condition" in capsys.readouterr().err
    assert main(["fit", str(root / "d.csv"), "-o", str(root / "x.gflow"),
                 "--condition-columns", "zz", "-q"]) == 2
    assert "no column 'zz'" in capsys.readouterr().err
    assert main(["fit", str(root / "d.csv"), "-o", str(root / "x.gflow"),
                 "--condition-columns", "0,1,2", "-q"]) == 2
    assert "no target column" in capsys.readouterr().err
    assert main(["score", str(model), str(root / "cond.csv")]) == 2
    assert "columns" in capsys.readouterr().err
