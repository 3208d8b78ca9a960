"""The ``gauss-flows`` command line: fit, score, sample, measure information, inspect.

Every command reads data from CSV (with or without a header row), NPY or Parquet (with
pyarrow installed) and works in the data's own units. CSV is read by the explicit rules of
:func:`read_csv`: a first row of names is a header, a first row of numbers is data, and
any malformed field is an error naming its line and column (``--header`` and
``--no-header`` settle the first row). Outputs take their format from the extension in
any case (``.npy``, ``.parquet``, ``.tsv``, else CSV), are written whole and then moved
into place, and may not be one of the command's inputs. Bad input of any kind (a missing
or malformed file, a bad option, non-numeric data, NaN, an output that would overwrite an
input) ends with one line on stderr and exit code 2, before anything is written.
Options carry the Python API's names: ``--layers`` is ``n_layers``,
``--random-state`` is ``random_state``, ``--patience`` counts gradient steps as
:func:`gauss_flows.fit_density` does, and ``--val-fraction`` follows
:func:`gauss_flows.recipe.held_out_rows`.

Example:
    $ gauss-flows fit data.csv -o model.gflow --strategy rbig --layers 4
    $ gauss-flows score model.gflow data.csv -o logp.csv
    $ gauss-flows sample model.gflow -n 100 -o samples.csv
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import re
import secrets
import stat
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NoReturn

import jax
import jax.random as jr
import numpy as np

import gauss_flows as gf
from gauss_flows._rows import compute_dtype, draw, log_density
from gauss_flows._validation import check_int, check_number, special_file_kind
from gauss_flows.recipe import check_val_fraction
from gauss_flows.sklearn import STRATEGIES

PROG = "gauss-flows"
EXIT_USAGE = 2
# Random states run from 0 to 2**32 - 1: the seeds that NumPy takes and that JAX keeps
# distinct in 32-bit mode, where it uses only a seed's low 32 bits.
MAX_RANDOM_STATE = 2**32 - 1


class UsageError(Exception):
    """A problem with the command line or its inputs: reported in one line, exit code 2.

    Example:
        >>> from gauss_flows.cli import main
        >>> main(["score", "no-such-model.gflow", "no-such-data.csv", "-o", "out.csv"])
        2
    """


# ---- reading and writing tables -----------------------------------------------------------

# A CSV field that is a number: an optional sign, digits with an optional decimal point
# (or a point and digits), an optional exponent; or nan, inf, infinity in any case (which
# parse, so that the finiteness check can name them). ASCII only: Python's float() would
# also take underscores and non-ASCII digits, which a data file should not rely on.
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)", re.ASCII | re.IGNORECASE
)
# A field that starts like a number (a digit, or a sign or point before one) is no header name.
_NUMBER_START = re.compile(r"[+-]?\.?\d", re.ASCII)
# Whitespace stripped around every CSV field.
_SPACE = " \t\r\n\v\f"
# Characters a CSV delimiter cannot be: quotes and line breaks belong to the CSV syntax, the
# rest to numbers.
_NOT_DELIMITERS = '"\r\n0123456789.+-eE'


def _check_delimiter(delimiter: str) -> str:
    """The CSV field separator ``delimiter``: one character (``\\t`` or ``tab`` means a tab).

    Args:
        delimiter: The separator as given, e.g. on the command line.

    Returns:
        The separator character.

    Raises:
        UsageError: If ``delimiter`` is empty, longer than one character, a quote, a line
            break, or a character that occurs in numbers (a digit, ``.``, ``+``, ``-``,
            ``e``, ``E``).

    Example:
        >>> _check_delimiter(";"), _check_delimiter("\\\\t")
        (';', '\\t')
    """
    if delimiter in ("\\t", "tab"):
        return "\t"
    if not delimiter:
        raise UsageError("the delimiter is empty; give one character, e.g. ';' or '\\t' for a tab")
    if len(delimiter) != 1:
        raise UsageError(f"the delimiter must be one character; got {delimiter!r}")
    if delimiter in _NOT_DELIMITERS:
        raise UsageError(
            f"the delimiter cannot be {delimiter!r}: it is part of the CSV syntax or of numbers"
        )
    return delimiter


def _quoted(field: str, limit: int = 40) -> str:
    """``repr(field)``, shortened to ``limit`` characters: one line, however long the field."""
    return repr(field) if len(field) <= limit else f"{field[:limit]!r}..."


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _column(j: int, names: Sequence[str] | None) -> str:
    """``column 3 (name)``; a long name, or one with tabs or line breaks, as a short repr."""
    if not names:
        return f"column {j + 1}"
    name = names[j] if names[j].isprintable() and len(names[j]) <= 40 else _quoted(names[j])
    return f"column {j + 1} ({name})"


def _holds(field: str) -> str:
    return "an empty value (missing data)" if not field else f"{_quoted(field)}, not a number"


def _is_name(field: str) -> bool:
    """Whether a first-row field reads as a column name: not empty, not starting like a number."""
    return bool(field) and _NUMBER_START.match(field) is None and _NUMBER.fullmatch(field) is None


def _is_header(path: str, line: int, fields: list[str], header: bool | None) -> bool:
    """Whether the first row ``fields`` is a header row, by the rules of :func:`read_csv`."""
    if header is not None:
        return header
    numbers = [_NUMBER.fullmatch(f) is not None for f in fields]
    if all(numbers):
        return False
    if all(_is_name(f) for f in fields):
        return True
    # Neither: name the first field that is neither a number nor a name (e.g. '2x', an
    # empty field), else the first text field among numbers.
    j = next(
        (j for j, f in enumerate(fields) if not numbers[j] and not _is_name(f)),
        numbers.index(False),
    )
    raise UsageError(
        f"{path}: line {line}, column {j + 1} holds {_holds(fields[j])}; "
        f"if line {line} is a header row, pass --header"
    )


def _refuse_non_finite(
    path: str, data: np.ndarray, names: Sequence[str] | None, place: Callable[[int], str]
) -> None:
    """Raise for the first NaN or infinite value of ``data``; ``place(i)`` names row ``i``."""
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN (missing data)" if np.isnan(data[row, col]) else "an infinite value"
        raise UsageError(
            f"{path}: {place(int(row))}, {_column(int(col), names)} holds {kind}; "
            f"{_count(int(bad.any(axis=1).sum()), 'row')} affected (remove or impute them)"
        )


def read_csv(
    path: str, delimiter: str | None = None, header: bool | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Read a numeric CSV file by explicit rules; every line is data, a header or an error.

    The rules:

    * The file is UTF-8 text; a byte-order mark at its start is dropped. Quoting follows
      the usual CSV convention (``"a, b"`` is one field, also after a comma and a space) and is checked
      strictly.
    * Whitespace around each field is ignored, and lines holding only whitespace are
      skipped. Every other line is a row, and all rows have as many fields as the first.
    * A number is written in decimal ASCII: an optional sign, digits with an optional
      decimal point, an optional exponent (``-1.5``, ``.5``, ``2e-3``); ``nan`` and ``inf``
      are read and then refused as missing or infinite values.
    * The first row is a header (column names) if ``header`` is true, data if it is false.
      By default (``None``) it is data when every field in it is a number, and a header
      when every field is a name: not empty and not starting like a number (a digit, or a
      sign or point before one). Anything else in the first row (a mix of numbers and text,
      an empty field, a malformed number such as ``2x``) is an error that names the field
      and suggests ``header=True`` (``--header``). So a header of names that are all
      numbers (``1,2,3``) is read as data unless ``header=True``.
    * Every field of every data row must be a finite number: a malformed or empty field is
      an error naming the file, line and column, never a skipped row.

    Args:
        path: The file.
        delimiter: Field separator, one character (default: tab for ``.tsv`` files, any
            case; otherwise a comma).
        header: Whether the first row is a header (``None``: decide as above).

    Returns:
        ``(data, column_names)``: a float64 array of shape ``(n_rows, n_columns)``, and the
        header's names, or ``None`` without a header row.

    Raises:
        UsageError: For text that is not UTF-8 or not well-formed CSV, rows of differing
            lengths, fields that are empty or not numbers, NaN or infinite values, a
            first row that is neither a header nor data, or no data rows.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "d.csv")
        >>> with open(path, "w", encoding="utf-8") as fh:
        ...     _ = fh.write("x,y\\n1,2.5\\n-3,4e1\\n")
        >>> read_csv(path)
        (array([[ 1. ,  2.5],
               [-3. , 40. ]]), ['x', 'y'])

    References:
        RFC 4180, Common Format and MIME Type for Comma-Separated Values (CSV) Files
        (the quoting convention); Python's :mod:`csv` module, which splits the fields.
    """
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
    delimiter = _check_delimiter(delimiter)
    rows: list[list[float]] = []
    lines: list[int] = []  # the file line of each data row, for error messages
    names: list[str] | None = None
    width = first = None
    try:
        with open(path, "rb") as raw, io.TextIOWrapper(raw, "utf-8-sig", newline="") as fh:
            if raw.peek(2)[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 byte-order marks
                raise UsageError(f"{path}: UTF-16 text; save the file as UTF-8")
            reader = csv.reader(fh, delimiter=delimiter, skipinitialspace=True, strict=True)
            for fields in reader:
                line = reader.line_num
                if not fields or (len(fields) == 1 and not fields[0].strip(_SPACE)):
                    continue
                fields = [f.strip(_SPACE) for f in fields]
                if width is None:
                    width, first = len(fields), line
                    if _is_header(path, line, fields, header):
                        names = fields
                        continue
                if len(fields) != width:
                    raise UsageError(
                        f"{path}: line {line} has {_count(len(fields), 'field')}, "
                        f"expected {width} (as line {first})"
                    )
                row = []
                for j, field in enumerate(fields):
                    if _NUMBER.fullmatch(field) is None:
                        raise UsageError(
                            f"{path}: line {line}, {_column(j, names)} holds {_holds(field)}"
                        )
                    row.append(float(field))
                rows.append(row)
                lines.append(line)
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text CSV file (it is not valid UTF-8)") from None
    except csv.Error as err:
        raise UsageError(f"{path}: line {reader.line_num}: malformed CSV ({err})") from None
    if not rows:
        after = f" after the header on line {first}" if names is not None else ""
        raise UsageError(f"{path}: no data rows{after}")
    data = np.asarray(rows, dtype=np.float64)
    _refuse_non_finite(path, data, names, lambda i: f"line {lines[i]}")
    return data, names


def _read_npy(path: str) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as err:
        raise UsageError(f"{path}: not a numeric NPY array ({err})") from None
    except Exception as err:  # noqa: BLE001 - damaged or not an NPY file
        raise UsageError(f"{path}: cannot read as NPY ({type(err).__name__}: {err})") from None
    if not isinstance(data, np.ndarray):
        raise UsageError(f"{path}: holds several arrays; give a single-array .npy file")
    if data.dtype.kind not in "biuf":
        raise UsageError(f"{path}: holds {data.dtype} values, not real numbers")
    return data.reshape(-1, 1) if data.ndim == 1 else data


def _read_parquet(path: str) -> tuple[np.ndarray, list[str]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(
            "reading Parquet needs pyarrow, which is not installed "
            "(pip install pyarrow, or use CSV or NPY)"
        ) from None
    try:
        # ParquetFile, not read_table: the dataset reader behind read_table refuses a
        # schema that repeats a column name.
        with pq.ParquetFile(path) as parquet:
            table = parquet.read()
    except Exception as err:  # noqa: BLE001 - any damaged or foreign file
        raise UsageError(f"{path}: cannot read as Parquet ({err})") from None
    columns = []
    # By position: a name may occur more than once in a Parquet schema.
    for j, name in enumerate(table.column_names):
        values = table.column(j).to_numpy(zero_copy_only=False)
        if values.dtype.kind not in "biuf":
            raise UsageError(f"{path}: column {name!r} holds {values.dtype} values, not numbers")
        columns.append(values.astype(np.float64))
    if not columns:
        raise UsageError(f"{path}: no columns")
    return np.column_stack(columns), list(table.column_names)


def read_table(
    path: str, delimiter: str | None = None, header: bool | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Read a data file (CSV, TSV, NPY or Parquet, by extension) as a finite 2-D array.

    Args:
        path: The file.
        delimiter: CSV field separator (default: tab for ``.tsv``, else comma).
        header: Whether a CSV file's first row is a header (``None``: decided as
            :func:`read_csv` describes).

    Returns:
        ``(data, column_names)`` with ``data`` of shape ``(n_rows, n_columns)``.

    Raises:
        UsageError: If the file is missing or malformed, or holds non-numeric, NaN or
            infinite values.

    Example:
        >>> X, names = read_table("data.npy")  # doctest: +SKIP
    """
    if not os.path.exists(path):
        raise UsageError(f"data file {path!r} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"data file {path!r} is a directory")
    if (kind := special_file_kind(path)) is not None:  # a device or FIFO may never end
        raise UsageError(f"data file {path!r} is {kind}, not a regular file")
    ext = os.path.splitext(path)[1].lower()
    names: list[str] | None = None
    if ext == ".npy":
        data = _read_npy(path)
    elif ext in (".parquet", ".pq"):
        data, names = _read_parquet(path)
    else:
        data, names = read_csv(path, delimiter, header)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise UsageError(f"{path}: need a 2-D table of rows and columns; got shape {data.shape}")
    data = data.astype(np.float64)
    _refuse_non_finite(path, data, names, lambda i: f"row {i + 1}")
    return data, names


@contextlib.contextmanager
def _replacing(path: str) -> Iterator[str]:
    """A new temporary file beside ``path`` to write, which replaces ``path`` on success.

    A reader of ``path`` sees the old content or the complete new one, never a part; if the
    block fails, ``path`` is untouched and the temporary file removed. A symbolic link is
    followed (its target is replaced and the link kept); an existing file keeps its
    permissions. An existing ``path`` that is not a regular file (``/dev/null``, a pipe) is
    written in place.

    Args:
        path: The file to (re)place.

    Yields:
        The path to write the new content to.

    Raises:
        UsageError: If the temporary file cannot be created (e.g. no permission).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
        >>> with _replacing(path) as tmp:
        ...     with open(tmp, "w") as fh:
        ...         _ = fh.write("done")
        >>> open(path).read()
        'done'

    References:
        POSIX ``rename(2)``, which :func:`os.replace` calls: it replaces the target
        atomically within one file system.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        status = None
    if status is not None and not stat.S_ISREG(status.st_mode):
        yield path
        return
    target = os.path.realpath(path)
    directory, base = os.path.split(target)
    while True:
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as err:
            raise UsageError(f"cannot write {path!r}: {err.strerror}") from None
    try:
        yield tmp
        if status is not None:  # after the block, which may have replaced the file itself
            os.chmod(tmp, stat.S_IMODE(status.st_mode))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _unique_names(names: Sequence[str]) -> list[str]:
    """``names`` with repeats renamed: a repeat of ``a`` becomes ``a.1`` (or ``a.2``, ...).

    Each repeat takes the first suffix ``.k`` (``k = 1, 2, ...``) that makes a name
    neither in ``names`` nor already given; first occurrences keep their names.

    Example:
        >>> _unique_names(["a", "b", "a", "a.1", "a"])
        ['a', 'b', 'a.2', 'a.1', 'a.3']
    """
    taken = set(names)
    seen: set[str] = set()
    result = []
    for name in names:
        if name in seen:
            k = 1
            while f"{name}.{k}" in taken:
                k += 1
            name = f"{name}.{k}"
            taken.add(name)
        seen.add(name)
        result.append(name)
    return result


def write_table(
    path: str | None, data: np.ndarray, names: Sequence[str] | None = None
) -> None:
    """Write a 1-D or 2-D array as CSV or TSV (also stdout for ``None`` or ``-``), NPY or Parquet.

    The format follows the extension of ``path``, in any case: ``.npy``, ``.parquet`` or
    ``.pq``, ``.tsv`` (tab-separated), anything else CSV. The file is written whole and
    then moved into place (see :func:`_replacing`). Names with the separator in them are
    quoted; a warning on stderr says when :func:`read_csv` would not take the names for a
    header without ``header=True``. In Parquet, repeated names are made unique by
    :func:`_unique_names`, with a warning on stderr.

    Example:
        >>> write_table(None, np.array([[1.0, 2.0]]), ["a", "b"])
        a,b
        1.0,2.0
    """
    data = np.asarray(data)
    ext = "" if path in (None, "-") else os.path.splitext(path)[1].lower()
    if names and ext not in (".npy", ".parquet", ".pq") and not all(map(_is_name, names)):
        _warn(
            f"the column names {list(names)} do not all read as names (empty, or starting "
            "like a number): read the file back with --header"
        )
    if path in (None, "-"):
        sys.stdout.write(_delimited(data, names, ","))
        return
    with _replacing(path) as tmp:
        if ext == ".npy":
            with open(tmp, "wb") as fh:
                np.save(fh, data, allow_pickle=False)
        elif ext in (".parquet", ".pq"):
            _write_parquet(tmp, data, names)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                fh.write(_delimited(data, names, "\t" if ext == ".tsv" else ","))


def _delimited(data: np.ndarray, names: Sequence[str] | None, delimiter: str) -> str:
    """CSV text of ``data`` (a header row of ``names`` first, if given); exact float reprs."""
    matrix = data.reshape(-1, 1) if data.ndim == 1 else data
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    if names:
        writer.writerow(names)
    writer.writerows([repr(float(v)) for v in row] for row in matrix)
    return out.getvalue()


def _write_parquet(path: str, data: np.ndarray, names: Sequence[str] | None) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("writing Parquet needs pyarrow, which is not installed (pip install pyarrow)") from None
    matrix = data.reshape(-1, 1) if data.ndim == 1 else data
    names = list(names) if names else [f"x{j}" for j in range(matrix.shape[1])]
    unique = _unique_names(names)
    renamed = [f"{a!r} -> {b!r}" for a, b in zip(names, unique) if a != b]
    if renamed:
        _warn(f"repeated column names renamed in the Parquet file: {', '.join(renamed)}")
    columns = [pa.array(matrix[:, j]) for j in range(matrix.shape[1])]
    pq.write_table(pa.Table.from_arrays(columns, names=unique), path)


def _warn(message: str) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


# ---- output paths ----------------------------------------------------------------------------


def _same_file(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file (through links, ``..``, hard links)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare where they lead
        return os.path.realpath(a) == os.path.realpath(b)


def _check_output(option: str, path: str | None, inputs: Sequence[str]) -> None:
    """Refuse an output path that is one of the ``inputs`` or that cannot be a file.

    Runs before any input is read, so a refused command writes nothing.

    Args:
        option: The option that gave ``path``, for the message (e.g. ``-o/--output``).
        path: The output path; ``None`` or ``-`` (stdout) is always fine.
        inputs: The command's input files.

    Raises:
        UsageError: If ``path`` is the same file as an input (compared by
            :func:`os.path.samefile`, so through symbolic and hard links), is a directory,
            or lies in a directory that does not exist. A device or pipe is always fine.

    Example:
        >>> try:
        ...     _check_output("-o/--output", "data.csv", ["./data.csv"])
        ... except UsageError as err:
        ...     print(err)
        -o/--output 'data.csv' is the input file './data.csv'; writing it would destroy ...
    """
    if path in (None, "-"):
        return
    if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
        return  # a device or pipe (/dev/null, /dev/stdout): written in place, destroys nothing
    for source in inputs:
        if _same_file(path, source):
            raise UsageError(
                f"{option} {path!r} is the input file {source!r}; writing it would destroy "
                "the input, so choose another path"
            )
    if os.path.isdir(path):
        raise UsageError(f"{option} {path!r} is a directory; give a file name")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"{option} {path!r}: the directory {directory!r} does not exist")


def _check_paths(args: argparse.Namespace) -> None:
    """:func:`_check_output` for each output of the parsed command, against its inputs."""
    inputs = [getattr(args, dest) for dest in args.inputs if getattr(args, dest) is not None]
    for dest, option in args.outputs:
        _check_output(option, getattr(args, dest), inputs)


# ---- models ----------------------------------------------------------------------------------


def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    """Load a model file, switching JAX to 64-bit first when the model needs it."""
    header = gf.read_header(path)
    if header.get("dtype") in ("float64", "mixed") and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return gf.load(path), header


def _model_data(path: str, args: argparse.Namespace, flow: Any) -> tuple[np.ndarray, list[str] | None]:
    X, names = read_table(path, args.delimiter, args.header)
    X = X.astype(compute_dtype())
    if X.shape[1] != flow.shape[0]:
        raise UsageError(f"{path} has {X.shape[1]} columns but the model has {flow.shape[0]} dimensions")
    return X, names


def _training_data(args: argparse.Namespace) -> tuple[np.ndarray, list[str] | None]:
    """The data of ``fit`` and ``info``, in 64-bit floating point with ``--float64``."""
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    X, names = read_table(args.data, args.delimiter, args.header)
    return X.astype(compute_dtype()), names


# ---- commands --------------------------------------------------------------------------------


def _condition_columns(spec: str, names: list[str] | None, n_columns: int) -> list[int]:
    """The 0-based indices of ``--condition-columns`` (names or indices, comma-separated)."""
    found = []
    for item in (s.strip() for s in spec.split(",")):
        if names and item in names:
            if names.count(item) > 1:
                raise UsageError(
                    f"--condition-columns: the column name {item!r} occurs more than once; "
                    "give the column by its 0-based index"
                )
            found.append(names.index(item))
        elif item.isdigit() and int(item) < n_columns:
            found.append(int(item))
        else:
            known = f"names {names} or " if names else ""
            raise UsageError(
                f"--condition-columns: no column {item!r} (use {known}indices 0..{n_columns - 1})"
            )
    if len(set(found)) != len(found):
        raise UsageError(f"--condition-columns {spec!r} names a column twice")
    if len(found) >= n_columns:
        raise UsageError("--condition-columns leaves no target column to model")
    return found


def _split_columns(X: np.ndarray, condition: list[int]) -> tuple[np.ndarray, np.ndarray]:
    targets = [j for j in range(X.shape[1]) if j not in condition]
    return X[:, targets], X[:, condition]


def _cmd_fit_conditional(args: argparse.Namespace, X: np.ndarray, names: list[str] | None) -> int:
    if args.strategy not in ("warm", "rbig"):
        raise UsageError(
            f"--condition-columns fits with --strategy warm or rbig; got {args.strategy}"
        )
    cond = _condition_columns(args.condition_columns, names, X.shape[1])
    T, C = _split_columns(X, cond)
    given = {"val_fraction": args.val_fraction, "patience": args.patience}
    est = gf.ConditionalGaussianizationDensity(
        strategy=args.strategy, n_layers=args.layers, n_components=args.components,
        steps=args.steps, random_state=args.random_state,
        **{k: v for k, v in given.items() if v is not None},
    ).fit(C, T)
    target_names = None if names is None else [n for j, n in enumerate(names) if j not in cond]
    metadata = {
        "columns": target_names, "condition_columns": cond, "n_data_columns": int(X.shape[1]),
        "condition_names": None if names is None else [names[j] for j in cond],
        "strategy": args.strategy, "n_rows": int(X.shape[0]),
    }
    with _replacing(args.output) as tmp:
        gf.save(tmp, est.flow_, metadata=metadata)
    if not args.quiet:
        print(
            f"fitted p(targets | {len(cond)} condition columns) ({args.strategy}) on "
            f"{X.shape[0]} rows; mean conditional log-density {est.score(C, T):.4f}; "
            f"saved {args.output}"
        )
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    X, names = _training_data(args)
    if args.condition_columns is not None:
        return _cmd_fit_conditional(args, X, names)
    given = {"val_fraction": args.val_fraction, "patience": args.patience}
    est = gf.GaussianizationDensity(
        strategy=args.strategy, n_layers=args.layers, n_components=args.components,
        steps=args.steps, peak_lr=args.lr, random_state=args.random_state,
        progress=not args.quiet, **{k: v for k, v in given.items() if v is not None},
    ).fit(X)
    metadata = {"columns": names, "strategy": args.strategy, "n_rows": int(X.shape[0])}
    with _replacing(args.output) as tmp:
        gf.save(tmp, est.flow_, metadata=metadata)
    if not args.quiet:
        print(
            f"fitted {est.n_layers_} layers ({args.strategy}) on {X.shape[0]} rows x "
            f"{X.shape[1]} columns; mean log-density {est.score(X):.4f}; saved {args.output}"
        )
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    flow, header = _load_model(args.model)
    if flow.cond_shape is not None:
        values = _conditional_scores(args, flow, header.get("metadata", {}))
    else:
        X, _ = _model_data(args.data, args, flow)
        values = log_density(flow, X).astype(np.float64)
    write_table(args.output, values, ["log_density"] if args.output not in (None, "-") else None)
    return 0


def _conditional_scores(args: argparse.Namespace, flow: Any, metadata: dict) -> np.ndarray:
    """``log p(targets | condition)`` of every row of DATA, laid out as in ``fit``."""
    X, _ = read_table(args.data, args.delimiter, args.header)
    X = X.astype(compute_dtype())
    width = metadata.get("n_data_columns", flow.shape[0] + flow.cond_shape[0])
    if X.shape[1] != width:
        raise UsageError(
            f"{args.data} has {X.shape[1]} columns but the conditional model was fitted on "
            f"{width} (targets and condition columns, as in 'fit')"
        )
    T, C = _split_columns(X, list(metadata["condition_columns"]))
    return np.asarray(flow.log_prob(T, condition=C), dtype=np.float64)


def _conditional_draws(args: argparse.Namespace, flow: Any) -> np.ndarray:
    """One draw (or ``-n`` draws) per row of the ``--condition`` table."""
    if args.condition is None:
        raise UsageError("the model is conditional: give --condition FILE (one condition per row)")
    C, _ = read_table(args.condition, args.delimiter, args.header)
    C = C.astype(compute_dtype())
    if C.shape[1] != flow.cond_shape[0]:
        raise UsageError(
            f"{args.condition} has {C.shape[1]} columns but the model's condition has "
            f"{flow.cond_shape[0]}"
        )
    m = args.n or 1
    draws = np.asarray(flow.sample(jr.key(args.random_state), (m,), condition=C))
    return np.moveaxis(draws, 0, 1).reshape(-1, flow.shape[0]).astype(np.float64)


def _cmd_sample(args: argparse.Namespace) -> int:
    flow, header = _load_model(args.model)
    if flow.cond_shape is not None:
        draws = _conditional_draws(args, flow)
    elif args.n is None:
        raise UsageError("give -n N, the number of rows to draw")
    elif args.condition is not None:
        raise UsageError("the model is unconditional: it takes no --condition")
    else:
        draws = draw(flow, jr.key(args.random_state), args.n).astype(np.float64)
    names = header.get("metadata", {}).get("columns")
    write_table(args.output, draws, names)
    return 0


def _parse_groups(spec: str, names: list[str] | None, n_columns: int) -> list[list[int]]:
    groups = []
    for part in spec.split(":"):
        columns = []
        for item in (s.strip() for s in part.split(",")):
            if not item:
                raise UsageError(f"--groups {spec!r}: an empty column in group {part!r}")
            if names and names.count(item) > 1:
                raise UsageError(
                    f"--groups: the column name {item!r} occurs {names.count(item)} times; "
                    "give the column by its 0-based index"
                )
            if names and item in names:
                columns.append(names.index(item))
            elif item.lstrip("-").isdigit() and 0 <= int(item) < n_columns:
                columns.append(int(item))
            else:
                known = f"names {names} or " if names else ""
                raise UsageError(
                    f"--groups: no column {item!r} (use {known}indices 0..{n_columns - 1})"
                )
        groups.append(columns)
    if len(groups) != 2:
        raise UsageError(f"--groups {spec!r}: give exactly two groups separated by ':', e.g. 0,1:2")
    if set(groups[0]) & set(groups[1]):
        raise UsageError(f"--groups {spec!r}: the two groups share columns")
    return groups


def _cmd_info(args: argparse.Namespace) -> int:
    X, names = _training_data(args)
    groups = _parse_groups(args.groups, names, X.shape[1]) if args.groups else None
    unit, factor = ("bits", 1 / math.log(2)) if args.bits else ("nats", 1.0)
    settings = gf.InformationSettings(random_state=args.random_state)
    # Every estimate is made before anything is printed: data the measures refuse (a
    # ValueError) leave only the one-line error. Warnings about discrete data are one line
    # on stderr too.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", gf.DiscreteDataWarning)
        h = gf.entropy(X, settings=settings)
        tc = gf.total_correlation(X, settings=settings) if X.shape[1] > 1 else None
        mi = None
        if groups:
            mi = gf.mutual_information(X[:, groups[0]], X[:, groups[1]], settings=settings)
    for w in caught:
        if issubclass(w.category, gf.DiscreteDataWarning):
            print(f"{PROG}: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"rows: {X.shape[0]}  columns: {X.shape[1]}")
    print(f"entropy: {h * factor:.4f} {unit}")
    if tc is not None:
        print(f"total correlation: {tc * factor:.4f} {unit}")
    if mi is not None:
        print(f"mutual information {groups[0]} ; {groups[1]}: {mi * factor:.4f} {unit}")
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    flow, _ = _load_model(args.model)
    X, _ = _model_data(args.data, args, flow)
    table = gf.inspect_layers(flow, X, tc_method=args.tc_method, random_state=args.random_state)
    print(table)
    if args.png:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from gauss_flows.plotting import plot_diagnostics
        except ImportError as err:
            raise UsageError(f"--png needs matplotlib, which is not installed ({err})") from None
        fig = plot_diagnostics(table)
        with _replacing(args.png) as tmp:
            fig.savefig(tmp, dpi=120, format="png")
        plt.close(fig)
        print(f"saved {args.png}")
    return 0


# ---- argument parsing ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors become a one-line :class:`UsageError`."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


class _DeprecatedSpelling(argparse.Action):
    """An option's former spelling: stores into the new option, with a warning on stderr."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kwargs: Any):
        self.new = new
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        message = (
            f"{option_string} is deprecated and will be removed in the next release; "
            f"use {self.new}"
        )
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        print(f"{PROG}: warning: {message}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _typed(text: str, parse: Callable[[str], Any], what: str, check: Callable[[str, Any], Any]):
    """``text`` parsed and checked by a shared validator, problems as argparse type errors."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    try:
        return check("the value", value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _positive_int(text: str) -> int:
    return _typed(text, int, "an integer", check_int)


def _positive_float(text: str) -> float:
    return _typed(text, float, "a number", check_number)


def _val_fraction(text: str) -> float:
    return _typed(text, float, "a number", lambda _, value: check_val_fraction(value))


def _in_random_state_range(name: str, value: int) -> int:
    if not 0 <= value <= MAX_RANDOM_STATE:
        raise ValueError(
            f"{name} must be an integer from 0 to {MAX_RANDOM_STATE} (2**32 - 1); got {value}"
        )
    return value


def _random_state(text: str) -> int:
    return _typed(text, int, "an integer", _in_random_state_range)


def _delimiter(text: str) -> str:
    try:
        return _check_delimiter(text)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _groups(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is empty; give two column groups separated by ':', e.g. '0,1:2'"
        )
    return text


def _add_random_state(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--random-state", type=_random_state, default=0, metavar="N",
                   help=f"integer from 0 to 2**32 - 1 that fixes {what} (default: %(default)s)")
    p.add_argument("--seed", type=_random_state, dest="random_state", action=_DeprecatedSpelling,
                   new="--random-state", help=argparse.SUPPRESS)


def _add_data_options(p: argparse.ArgumentParser, *, float64: str | None = None) -> None:
    """``--float64`` (with its help text, if given), ``--delimiter`` and ``--header``."""
    if float64:
        p.add_argument("--float64", action="store_true", help=float64)
    p.add_argument(
        "--delimiter", type=_delimiter, default=None, metavar="CHAR",
        help="CSV field separator, one character; '\\t' or 'tab' is a tab (default: tab for "
        ".tsv files, otherwise a comma)",
    )
    p.add_argument(
        "--header", action=argparse.BooleanOptionalAction, default=None,
        help="whether the first CSV row holds column names (default: yes when every field "
        "of it is a name, no when every field is a number, otherwise an error; names that "
        "look like numbers need --header)",
    )


def _add_model_input(p: argparse.ArgumentParser, data: str | None) -> None:
    """The positional model file, and the data file to evaluate it on (if ``data``)."""
    p.add_argument("model", metavar="MODEL", help="a model file written by 'fit'")
    if data:
        p.add_argument("data", metavar="DATA", help=data)


def build_parser() -> argparse.ArgumentParser:
    """The ``gauss-flows`` argument parser (all commands and options).

    Example:
        >>> build_parser().parse_args(["sample", "m.gflow", "-n", "5"]).n
        5
    """
    formats = "CSV/TSV (a header row is optional), NPY, or Parquet (needs pyarrow)"
    output = "output file, by extension in any case: .npy, .parquet, .tsv, else CSV (default: {})"
    parser = _Parser(
        prog=PROG,
        description="Gaussianization flows from the command line: fit a density to a "
        "table of numbers, score rows, draw samples, measure information, inspect layers.",
        epilog=f"Data files: {formats}. Run '{PROG} COMMAND --help' for a command's options. "
        "An output path that is one of the command's input files is refused. "
        "Errors print one line and exit with code 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("fit", help="fit a density to data and save the model",
                       description="Fit a Gaussianization flow to the rows of DATA and save it.")
    p.add_argument("data", metavar="DATA", help=f"training data: {formats}")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="where to save the model (e.g. model.gflow)")
    p.add_argument("--strategy", choices=STRATEGIES, default="warm",
                   help="warm: greedy RBIG fit then fine-tuning with early stopping "
                   "(recommended); rbig: greedy fit only (fast, no gradients); cold: "
                   "gradient training from a random start; coupling_warm/coupling_cold: "
                   "the same with coupling blocks (default: %(default)s)")
    p.add_argument("--layers", type=_positive_int, default=None, metavar="N",
                   help="number of layers, n_layers (default: chosen by the greedy fit; "
                   "8 for cold)")
    p.add_argument("--components", type=_positive_int, default=8, metavar="K",
                   help="mixture components per dimension (default: %(default)s)")
    p.add_argument("--steps", type=_positive_int, default=None, metavar="S",
                   help="gradient steps of the trained strategies (default: the strategy's)")
    p.add_argument("--lr", type=_positive_float, default=None, metavar="LR",
                   help="peak learning rate (default: the strategy's)")
    p.add_argument("--val-fraction", type=_val_fraction, default=None, metavar="F",
                   help="warm: share of the rows held out for depth choice and early "
                   "stopping, in [0, 1); too few held-out rows means none (default: "
                   "fit_density's)")
    p.add_argument("--patience", type=_positive_int, default=None, metavar="STEPS",
                   help="warm: gradient steps without held-out improvement before "
                   "fine-tuning stops (default: fit_density's)")
    _add_random_state(p, "the split, rotations, initialisation and minibatches")
    _add_data_options(p, float64="compute in 64-bit floating point (default: 32-bit, "
                      "unless JAX already runs in 64-bit mode)")
    p.add_argument("--condition-columns", default=None, metavar="COLS",
                   help="fit the conditional density of the other columns given these "
                   "(comma-separated names or 0-based indices); strategies warm and rbig")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars or summary line")
    p.set_defaults(run=_cmd_fit, inputs=("data",), outputs=(("output", "-o/--output"),))

    p = sub.add_parser("score", help="log-density of each row of data",
                       description="Write the model's log-density (in the data's units) of "
                       "every row of DATA, one per line.")
    _add_model_input(p, f"rows to score: {formats}")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help=output.format("stdout"))
    _add_data_options(p)
    p.set_defaults(run=_cmd_score, inputs=("model", "data"), outputs=(("output", "-o/--output"),))

    p = sub.add_parser("sample", help="draw rows from a model",
                       description="Draw N rows from the model's density.")
    _add_model_input(p, None)
    p.add_argument("-n", type=_positive_int, default=None, metavar="N",
                   help="number of rows (a conditional model: draws per condition row, default 1)")
    p.add_argument("--condition", default=None, metavar="FILE",
                   help="a conditional model: the conditions to sample at, one per row")
    _add_data_options(p)
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help=output.format("CSV on stdout"))
    _add_random_state(p, "the draws")
    p.set_defaults(run=_cmd_sample, inputs=("model", "condition"), outputs=(("output", "-o/--output"),))

    p = sub.add_parser("info", help="entropy, total correlation, mutual information of data",
                       description="Estimate information quantities of DATA by Gaussianization.")
    p.add_argument("data", metavar="DATA", help=f"samples: {formats}; at least 20 rows")
    p.add_argument("--groups", type=_groups, default=None, metavar="A:B",
                   help="also the mutual information between two column groups, given by "
                   "0-based index or header name, e.g. '0,1:2' or 'x,y:z'")
    p.add_argument("--bits", action="store_true", help="report bits instead of nats")
    _add_random_state(p, "the rotations of the estimates")
    _add_data_options(p, float64="compute in 64-bit floating point (default: 32-bit)")
    p.set_defaults(run=_cmd_info, inputs=("data",), outputs=())

    p = sub.add_parser("inspect", help="per-block diagnostics of a model on data",
                       description="Print a table of how each block Gaussianizes DATA "
                       "(non-Gaussianity, information reduction, moment errors, KS distance).")
    _add_model_input(p, f"rows to push through the model: {formats}")
    p.add_argument("--png", default=None, metavar="FILE",
                   help="also save the diagnostics against depth as a PNG image")
    p.add_argument("--tc-method", choices=("rbig", "gaussian"), default="rbig",
                   help="total correlation per block: full estimate (rbig) or its fast "
                   "Gaussian part (default: %(default)s)")
    _add_random_state(p, "the rotations of the total-correlation estimates")
    _add_data_options(p)
    p.set_defaults(run=_cmd_inspect, inputs=("model", "data"), outputs=(("png", "--png"),))
    return parser


def _version() -> str:
    try:
        return version("gauss_flows")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def _one_line(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input).

    Args:
        argv: The arguments after the program name (default: ``sys.argv[1:]``).

    Example:
        >>> main(["sample", "missing.gflow", "-n", "3"])
        2
    """
    try:
        args = build_parser().parse_args(argv)
        _check_paths(args)
        return args.run(args)
    except (UsageError, ValueError, OSError) as err:
        message = _one_line(err)
        if isinstance(err, OSError) and err.filename:
            message = f"{err.filename}: {err.strerror or message}"
        print(f"{PROG}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
