"""The gauss-flows command line: a full session on a small CSV, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import gauss_flows as gf
from gauss_flows.cli import main, read_table


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code: int, out: str, err: str, match: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gauss-flows: error: ")
    assert match in lines[0], lines[0]
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    x = rng.standard_exponential(150)
    X = np.column_stack([x, x + 0.5 * rng.normal(size=150), rng.normal(size=150)])
    np.savetxt(path / "data.csv", X, delimiter=",", header="a,b,c", comments="")
    return path


@pytest.fixture(scope="module")
def model(workdir):
    out = workdir / "model.gflow"
    code = main(["fit", str(workdir / "data.csv"), "-o", str(out), "--strategy", "rbig",
                 "--layers", "2", "--components", "3", "--random-state", "1", "--quiet"])
    assert code == 0
    return out


def test_fit_score_sample_info_inspect(workdir, model, capsys, tmp_path):
    data = str(workdir / "data.csv")
    header = gf.read_header(model)
    assert header["arguments"] == {"n_dims": 3, "n_layers": 2, "n_components": 3}
    assert header["metadata"]["columns"] == ["a", "b", "c"]

    code, out, _ = _run(capsys, "score", str(model), data)
    assert code == 0
    scores = np.array([float(v) for v in out.split()])
    X, _ = read_table(data)
    # The CLI computes in JAX's current precision (64-bit here: the test suite enables it).
    expected = gf.GaussianizationDensity(strategy="rbig", n_layers=2, n_components=3,
                                         random_state=1).fit(X)
    np.testing.assert_allclose(scores, expected.score_samples(X), rtol=1e-12)

    code, _, _ = _run(capsys, "score", str(model), data, "-o", str(tmp_path / "logp.npy"))
    assert code == 0
    np.testing.assert_allclose(np.load(tmp_path / "logp.npy"), scores, rtol=1e-6)

    code, out, _ = _run(capsys, "sample", str(model), "-n", "6", "--random-state", "3")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == "a,b,c" and len(lines) == 7
    draws = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert draws.shape == (6, 3) and np.all(np.isfinite(draws))
    code, _, _ = _run(capsys, "sample", str(model), "-n", "6", "--random-state", "3",
                      "-o", str(tmp_path / "s.csv"))
    assert code == 0
    np.testing.assert_array_equal(read_table(str(tmp_path / "s.csv"))[0], draws)

    code, out, _ = _run(capsys, "info", data, "--groups", "a,b:c")
    assert code == 0
    assert "entropy:" in out and "total correlation:" in out
    mi = float(out.split("mutual information")[1].split(":")[1].split()[0])
    assert mi < 0.2  # c is independent of (a, b)
    code, out, _ = _run(capsys, "info", data, "--groups", "0:1", "--bits")
    assert code == 0 and "bits" in out
    assert float(out.split("mutual information")[1].split(":")[1].split()[0]) > 0.3

    png = tmp_path / "layers.png"
    code, out, _ = _run(capsys, "inspect", str(model), data, "--png", str(png),
                        "--tc-method", "gaussian")
    assert code == 0
    assert "nongaussianity" in out and len(out.strip().splitlines()) >= 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_npy_input_and_output(workdir, model, capsys, tmp_path):
    X, _ = read_table(str(workdir / "data.csv"))
    np.save(tmp_path / "data.npy", X)
    code, out_npy, _ = _run(capsys, "score", str(model), str(tmp_path / "data.npy"))
    code_csv, out_csv, _ = _run(capsys, "score", str(model), str(workdir / "data.csv"))
    assert code == code_csv == 0 and out_npy == out_csv


def test_headerless_and_tab_separated(tmp_path):
    (tmp_path / "plain.csv").write_text("1,2\n3,4.5\n\n-1e3,7\n")
    X, names = read_table(str(tmp_path / "plain.csv"))
    assert names is None and X.tolist() == [[1, 2], [3, 4.5], [-1000, 7]]
    (tmp_path / "t.tsv").write_text("x\ty\n1\t2\n")
    X, names = read_table(str(tmp_path / "t.tsv"))
    assert names == ["x", "y"] and X.tolist() == [[1, 2]]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("a,b\n1,2\n3,x\n", "line 3, column 2 (b) holds 'x', not a number"),
        ("a,b\n1,2\n3,nan\n", "line 3, column 2 (b) holds NaN"),
        ("a,b\n1,2\n3,\n", "empty value"),
        ("a,b\n1,2\n3,4,5\n", "line 3 has 3 fields, expected 2"),
        ("a,b\n", "no data rows"),
        ("1,inf\n2,3\n", "infinite"),
    ],
)
def test_malformed_data_is_one_line(tmp_path, capsys, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, out, err = _run(capsys, "fit", str(path), "-o", str(tmp_path / "m.gflow"))
    _assert_one_line_error(code, out, err, match)
    assert not (tmp_path / "m.gflow").exists()


def test_bad_invocations_are_one_line(workdir, model, capsys, tmp_path):
    data = str(workdir / "data.csv")
    cases = [
        (["fit", str(tmp_path / "missing.csv"), "-o", "m.gflow"], "does not exist"),
        (["fit", data, "-o", "m.gflow", "--layers", "zero"], "'zero' is not an integer"),
        (["fit", data, "-o", "m.gflow", "--strategy", "magic"], "invalid choice: 'magic'"),
        (["fit", data], "-o/--output"),
        (["sample", str(model), "-n", "0"], "argument -n: the value must be a positive integer"),
        (["fit", data, "-o", "m.gflow", "--val-fraction", "1.0"], "val_fraction must be"),
        (["fit", data, "-o", "m.gflow", "--patience", "0"], "positive integer"),
        (["fit", data, "-o", "m.gflow", "--lr", "fast"], "'fast' is not a number"),
        (["sample", str(model), "-n", "3", "--bogus"], "unrecognized arguments: --bogus"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "COMMAND"),
        (["score", data, data], "not a gauss_flows model file"),
        (["score", str(tmp_path / "none.gflow"), data], "does not exist"),
        (["info", data, "--groups", "a:zz"], "no column 'zz'"),
        (["info", data, "--groups", "a,b"], "exactly two groups"),
    ]
    for argv, match in cases:
        code, out, err = _run(capsys, *argv)
        _assert_one_line_error(code, out, err, match)


def test_corrupt_and_mismatched_model(workdir, model, capsys, tmp_path):
    raw = bytearray(model.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "bad.gflow").write_bytes(bytes(raw))
    code, out, err = _run(capsys, "score", str(tmp_path / "bad.gflow"), str(workdir / "data.csv"))
    _assert_one_line_error(code, out, err, "corrupted")
    (tmp_path / "cut.gflow").write_bytes(bytes(raw[: len(raw) // 3]))
    code, out, err = _run(capsys, "sample", str(tmp_path / "cut.gflow"), "-n", "2")
    _assert_one_line_error(code, out, err, "truncated")
    (tmp_path / "two.csv").write_text("1,2\n3,4\n")
    code, out, err = _run(capsys, "score", str(model), str(tmp_path / "two.csv"))
    _assert_one_line_error(code, out, err, "has 2 columns but the model has 3 dimensions")


def test_parquet_without_pyarrow_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "d.parquet").write_bytes(b"PAR1")
    code, out, err = _run(capsys, "info", str(tmp_path / "d.parquet"))
    _assert_one_line_error(code, out, err, "needs pyarrow")


def test_parquet_round_trip(workdir, model, capsys, tmp_path):
    pytest.importorskip("pyarrow")
    code, _, _ = _run(capsys, "sample", str(model), "-n", "30", "-o", str(tmp_path / "s.parquet"))
    assert code == 0
    X, names = read_table(str(tmp_path / "s.parquet"))
    assert names == ["a", "b", "c"] and X.shape == (30, 3)


def test_real_process_exit_code(tmp_path):
    """As a separate process (the console script runs ``main``): exit code 2, one line."""
    done = subprocess.run(
        [sys.executable, "-m", "gauss_flows.cli", "score", "m.gflow", str(tmp_path / "nope.csv")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["fit", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for option in ("--strategy", "--layers", "--components", "--steps", "--random-state",
                   "--lr", "--val-fraction", "--patience", "--float64", "--quiet",
                   "--delimiter", "warm: greedy RBIG fit"):
        assert option in text
    assert "--seed" not in text  # the deprecated spelling works but is not advertised


def test_seed_is_a_deprecated_spelling_of_random_state(workdir, model, capsys):
    code, new, _ = _run(capsys, "sample", str(model), "-n", "4", "--random-state", "5")
    with pytest.warns(DeprecationWarning, match="--random-state"):
        code_old, old, err = _run(capsys, "sample", str(model), "-n", "4", "--seed", "5")
    assert code == code_old == 0 and old == new
    assert err.strip() == (
        "gauss-flows: warning: --seed is deprecated and will be removed in the next release; "
        "use --random-state"
    )


def test_fit_passes_patience_and_val_fraction(workdir, monkeypatch, tmp_path, capsys):
    import gauss_flows.cli as cli

    seen = {}
    real = cli.gf.GaussianizationDensity

    def recording(**params):
        seen.update(params)
        return real(**{**params, "strategy": "rbig"})

    monkeypatch.setattr(cli.gf, "GaussianizationDensity", recording)
    code, _, _ = _run(capsys, "fit", str(workdir / "data.csv"), "-o", str(tmp_path / "m.gflow"),
                      "--val-fraction", "0", "--patience", "300", "--layers", "1", "-q")
    assert code == 0 and seen["val_fraction"] == 0.0 and seen["patience"] == 300
    seen.clear()
    _run(capsys, "fit", str(workdir / "data.csv"), "-o", str(tmp_path / "m.gflow"),
         "--layers", "1", "-q")
    assert "val_fraction" not in seen and "patience" not in seen  # the estimator's defaults
