"""The ``gauss-flows`` command line: fit, score, sample, measure information, inspect.

Every command reads data from CSV (with or without a header row), NPY or Parquet (with
pyarrow installed) and works in the data's own units. Bad input of any kind (a missing or
malformed file, a bad option, non-numeric data, NaN) ends with one line on stderr and
exit code 2. Options carry the Python API's names: ``--layers`` is ``n_layers``,
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
import csv
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
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


class UsageError(Exception):
    """A problem with the command line or its inputs: reported in one line, exit code 2."""


# ---- reading and writing tables -----------------------------------------------------------


def _parse_float(field: str) -> float | None:
    try:
        return float(field)
    except ValueError:
        return None


def read_csv(path: str, delimiter: str | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Read a numeric CSV file; a first row that is not all numbers is taken as a header.

    Args:
        path: The file.
        delimiter: Field separator (default: tab for ``.tsv``, else comma).

    Returns:
        ``(data, column_names)``; names are ``None`` without a header row.

    Raises:
        UsageError: For ragged rows, empty or non-numeric fields, or no data rows.

    Example:
        >>> X, names = read_csv("data.csv")  # doctest: +SKIP
    """
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
    rows: list[list[float]] = []
    names: list[str] | None = None
    width = None
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for lineno, fields in enumerate(csv.reader(fh, delimiter=delimiter), start=1):
                if not fields or all(not f.strip() for f in fields):
                    continue
                fields = [f.strip() for f in fields]
                values = [_parse_float(f) for f in fields]
                if width is None:
                    width = len(fields)
                    if any(v is None for v in values):
                        names = fields
                        continue
                if len(fields) != width:
                    raise UsageError(
                        f"{path}: line {lineno} has {len(fields)} fields, expected {width}"
                    )
                for j, (field, value) in enumerate(zip(fields, values)):
                    if value is None:
                        column = f"column {j + 1}" + (f" ({names[j]})" if names else "")
                        what = "an empty value (missing data)" if not field else f"{field!r}, not a number"
                        raise UsageError(f"{path}: line {lineno}, {column} holds {what}")
                rows.append(values)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text CSV file (it is not valid UTF-8)") from None
    except csv.Error as err:
        raise UsageError(f"{path}: malformed CSV ({err})") from None
    if not rows:
        raise UsageError(f"{path}: no data rows")
    return np.asarray(rows, dtype=np.float64), names


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
        table = pq.read_table(path)
    except Exception as err:  # noqa: BLE001 - any damaged or foreign file
        raise UsageError(f"{path}: cannot read as Parquet ({err})") from None
    columns = []
    for name in table.column_names:
        values = table.column(name).to_numpy(zero_copy_only=False)
        if values.dtype.kind not in "biuf":
            raise UsageError(f"{path}: column {name!r} holds {values.dtype} values, not numbers")
        columns.append(values.astype(np.float64))
    if not columns:
        raise UsageError(f"{path}: no columns")
    return np.column_stack(columns), list(table.column_names)


def read_table(path: str, delimiter: str | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Read a data file (CSV, TSV, NPY or Parquet, by extension) as a finite 2-D array.

    Args:
        path: The file.
        delimiter: CSV field separator (default: tab for ``.tsv``, else comma).

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
        data, names = read_csv(path, delimiter)
    if data.ndim != 2 or data.shape[0] == 0 or data.shape[1] == 0:
        raise UsageError(f"{path}: need a 2-D table of rows and columns; got shape {data.shape}")
    data = data.astype(np.float64)
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN (missing data)" if np.isnan(data[row, col]) else "an infinite value"
        raise UsageError(
            f"{path}: row {row + 1}, column {col + 1} holds {kind}; "
            f"{int(bad.any(axis=1).sum())} rows affected (remove or impute them)"
        )
    return data, names


def write_table(
    path: str | None, data: np.ndarray, names: Sequence[str] | None = None
) -> None:
    """Write a 1-D or 2-D array to CSV (also stdout for ``None`` or ``-``), NPY or Parquet.

    Example:
        >>> write_table(None, np.array([[1.0, 2.0]]), ["a", "b"])
        a,b
        1.0,2.0
    """
    data = np.asarray(data)
    if path not in (None, "-"):
        ext = os.path.splitext(path)[1].lower()
        if ext == ".npy":
            np.save(path, data, allow_pickle=False)
            return
        if ext in (".parquet", ".pq"):
            _write_parquet(path, data, names)
            return
    matrix = data.reshape(-1, 1) if data.ndim == 1 else data
    lines = [",".join(names)] if names else []
    lines += [",".join(repr(float(v)) for v in row) for row in matrix]
    text = "\n".join(lines) + "\n"
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)


def _write_parquet(path: str, data: np.ndarray, names: Sequence[str] | None) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError("writing Parquet needs pyarrow, which is not installed (pip install pyarrow)") from None
    matrix = data.reshape(-1, 1) if data.ndim == 1 else data
    names = list(names) if names else [f"x{j}" for j in range(matrix.shape[1])]
    pq.write_table(pa.table({n: matrix[:, j] for j, n in enumerate(names)}), path)


# ---- models ----------------------------------------------------------------------------------


def _load_model(path: str) -> tuple[Any, dict[str, Any]]:
    """Load a model file, switching JAX to 64-bit first when the model needs it."""
    header = gf.read_header(path)
    if header.get("dtype") in ("float64", "mixed") and not jax.config.jax_enable_x64:
        jax.config.update("jax_enable_x64", True)
    return gf.load(path), header


def _model_data(path: str, args: argparse.Namespace, flow: Any) -> tuple[np.ndarray, list[str] | None]:
    X, names = read_table(path, args.delimiter)
    X = X.astype(compute_dtype())
    if X.shape[1] != flow.shape[0]:
        raise UsageError(f"{path} has {X.shape[1]} columns but the model has {flow.shape[0]} dimensions")
    return X, names


def _training_data(args: argparse.Namespace) -> tuple[np.ndarray, list[str] | None]:
    """The data of ``fit`` and ``info``, in 64-bit floating point with ``--float64``."""
    if args.float64:
        jax.config.update("jax_enable_x64", True)
    X, names = read_table(args.data, args.delimiter)
    return X.astype(compute_dtype()), names


# ---- commands --------------------------------------------------------------------------------


def _cmd_fit(args: argparse.Namespace) -> int:
    X, names = _training_data(args)
    given = {"val_fraction": args.val_fraction, "patience": args.patience}
    est = gf.GaussianizationDensity(
        strategy=args.strategy, n_layers=args.layers, n_components=args.components,
        steps=args.steps, peak_lr=args.lr, random_state=args.random_state,
        progress=not args.quiet, **{k: v for k, v in given.items() if v is not None},
    ).fit(X)
    metadata = {"columns": names, "strategy": args.strategy, "n_rows": int(X.shape[0])}
    gf.save(args.output, est.flow_, metadata=metadata)
    if not args.quiet:
        print(
            f"fitted {est.n_layers_} layers ({args.strategy}) on {X.shape[0]} rows x "
            f"{X.shape[1]} columns; mean log-density {est.score(X):.4f}; saved {args.output}"
        )
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    flow, _ = _load_model(args.model)
    X, _ = _model_data(args.data, args, flow)
    values = log_density(flow, X).astype(np.float64)
    write_table(args.output, values, ["log_density"] if args.output not in (None, "-") else None)
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    flow, header = _load_model(args.model)
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
        fig.savefig(args.png, dpi=120)
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


def _add_random_state(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--random-state", type=int, default=0, metavar="N",
                   help=f"integer that fixes {what} (default: %(default)s)")
    p.add_argument("--seed", type=int, dest="random_state", action=_DeprecatedSpelling,
                   new="--random-state", help=argparse.SUPPRESS)


def _add_data_options(p: argparse.ArgumentParser, *, float64: str | None = None) -> None:
    """``--float64`` (with its help text, if given) and ``--delimiter``."""
    if float64:
        p.add_argument("--float64", action="store_true", help=float64)
    p.add_argument(
        "--delimiter", default=None,
        help="CSV field separator (default: tab for .tsv files, otherwise a comma)",
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
    output = "output file (.csv, .npy or .parquet; default: {})"
    parser = _Parser(
        prog=PROG,
        description="Gaussianization flows from the command line: fit a density to a "
        "table of numbers, score rows, draw samples, measure information, inspect layers.",
        epilog=f"Data files: {formats}. Run '{PROG} COMMAND --help' for a command's options. "
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
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars or summary line")
    p.set_defaults(run=_cmd_fit)

    p = sub.add_parser("score", help="log-density of each row of data",
                       description="Write the model's log-density (in the data's units) of "
                       "every row of DATA, one per line.")
    _add_model_input(p, f"rows to score: {formats}")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help=output.format("stdout"))
    _add_data_options(p)
    p.set_defaults(run=_cmd_score)

    p = sub.add_parser("sample", help="draw rows from a model",
                       description="Draw N rows from the model's density.")
    _add_model_input(p, None)
    p.add_argument("-n", type=_positive_int, required=True, metavar="N", help="number of rows")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help=output.format("CSV on stdout"))
    _add_random_state(p, "the draws")
    p.set_defaults(run=_cmd_sample)

    p = sub.add_parser("info", help="entropy, total correlation, mutual information of data",
                       description="Estimate information quantities of DATA by Gaussianization.")
    p.add_argument("data", metavar="DATA", help=f"samples: {formats}; at least 20 rows")
    p.add_argument("--groups", default=None, metavar="A:B",
                   help="also the mutual information between two column groups, given by "
                   "0-based index or header name, e.g. '0,1:2' or 'x,y:z'")
    p.add_argument("--bits", action="store_true", help="report bits instead of nats")
    _add_random_state(p, "the rotations of the estimates")
    _add_data_options(p, float64="compute in 64-bit floating point (default: 32-bit)")
    p.set_defaults(run=_cmd_info)

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
    p.set_defaults(run=_cmd_inspect)
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
