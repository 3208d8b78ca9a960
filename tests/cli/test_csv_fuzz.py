"""Property-based tests of the command line's CSV reader.

Every input, valid or not, ends in one of two ways: a finite 2-D float64 table that
matches a reference parse, or the command line's :class:`~gauss_flows.cli.UsageError` with
a one-line message naming the file. Valid tables written in many styles (header or not,
byte-order mark, quoting, padding, blank lines, CR/LF/CRLF, three delimiters) read back
exactly.
"""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gauss_flows.cli import UsageError, read_table

# Deterministic and quick: the same examples on every run, no example database on disk.
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None)
SPACE = " \t\r\n\v\f"
# Characters that matter to CSV and to numbers, for random text and mutations.
TRICKY = list("0123456789.,;\t\n\r \"'+-eEinfatyx_#\x00\x0b\ufeff\u00a0\u0661")
DELIMITERS = {"f.csv": ",", "f.tsv": "\t", "f.txt": ";"}
# Number formats of the valid tables' fields.
STYLES = ["{!r}", "{:.17g}", "{:.4e}", "{:+.3f}", "{:E}", "{:.0f}."]
# Header names: with separators, quotes, inner spaces, digits after the first character.
NAMES = ["x", "y", "Temp 2", "a,b", "c;d", 'say "hi"', "_id", "e", "E5", "nan_rate", "x.1"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("csv_fuzz")


def _read(folder, raw: bytes, name: str, header: bool | None = None):
    """``read_table`` of ``raw`` saved as ``name``: ``(data, names)``, or ``None`` if refused."""
    path = folder / name
    path.write_bytes(raw)
    delimiter = None if name in ("f.csv", "f.tsv") else DELIMITERS[name]  # None: by extension
    try:
        data, names = read_table(str(path), delimiter, header)
    except UsageError as err:
        message = str(err)
        assert message.startswith(f"{path}: ") and "\n" not in message and "\r" not in message
        return None
    assert isinstance(data, np.ndarray) and data.dtype == np.float64 and data.ndim == 2
    assert data.shape[0] >= 1 and data.shape[1] >= 1 and np.all(np.isfinite(data))
    assert names is None or len(names) == data.shape[1]
    return data, names


def _reference(raw: bytes, delimiter: str, has_header: bool):
    """A plain parse by the same CSV tokenizer and Python's float, with no checks at all."""
    text = raw.decode("utf-8").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, skipinitialspace=True)
    records = [[f.strip(SPACE) for f in r] for r in reader]
    records = [r for r in records if r and not (len(r) == 1 and not r[0])]
    names = records.pop(0) if has_header else None
    return np.array([[float(f) for f in r] for r in records]), names


def _floats(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_against_reference(folder, raw: bytes, name: str) -> None:
    result = _read(folder, raw, name)
    if result is not None:
        data, names = result
        expected, expected_names = _reference(raw, DELIMITERS[name], names is not None)
        np.testing.assert_array_equal(data, expected)
        assert names == expected_names
        # A first row is only taken for a header if it holds no number, no empty field and
        # nothing starting with a digit (a typo such as '2x' is an error, not a name).
        assert names is None or not any(not n or _floats(n) or n[0] in "0123456789" for n in names)


@st.composite
def tables(draw):
    """``(raw bytes, file name, header option, expected data, expected names)``.

    Hypothesis draws the shape, the values and the file's layout; the styles of single
    fields (number format, quoting, padding) come from a drawn seed, which keeps the
    number of draws, and so the time per example, small.
    """
    n_rows, n_cols = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    name = draw(st.sampled_from(sorted(DELIMITERS)))
    delimiter = DELIMITERS[name]
    values = draw(st.lists(st.floats(-1e300, 1e300, allow_nan=False),
                           min_size=n_rows * n_cols, max_size=n_rows * n_cols))
    with_names, newline, bom, blank, final = draw(st.tuples(
        st.booleans(), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(),
        st.sampled_from(["", "  "]), st.booleans(),
    ))
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))
    right_pads = ["", " "] if delimiter == "\t" else ["", " ", "\t"]

    def field(text: str) -> str:
        if rng.random() < 0.3 or any(c in text for c in '",;'):
            return '"' + text.replace('"', '""') + '"'
        return rng.choice(["", " ", "  "]) + text + rng.choice(right_pads)

    names = rng.choices(NAMES, k=n_cols) if with_names else None
    rows = [[field(n) for n in names]] if names else []
    expected = []
    for i in range(n_rows):
        texts = [rng.choice(STYLES).format(v) for v in values[i * n_cols:(i + 1) * n_cols]]
        expected.append([float(t) for t in texts])
        rows.append([field(t) for t in texts])
    lines = []
    for fields in rows:
        lines += [blank] * rng.randint(0, 1) + [delimiter.join(fields)]
    text = newline.join(lines) + (newline if final else "")
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
    header = rng.choice([None, True] if names else [None, False])
    return raw, name, header, np.array(expected), names


@FUZZ
@given(tables())
def test_valid_tables_read_back_exactly(folder, table):
    raw, name, header, expected, names = table
    result = _read(folder, raw, name, header)
    assert result is not None, raw
    np.testing.assert_array_equal(result[0], expected)
    assert result[1] == names


@FUZZ
@given(st.binary(max_size=120), st.sampled_from(sorted(DELIMITERS)))
def test_random_bytes(folder, raw, name):
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert _read(folder, raw, name) is None
        return
    _check_against_reference(folder, raw, name)


@FUZZ
@given(st.text(st.sampled_from(TRICKY) | st.characters(), max_size=80),
       st.sampled_from(sorted(DELIMITERS)))
def test_random_text(folder, text, name):
    _check_against_reference(folder, text.encode("utf-8"), name)


@FUZZ
@given(tables(), st.lists(st.tuples(st.sampled_from(["insert", "delete", "replace"]),
                                    st.integers(0, 10**6), st.sampled_from(TRICKY)),
                          min_size=1, max_size=4))
def test_mutated_tables(folder, table, edits):
    raw, name, _, _, _ = table
    text = raw.decode("utf-8")
    for op, at, char in edits:
        at %= len(text) + 1
        if op == "insert":
            text = text[:at] + char + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + 1:]
        else:
            text = text[:at] + char + text[at + 1:]
    _check_against_reference(folder, text.encode("utf-8"), name)
