"""The command line's files: outputs never overwrite inputs, CSV read by explicit rules,
every Parquet column kept, and one-line errors for bad delimiters, seeds and groups."""

from __future__ import annotations

import os
import shutil
import stat

import numpy as np
import pytest

import gauss_flows.cli as cli
from gauss_flows.cli import main, read_table, write_table


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line_error(code: int, err: str, match: str) -> None:
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("gauss-flows: error: ")
    assert match in lines[0], lines[0]


def _csv(tmp_path, content: str | bytes, name: str = "d.csv") -> str:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return str(path)


def _csv_error(tmp_path, content: str | bytes, header: bool | None = None) -> str:
    with pytest.raises(cli.UsageError) as raised:
        read_table(_csv(tmp_path, content), header=header)
    return str(raised.value)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A 3-column CSV whose header repeats a name, and a model fitted to it."""
    path = tmp_path_factory.mktemp("cli_files")
    X = np.random.default_rng(0).normal(size=(40, 3))
    np.savetxt(path / "data.csv", X, delimiter=",", header="a,a,b", comments="")
    code = main(["fit", str(path / "data.csv"), "-o", str(path / "model.gflow"),
                 "--strategy", "rbig", "--layers", "1", "--components", "2", "--quiet"])
    assert code == 0
    return path


@pytest.fixture
def copies(workdir, tmp_path):
    """Fresh copies of the data and model, with links to them, in an otherwise empty folder."""
    data, model = tmp_path / "data.csv", tmp_path / "model.gflow"
    shutil.copy(workdir / "data.csv", data)
    shutil.copy(workdir / "model.gflow", model)
    os.symlink(data, tmp_path / "data_link.csv")
    os.link(model, tmp_path / "model_hardlink.gflow")
    (tmp_path / "sub").mkdir()
    return tmp_path


# ---- 5: an output that is an input is refused before anything is written -----------------


@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "data.csv", "-o", "data.csv", "--strategy", "rbig"],
        ["score", "model.gflow", "data.csv", "-o", "model.gflow"],
        ["score", "model.gflow", "data.csv", "-o", "data.csv"],
        ["sample", "model.gflow", "-n", "3", "-o", "model.gflow"],
        ["inspect", "model.gflow", "data.csv", "--png", "data.csv"],
        ["fit", "data.csv", "-o", "data_link.csv"],  # a symbolic link to the input
        ["fit", "data_link.csv", "-o", "data.csv"],  # the input through a link
        ["sample", "model.gflow", "-n", "3", "-o", "model_hardlink.gflow"],  # a hard link
        ["fit", "data.csv", "-o", "sub/../data.csv"],  # another spelling of the input
    ],
    ids=lambda argv: " ".join(argv),
)
def test_output_that_is_an_input_is_refused(copies, capsys, monkeypatch, argv):
    monkeypatch.chdir(copies)
    before = {p.name: p.read_bytes() for p in copies.iterdir() if p.is_file()}
    code, _, err = _run(capsys, *argv)
    _assert_one_line_error(code, err, "is the input file")
    assert "would destroy the input" in err
    after = {p.name: p.read_bytes() for p in copies.iterdir() if p.is_file()}
    assert after == before  # nothing written, nothing left behind
    assert os.path.islink(copies / "data_link.csv")


def test_output_directory_problems_are_refused_before_fitting(copies, capsys, monkeypatch):
    monkeypatch.chdir(copies)
    code, _, err = _run(capsys, "fit", "data.csv", "-o", "sub")
    _assert_one_line_error(code, err, "-o/--output 'sub' is a directory")
    code, _, err = _run(capsys, "fit", "data.csv", "-o", "none/m.gflow")
    _assert_one_line_error(code, err, "the directory")
    assert "does not exist" in err


def test_outputs_are_written_whole_or_not_at_all(copies, capsys, monkeypatch):
    monkeypatch.chdir(copies)
    (copies / "s.npy").write_bytes(b"old content")
    real_save = np.save

    def failing_save(fh, data, **kwargs):
        real_save(fh, data[:1], **kwargs)  # part of the content, then a failure
        raise OSError(28, "No space left on device", "s.npy")

    monkeypatch.setattr(cli.np, "save", failing_save)
    code, _, err = _run(capsys, "sample", "model.gflow", "-n", "3", "-o", "s.npy")
    _assert_one_line_error(code, err, "No space left on device")
    assert (copies / "s.npy").read_bytes() == b"old content"
    assert not [p.name for p in copies.iterdir() if p.name.endswith(".tmp")]


def test_outputs_follow_links_and_keep_permissions(copies, capsys, monkeypatch):
    monkeypatch.chdir(copies)
    (copies / "real.csv").write_text("old\n")
    os.chmod(copies / "real.csv", 0o640)
    os.symlink("real.csv", copies / "out_link.csv")
    code, _, _ = _run(capsys, "sample", "model.gflow", "-n", "3", "-o", "out_link.csv")
    assert code == 0
    assert os.path.islink(copies / "out_link.csv")
    assert read_table("real.csv")[0].shape == (3, 3)
    assert stat.S_IMODE(os.stat(copies / "real.csv").st_mode) == 0o640
    code, out, _ = _run(capsys, "sample", "model.gflow", "-n", "3", "-o", os.devnull)
    assert code == 0 and out == ""  # not a regular file: written in place


# ---- 6: the CSV reader's rules ----------------------------------------------------------------


def test_byte_order_mark_is_dropped(tmp_path):
    X, names = read_table(_csv(tmp_path, b"\xef\xbb\xbf1,2\n3,4\n"))
    assert names is None and X.tolist() == [[1, 2], [3, 4]]  # the first row is kept
    X, names = read_table(_csv(tmp_path, b"\xef\xbb\xbfx,y\n1,2\n"))
    assert names == ["x", "y"] and X.tolist() == [[1, 2]]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        # A typo in row 1 of a file without a header is an error, as in any other row.
        ("1,2x\n3,4\n5,6\n",
         "line 1, column 2 holds '2x', not a number; if line 1 is a header row, pass --header"),
        ("1,2\n3,4\n5,6\n7,8\n9,10\n11,1x\n", "line 6, column 2 holds '1x', not a number"),
        ("1.2.3\n4\n5\n", "line 1, column 1 holds '1.2.3', not a number"),
        ("1,\n3,4\n", "line 1, column 2 holds an empty value (missing data)"),
        ("x,1st\n1,2\n", "line 1, column 2 holds '1st'"),  # not taken as a header
        # A row of empty fields is missing data, not a blank line.
        ("a,b\n1,2\n,\n3,4\n", "line 3, column 1 (a) holds an empty value"),
        ("a,b\n1,2\n\n\n3\n", "line 5 has 1 field, expected 2 (as line 1)"),
        ("a,b\n1,2\n\"3\"4,5\n", "line 3: malformed CSV"),
        ("a,b\n1,2\na,b\n", "line 3, column 1 (a) holds 'a', not a number"),
        ("a,b\n1_0,2\n", "holds '1_0', not a number"),  # only plain ASCII decimals
        ("a,b\n", "no data rows after the header on line 1"),
        (b"a,b\n1,\xff\n", "not valid UTF-8"),
        ("a,b\n1,2\n".encode("utf-16"), "UTF-16 text"),
    ],
)
def test_malformed_rows_are_errors_naming_line_and_column(tmp_path, content, match):
    message = _csv_error(tmp_path, content)
    assert message.startswith(f"{tmp_path / 'd.csv'}: ") and match in message, message


def test_header_rules_and_options(tmp_path):
    # Names that all look like numbers are data by default; --header makes them a header.
    path = _csv(tmp_path, "1,2\n3,4\n5,6\n")
    assert read_table(path)[0].shape == (3, 2)
    X, names = read_table(path, header=True)
    assert names == ["1", "2"] and X.tolist() == [[3, 4], [5, 6]]
    X, names = read_table(_csv(tmp_path, "x,1st\n1,2\n"), header=True)
    assert names == ["x", "1st"] and X.tolist() == [[1, 2]]
    message = _csv_error(tmp_path, "x,y\n1,2\n", header=False)
    assert "line 1, column 1 holds 'x', not a number" in message
    # Quoted fields, surrounding spaces, CRLF and CR line ends, signs and exponents.
    X, names = read_table(_csv(tmp_path, '"x, first", " y "\r\n "1",-2.5e1 \r\n+.5,3.\r\n'))
    assert names == ["x, first", "y"] and X.tolist() == [[1, -25], [0.5, 3]]
    X, names = read_table(_csv(tmp_path, "x\r1\r\r2"))
    assert names == ["x"] and X.tolist() == [[1], [2]]


def test_header_option_on_the_command_line(copies, capsys, monkeypatch):
    monkeypatch.chdir(copies)
    (copies / "numbered.csv").write_text("1,2,3\n0.1,0.2,0.3\n0.4,0.5,0.6\n")
    code, out, _ = _run(capsys, "score", "model.gflow", "numbered.csv")
    assert code == 0 and len(out.split()) == 3  # the first row is data
    code, out, _ = _run(capsys, "score", "model.gflow", "numbered.csv", "--header")
    assert code == 0 and len(out.split()) == 2
    code, _, err = _run(capsys, "score", "model.gflow", "data.csv", "--no-header")
    _assert_one_line_error(code, err, "data.csv: line 1, column 1 holds 'a', not a number")


def test_names_that_read_as_data_are_written_with_a_warning(tmp_path, capsys):
    write_table(str(tmp_path / "n.csv"), np.array([[5.0, 6.0]]), ["1", "2"])
    assert "read the file back with --header" in capsys.readouterr().err
    X, names = read_table(str(tmp_path / "n.csv"), header=True)
    assert names == ["1", "2"] and X.tolist() == [[5, 6]]


# ---- 7: Parquet keeps every column when names repeat ------------------------------------------


def test_parquet_repeated_names_keep_every_column(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    X = np.arange(12.0).reshape(3, 4)
    write_table(str(tmp_path / "t.parquet"), X, ["a", "a", "a.1", "a"])
    assert "'a' -> 'a.2', 'a' -> 'a.3'" in capsys.readouterr().err
    Y, names = read_table(str(tmp_path / "t.parquet"))
    assert names == ["a", "a.2", "a.1", "a.3"] and np.array_equal(Y, X)


def test_parquet_with_repeated_names_is_read_whole(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.Table.from_arrays([pa.array([1.0, 2.0]), pa.array([3.0, 4.0])], names=["a", "a"])
    pq.write_table(table, tmp_path / "dup.parquet")
    X, names = read_table(str(tmp_path / "dup.parquet"))
    assert names == ["a", "a"] and X.tolist() == [[1, 3], [2, 4]]


def test_sample_to_parquet_from_repeated_names(copies, capsys, monkeypatch):
    pytest.importorskip("pyarrow")
    monkeypatch.chdir(copies)
    code, _, err = _run(capsys, "sample", "model.gflow", "-n", "3", "-o", "s.parquet")
    assert code == 0 and "repeated column names renamed" in err
    X, names = read_table("s.parquet")
    assert names == ["a", "a.1", "b"] and X.shape == (3, 3)


# ---- 12: delimiters, seeds, extensions, groups -----------------------------------------------


@pytest.mark.parametrize(
    ("delimiter", "match"),
    [("", "the delimiter is empty"), (",,", "the delimiter must be one character"),
     ('"', "the delimiter cannot be '\"'"), ("1", "the delimiter cannot be '1'"),
     (".", "the delimiter cannot be '.'")],
)
def test_bad_delimiter_is_one_line(copies, capsys, delimiter, match):
    code, _, err = _run(capsys, "score", str(copies / "model.gflow"), str(copies / "data.csv"),
                        "--delimiter", delimiter)
    _assert_one_line_error(code, err, f"argument --delimiter: {match}")


def test_tab_delimiter_spellings(tmp_path):
    path = _csv(tmp_path, "x\ty\n1\t2\n", name="t.txt")
    for spelling in ("\t", "\\t", "tab"):
        assert read_table(path, spelling)[0].tolist() == [[1, 2]]
    with pytest.raises(cli.UsageError, match="line 2, column 1 .* holds '1\\\\t2'"):
        read_table(path, ";")  # another separator: one field a line, not a number


@pytest.mark.parametrize("seed", ["9223372036854775808", "-1", "4294967296"])
def test_random_state_out_of_range_is_one_line(copies, capsys, seed):
    for option in ("--random-state", "--seed"):
        code, _, err = _run(capsys, "sample", str(copies / "model.gflow"), "-n", "2", option, seed)
        _assert_one_line_error(code, err, f"argument {option}: the value must be an integer "
                               f"from 0 to 4294967295 (2**32 - 1); got {seed}")


def test_largest_random_state_works(copies, capsys):
    code, out, _ = _run(capsys, "sample", str(copies / "model.gflow"), "-n", "3",
                        "--random-state", str(2**32 - 1))
    assert code == 0 and len(out.splitlines()) == 4


def test_output_format_follows_extension_in_any_case(copies, capsys, monkeypatch):
    monkeypatch.chdir(copies)
    code, out, _ = _run(capsys, "sample", "model.gflow", "-n", "3", "--random-state", "2")
    expected = np.array([[float(v) for v in line.split(",")] for line in out.splitlines()[1:]])
    for name in ("s.tsv", "S.TSV", "s.NPY", "s.Parquet"):
        if name.lower().endswith(".parquet"):
            pytest.importorskip("pyarrow")
        code, _, _ = _run(capsys, "sample", "model.gflow", "-n", "3", "--random-state", "2",
                          "-o", name)
        assert code == 0 and os.path.exists(name)
        np.testing.assert_array_equal(read_table(name)[0], expected)
    lines = (copies / "s.tsv").read_text().splitlines()
    assert lines[0] == "a\ta\tb" and lines[1].count("\t") == 2 and "," not in lines[1]
    assert np.load("s.NPY").shape == (3, 3) and not os.path.exists("s.NPY.npy")


@pytest.mark.parametrize("groups", ["", "  "])
def test_empty_groups_is_one_line(copies, capsys, groups):
    code, _, err = _run(capsys, "info", str(copies / "data.csv"), "--groups", groups)
    _assert_one_line_error(code, err, "argument --groups: ")
    assert "is empty; give two column groups" in err


def test_groups_by_a_repeated_name_is_one_line(copies, capsys):
    code, _, err = _run(capsys, "info", str(copies / "data.csv"), "--groups", "a:b")
    _assert_one_line_error(code, err, "the column name 'a' occurs 2 times")
