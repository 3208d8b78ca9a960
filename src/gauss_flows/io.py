"""Saving and loading Gaussianization flows: one self-describing file, no code execution.

A model file is a zip archive holding

* ``header.json``: the format and library versions, the builder that rebuilds the
  architecture with its size arguments (read from the model's structure and leaf shapes),
  the floating dtype, one entry per parameter array (path, shape, dtype, SHA-256) and
  optional user metadata;
* ``arrays/00000.npy`` …: the parameter arrays in NumPy's ``.npy`` format.

Loading rebuilds the architecture's skeleton with the named builder (shapes only, no
computation), checks that every stored array fits it, and puts the arrays in place, so
``log_prob`` of the loaded model equals the saved one's bit for bit. Arrays are read with
``allow_pickle=False`` and the header is plain JSON: nothing in the file is ever executed.

Reading is bounded: only regular files are opened; the file, its zip directory and its
header have size limits (:data:`MAX_BYTES`, :data:`MAX_HEADER_BYTES`), the header's nesting
depth is limited (:data:`MAX_HEADER_DEPTH`), and every array's size is checked against the
architecture before any of it is decompressed. Loading then checks the values: floating
arrays must be finite, and arrays whose meaning requires it (the standardisation's
multipliers, rotation signs, Householder vectors) must hold admissible values.
:func:`save` writes a file under a unique temporary name and renames it into place, so
the path always holds a complete model, even with concurrent saves to it.

References:
    The ``.npy`` format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
    The zip format: PKWARE, "APPNOTE.TXT - .ZIP File Format Specification".
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io as _io
import json
import math
import os
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from flowjax.bijections import Chain
from flowjax.distributions import Transformed

from gauss_flows import layout
from gauss_flows._validation import check_int, special_file_kind
from gauss_flows._version import __version__
from gauss_flows.bijections.conditional_stack import CONDITIONAL_ARCHITECTURES
from gauss_flows.bijections.coupling import ACTIVATIONS
from gauss_flows.bijections.families import MARGINAL_FAMILIES, ROTATION_FAMILIES
from gauss_flows.continuous.builders import (
    WARM_FFJORD_PREFIX,
    ffjord_architecture,
    ffjord_flow,
    warm_ffjord_architecture,
)
from gauss_flows.continuous.divergence import PROBE_DISTRIBUTIONS
from gauss_flows.continuous.ffjord import ADJOINTS, DIVERGENCE_MODES, FFJORD, SOLVERS
from gauss_flows.continuous.warm_start import warm_start_ffjord
from gauss_flows.flows import (
    conditional_gaussianization_flow,
    coupling_gaussianization_flow,
    gaussianization_flow,
)

FORMAT_NAME = "gauss_flows.model"
#: The model-file format version that :func:`save` writes and :func:`load` reads.
FORMAT_VERSION = 3
#: Default ``max_bytes`` of :func:`load`, :func:`read_header` and :func:`from_bytes`: the
#: most bytes a model file may have, and the most bytes its arrays may declare in all.
MAX_BYTES = 1 << 30
#: The most bytes the JSON header (user metadata included) may have, stored or read.
MAX_HEADER_BYTES = 1 << 22
#: The deepest nesting of JSON arrays and objects the header may have, stored or read.
MAX_HEADER_DEPTH = 64
# Everything zipfile reads to open an archive: the end records (up to 64 KiB of archive
# comment) and the central directory, which it turns into one Python object per entry. A
# model file lists a header and a few dozen arrays, well under this.
_MAX_DIRECTORY_BYTES = 1 << 20
# A .npy member is a prefix (magic, version, header length, header of at most numpy's own
# 10,000-byte limit) and the array's bytes.
_NPY_PREFIX_BYTES = 12 + 10_000
# Array dtypes a model file may hold: floating parameters, int32 rotation signs, and the
# uint32 data of an FFJORD's probe key.
_FLOAT_DTYPES = ("float16", "float32", "float64")
_ARRAY_DTYPES = _FLOAT_DTYPES + ("int32", "uint32")
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# Opening a FIFO for reading must not wait for a writer; binary mode matters on Windows.
_READ_FLAGS = os.O_RDONLY | (os.O_NONBLOCK if os.name == "posix" else os.O_BINARY)
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | (os.O_BINARY if os.name == "nt" else 0)
# A JSON string literal, escapes included (to find the brackets outside strings).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Format 1 (gauss_flows before the flat GaussianizationStack layout) held the same arrays in
# the same order, except that the standardisation's multiplier was stored through flowjax's
# Affine parameterisation, as its inverse softplus; loading converts it.
_V1_MULTIPLIER_SUFFIX = ".scale.args[0].tree"
# Formats 1 and 2 stored a coupling block's HouseholderRotation by its reflection vectors in
# householder_product's order (last row applied first); format 3 stores its ``params``, the
# same rows in the order they apply. Loading an older file reverses those rows.
_V2_ROTATION_SUFFIX = ".vectors"
_ROTATION_IN_REFLECTION_ORDER = ("coupling_gaussianization_flow",)
_HEADER = "header.json"
# Where the skeleton keeps arrays whose values are constrained (key-path suffixes): the
# standardisation's multipliers 1/scale, ±1 rotation signs, and Householder reflection
# vectors (normalised on every call, so a zero row makes every density NaN).
_MULTIPLIER_SUFFIX = (".moments.tree[1]", ".condition_moments.tree[1]")
_SIGNS_SUFFIX = ".signs"
_REFLECTION_SUFFIXES = (".blocks.vectors", ".rotation.params")


class ModelFileError(ValueError):
    """A model file cannot be read: missing, truncated, corrupted, or of an unknown format.

    Example:
        >>> import gauss_flows as gf
        >>> try:
        ...     gf.load("no-such-model.gflow")
        ... except gf.ModelFileError as err:
        ...     print("cannot load:", err)  # doctest: +ELLIPSIS
        cannot load: ...
    """


def _activation(name: str, of: str) -> Callable:
    """The activation function a model file names, for the ``of`` networks."""
    if name not in ACTIVATIONS:
        raise ValueError(f"the {of} activation {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _build_diagonal(args: dict[str, Any]) -> Any:
    return gaussianization_flow(jr.key(0), **args)


def _build_conditional(args: dict[str, Any]) -> Any:
    args = dict(args)
    activation = _activation(args.pop("nn_activation", "silu"), "conditioner")
    return conditional_gaussianization_flow(jr.key(0), nn_activation=activation, **args)


def _build_coupling(args: dict[str, Any]) -> Any:
    args = dict(args)
    activation = _activation(args.pop("nn_activation", "silu"), "conditioner")
    return coupling_gaussianization_flow(jr.key(0), nn_activation=activation, **args)


def _build_ffjord(args: dict[str, Any]) -> Any:
    return ffjord_flow(jr.key(0), **args)


def _ffjord_after(build_gaussianizer: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """The builder of a warm-started FFJORD on the Gaussianizer that ``build_gaussianizer`` makes."""

    def build(args: dict[str, Any]) -> Any:
        options = {k: v for k, v in args.items() if k in _ARGUMENTS["ffjord_flow"] and k != "n_dims"}
        sizes = {k: v for k, v in args.items() if k not in options}
        activation = _activation(options.pop("activation", "tanh"), "drift")
        t_span = (options.pop("t0", 0.0), options.pop("t1", 1.0))
        return warm_start_ffjord(build_gaussianizer(sizes), jr.key(0), activation=activation,
                                 t_span=t_span, **options)

    return build


#: The public builders a model file can name, keyed by the name it stores.
_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "gaussianization_flow": _build_diagonal,
    "coupling_gaussianization_flow": _build_coupling,
    "ffjord_flow": _build_ffjord,
    "conditional_gaussianization_flow": _build_conditional,
    WARM_FFJORD_PREFIX + "gaussianization_flow": _ffjord_after(_build_diagonal),
    WARM_FFJORD_PREFIX + "coupling_gaussianization_flow": _ffjord_after(_build_coupling),
}

# Argument kinds beyond int/float/names: a list of sizes, and a count (a positive integer
# that no array's length bounds, such as a solver's step limit).
_SIZES = "sizes"
_COUNT = "count"
_MAX_COUNT = 1 << 31

# The arguments each builder's architecture() writes, and what each may be: int (a size,
# no larger than the number of values the arrays hold, since each size is some array's
# length), float (finite), or the names a family registry knows.
_ARGUMENTS: dict[str, dict[str, Any]] = {
    "gaussianization_flow": {
        "n_dims": int, "n_layers": int, "n_components": int, "rotation": ROTATION_FAMILIES,
        "n_reflections": int, "marginal": MARGINAL_FAMILIES, "n_bins": int, "interval": float,
    },
    "conditional_gaussianization_flow": {
        "n_dims": int, "n_layers": int, "n_components": int, "cond_dim": int, "nn_width": int,
        "nn_depth": int, "nn_activation": ACTIVATIONS, "offset_bound": float,
        "log_scale_bound": float, "architecture": CONDITIONAL_ARCHITECTURES,
        "input_bound": float,
    },
    "coupling_gaussianization_flow": {
        "n_dims": int, "n_layers": int, "n_components": int, "n_bins": int, "interval": float,
        "nn_width": int, "nn_depth": int, "nn_activation": ACTIVATIONS, "input_bound": float,
        "offset_bound": float, "log_scale_bound": float,
    },
    "ffjord_flow": {
        "n_dims": int, "hidden": _SIZES, "activation": ACTIVATIONS,
        "divergence_mode": DIVERGENCE_MODES, "n_hutchinson_samples": _COUNT,
        "probe_distribution": PROBE_DISTRIBUTIONS, "solver": tuple(SOLVERS), "adjoint": ADJOINTS,
        "rtol": float, "atol": float, "max_steps": _COUNT, "t0": float, "t1": float,
    },
}
for _gaussianizer in ("gaussianization_flow", "coupling_gaussianization_flow"):
    # A warm-started FFJORD stores its Gaussianizer's sizes and the FFJORD's options.
    _ARGUMENTS[WARM_FFJORD_PREFIX + _gaussianizer] = _ARGUMENTS[_gaussianizer] | _ARGUMENTS["ffjord_flow"]
# Sizes that count arrays (one weight array per conditioner layer), not values.
_ARRAY_COUNTS = ("nn_depth",)


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct))


def _skeleton(builder: str, args: dict[str, Any]) -> Any:
    """The builder's model with shape-only array leaves (nothing is computed)."""
    key = json.dumps(args, sort_keys=True)
    return _cached_skeleton(builder, key, bool(jax.config.jax_enable_x64))


@functools.lru_cache(maxsize=32)
def _cached_skeleton(builder: str, args_json: str, x64: bool) -> Any:
    # Keyed by the JAX precision mode too: it sets the skeleton's floating dtype. Skeletons
    # hold only shapes and static fields, so sharing one between loads is safe.
    return eqx.filter_eval_shape(_BUILDERS[builder], json.loads(args_json))


def _same_structure(model: Any, skeleton: Any) -> bool:
    """Same tree, same array shapes, same non-array leaves (sizes, functions)."""
    leaves_m, tree_m = jax.tree.flatten(model)
    leaves_s, tree_s = jax.tree.flatten(skeleton)
    if tree_m != tree_s:
        return False
    for a, b in zip(leaves_m, leaves_s):
        if _is_array(a) != _is_array(b):
            return False
        if _is_array(a):
            if tuple(a.shape) != tuple(b.shape):
                return False
        elif not (a is b or _equal_scalars(a, b)):
            return False
    return True


def _equal_scalars(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - anything incomparable is simply unequal
        return False


def _architecture(model: Any) -> tuple[str, dict[str, Any]]:
    """The builder and size arguments that rebuild ``model``'s exact structure."""
    try:
        if isinstance(model, Transformed) and isinstance(model.bijection, FFJORD):
            builder, args = "ffjord_flow", ffjord_architecture(model)
        elif isinstance(model, Transformed) and isinstance(model.bijection, Chain):
            builder, args = warm_ffjord_architecture(model)
        elif layout.is_conditional_flow(model):
            conditional = layout.conditional_gaussianizer(model)
            _, args = conditional.stack.architecture()
            builder, args = "conditional_gaussianization_flow", args | conditional.architecture()
        else:
            builder, args = layout.gaussianizer(model).architecture()
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"cannot save a {type(model).__name__}: {err} (only models built or fitted by "
            "gauss_flows can be saved)"
        ) from None
    if builder not in _BUILDERS or not _same_structure(model, _skeleton(builder, args)):
        raise ValueError(
            f"cannot save a {type(model).__name__}: its structure is not the one {builder} "
            f"builds with {args} (only models built or fitted by gauss_flows can be saved)"
        )
    return builder, args


def _float_dtype(arrays: list[np.ndarray]) -> str:
    kinds = sorted({a.dtype.name for a in arrays if np.issubdtype(a.dtype, np.floating)})
    if not kinds:
        return "none"
    return kinds[0] if len(kinds) == 1 else "mixed"


def _value_problem(path: str, arr: np.ndarray) -> str | None:
    """What is wrong with the values of the array at key path ``path``, or ``None``.

    Floating arrays must be finite; the standardisation's multipliers (``1/scale``) positive
    with a finite scale; rotation signs ±1; Householder vectors nonzero (their squared
    length at least the dtype's smallest normal number, so normalising them is exact).
    """
    if arr.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        if bad:
            return f"holds {bad} NaN or infinite value{'s' if bad > 1 else ''}"
    if path.endswith(_MULTIPLIER_SUFFIX):
        with np.errstate(divide="ignore", over="ignore"):
            if not np.all((arr > 0) & np.isfinite(np.reciprocal(arr))):
                return ("holds the standardisation's multipliers 1/scale, which must be "
                        f"positive with a finite scale; got {float(arr.min())!r} among them")
    if path.endswith(_SIGNS_SUFFIX) and not np.all((arr == 1) | (arr == -1)):
        return "holds rotation signs, which must each be +1 or -1"
    if path.endswith(_REFLECTION_SUFFIXES):
        with np.errstate(over="ignore", under="ignore"):
            squares = np.sum(arr * arr, axis=-1)
        if not np.all(np.isfinite(squares) & (squares >= np.finfo(arr.dtype).tiny)):
            return ("holds Householder reflection vectors, which must be nonzero; some "
                    "vector's length is zero (or under- or overflows)")
    return None


def save(path: str | os.PathLike, model: Any, *, metadata: Mapping[str, Any] | None = None) -> None:
    """Save a Gaussianization flow to one file that :func:`load` rebuilds on its own.

    The file is written under a unique temporary name in the same folder and then renamed
    over ``path`` in one step: ``path`` holds either the previous file or the complete new
    one, never a partial file, also when several threads or processes save to it at once
    (the last rename wins).

    Args:
        path: Where to write (conventionally ``*.gflow``); an existing file is replaced.
        model: A flow from :func:`fit_rbig`, :func:`gaussianization_flow`,
            :func:`train_flow`, :func:`fit_density` or the coupling builders.
        metadata: Optional JSON-serialisable information stored alongside (e.g. column
            names); read it back with :func:`read_header`.

    Raises:
        ValueError: If the model's structure matches no gauss_flows builder, it holds
            values :func:`load` refuses (NaN or infinite parameters, a non-positive
            standardisation scale), or the metadata is not JSON-serialisable or makes the
            header larger than :data:`MAX_HEADER_BYTES` or deeper than
            :data:`MAX_HEADER_DEPTH`. ``path`` is left as it was.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((200, 2))
        >>> flow = gf.fit_rbig(X, n_layers=2, n_components=3)
        >>> gf.save("model.gflow", flow)
        >>> same = gf.load("model.gflow")
        >>> bool(np.array_equal(same.log_prob(X), flow.log_prob(X)))
        True

    References:
        POSIX ``rename``: replacing a file by another in one atomic step.
    """
    target = os.fsdecode(os.fspath(path))
    fd, tmp = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write(fh, model, metadata)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _create_temporary(target: str) -> tuple[int, str]:
    """A new file beside ``target`` under a name no other save uses, opened for writing.

    ``os.open`` with mode 0o666 gives the file the permissions a plain ``open`` would
    (the process umask applies), unlike ``tempfile``'s private 0o600.
    """
    folder, base = os.path.split(target)
    while True:
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, _WRITE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue  # another save drew the same 64 random bits
        except OSError as err:
            # Name the path the caller gave (a missing folder, no permission), not ours.
            raise type(err)(err.errno, err.strerror, target) from None


def to_bytes(model: Any, *, metadata: Mapping[str, Any] | None = None) -> bytes:
    """The content :func:`save` would write, as bytes (for pickling and transport).

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> same = gf.io.from_bytes(gf.io.to_bytes(flow))
    """
    buffer = _io.BytesIO()
    _write(buffer, model, metadata)
    return buffer.getvalue()


def from_bytes(data: bytes, *, max_bytes: int = MAX_BYTES) -> Any:
    """Rebuild a model from :func:`to_bytes` output (same checks and bounds as :func:`load`).

    Args:
        data: The bytes.
        max_bytes: The most bytes ``data`` may have, and its arrays may declare in all.

    Raises:
        ModelFileError: As :func:`load`.

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> same = gf.io.from_bytes(gf.io.to_bytes(flow))
    """
    return _load(memoryview(data), "<bytes>", check_int("max_bytes", max_bytes))


def _write(fh: Any, model: Any, metadata: Mapping[str, Any] | None) -> None:
    builder, args = _architecture(model)
    flat, _ = jax.tree_util.tree_flatten_with_path(model)
    entries, arrays = [], []
    for key_path, leaf in flat:
        if not _is_array(leaf):
            continue
        arr = np.asarray(leaf)
        path = jax.tree_util.keystr(key_path)
        if arr.dtype.name not in _ARRAY_DTYPES:
            raise ValueError(
                f"cannot save: array {path} has dtype {arr.dtype}; model files hold "
                f"{', '.join(_ARRAY_DTYPES)} arrays"
            )
        problem = _value_problem(path, arr)
        if problem is not None:
            raise ValueError(f"cannot save: array {path} {problem} (load would refuse the file)")
        arrays.append(arr)
        entries.append(
            {
                "path": path,
                "shape": list(arr.shape),
                "dtype": arr.dtype.name,
                "sha256": hashlib.sha256(np.ascontiguousarray(arr)).hexdigest(),
            }
        )
    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "builder": builder,
        "arguments": args,
        "dtype": _float_dtype(arrays),
        "arrays": entries,
        "metadata": dict(metadata or {}),
    }
    try:
        text = json.dumps(header, indent=1)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metadata must be JSON-serialisable: {err}") from None
    header_bytes = text.encode("utf-8")
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError(
            f"the metadata makes the model file's header {len(header_bytes)} bytes; at most "
            f"MAX_HEADER_BYTES={MAX_HEADER_BYTES} can be loaded"
        )
    if _json_depth(text) > MAX_HEADER_DEPTH:
        raise ValueError(
            f"the metadata nests deeper than a model file's header may "
            f"(MAX_HEADER_DEPTH={MAX_HEADER_DEPTH} levels of lists and objects in all)"
        )
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_HEADER, header_bytes)
        for i, arr in enumerate(arrays):
            buffer = _io.BytesIO()
            np.lib.format.write_array(buffer, arr, allow_pickle=False)
            zf.writestr(f"arrays/{i:05d}.npy", buffer.getvalue())


def _json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text``, brackets in strings aside.

    An unterminated or malformed string can only leave brackets in, so the depth is never
    below what a JSON parser reaches before it stops.
    """
    bare = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8"), dtype=np.uint8)
    opens = (bare == ord("[")) | (bare == ord("{"))
    closes = (bare == ord("]")) | (bare == ord("}"))
    return int(np.cumsum(opens.astype(np.int64) - closes).max(initial=0))


def read_header(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The JSON header of a model file: versions, builder, sizes, dtype, metadata.

    Args:
        path: A file written by :func:`save`.
        max_bytes: The most bytes the file may have (default :data:`MAX_BYTES`).

    Raises:
        ModelFileError: If the file is missing, not a regular file, larger than
            ``max_bytes``, not a model file, damaged, of a newer format version, or its
            header is larger than :data:`MAX_HEADER_BYTES` or nested deeper than
            :data:`MAX_HEADER_DEPTH`.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((200, 2))
        >>> gf.save("model.gflow", gf.fit_rbig(X, n_layers=2, n_components=3))
        >>> gf.read_header("model.gflow")["arguments"]
        {'n_dims': 2, 'n_layers': 2, 'n_components': 3}
    """
    name = os.fspath(path)
    with _archive(name, name, check_int("max_bytes", max_bytes)) as zf:
        return _header(zf, name)


class _DirectoryTooLarge(Exception):
    """zipfile read more than :data:`_MAX_DIRECTORY_BYTES` while opening an archive."""


class _CappedReads:
    """A seekable binary file that refuses to hand out more than ``budget`` bytes in all.

    zipfile reads an archive's whole central directory, whatever size its end record
    declares; with the budget set while it opens the archive, that read is bounded. With
    ``budget`` None, reads pass through (member sizes are checked before they are read).
    """

    def __init__(self, fh: Any, budget: int | None):
        self._fh = fh
        self.budget = budget

    def read(self, n: int | None = -1) -> bytes:
        if self.budget is None:
            return self._fh.read(n)
        wanted = self.budget + 1 if n is None or n < 0 else min(n, self.budget + 1)
        data = self._fh.read(wanted)
        if len(data) > self.budget:
            raise _DirectoryTooLarge
        self.budget -= len(data)
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()

    def seekable(self) -> bool:
        return True


def _open_regular(name: str, max_bytes: int) -> Any:
    """``name`` opened for binary reading once it is known to be a small enough regular file."""
    try:
        kind = special_file_kind(name)
    except FileNotFoundError:
        raise ModelFileError(f"model file {name!r} does not exist") from None
    except OSError as err:
        raise ModelFileError(f"cannot read model file {name!r}: {err.strerror or err}") from None
    if kind == "a directory":
        raise ModelFileError(f"model file {name!r} is a directory")
    if kind is not None:
        raise ModelFileError(
            f"model file {name!r} is {kind}, not a regular file (model files are read only "
            "from regular files, whose size is known)"
        )
    try:
        fh = os.fdopen(os.open(name, _READ_FLAGS), "rb")
    except OSError as err:
        raise ModelFileError(f"cannot read model file {name!r}: {err.strerror or err}") from None
    try:
        # The path may have been replaced since it was checked: check what was opened.
        kind = special_file_kind(fh.fileno())
        if kind is not None:
            raise ModelFileError(f"model file {name!r} is {kind}, not a regular file")
        size = os.fstat(fh.fileno()).st_size
        if size > max_bytes:
            raise ModelFileError(
                f"model file {name!r} has {size} bytes, more than max_bytes={max_bytes} "
                "(pass a larger max_bytes to load it)"
            )
    except BaseException:
        fh.close()
        raise
    return fh


@contextlib.contextmanager
def _archive(source: str | memoryview, name: str, max_bytes: int) -> Iterator[zipfile.ZipFile]:
    """The zip archive of a model file (a path) or of bytes, read within the bounds."""
    if isinstance(source, memoryview):
        if source.nbytes > max_bytes:
            raise ModelFileError(
                f"the bytes are {source.nbytes} long, more than max_bytes={max_bytes}"
            )
        fh: Any = _io.BytesIO(source)
    else:
        fh = _open_regular(source, max_bytes)
    with fh:
        capped = _CappedReads(fh, _MAX_DIRECTORY_BYTES)
        try:
            zf = zipfile.ZipFile(capped, "r")
        except _DirectoryTooLarge:
            raise ModelFileError(
                f"{name!r} is not a gauss_flows model file: its zip directory is larger than "
                f"{_MAX_DIRECTORY_BYTES} bytes (a model file lists only a header and its arrays)"
            ) from None
        except Exception:  # noqa: BLE001 - any failure to parse the zip directory
            raise ModelFileError(
                f"{name!r} is not a gauss_flows model file, or it is truncated or corrupted "
                "(its zip directory cannot be read)"
            ) from None
        capped.budget = None
        with zf:
            yield zf


def _read_member(zf: zipfile.ZipFile, member: str, limit: int, name: str) -> bytes:
    """The content of ``member``, refused unless its declared size is at most ``limit``."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise ModelFileError(
            f"{name!r} is not a complete gauss_flows model file: {member} is missing"
        ) from None
    if info.compress_type not in _COMPRESSIONS:
        raise ModelFileError(
            f"model file {name!r} is corrupted: {member} is compressed with zip method "
            f"{info.compress_type} (model files are stored or deflated)"
        )
    if info.file_size > limit:
        raise ModelFileError(
            f"model file {name!r} is corrupted: {member} declares {info.file_size} bytes, "
            f"more than the {limit} it can hold"
        )
    try:
        with zf.open(info) as fh:
            # zipfile stops at the declared size; the bound holds even if it did not.
            content = fh.read(limit + 1)
    except Exception as err:  # noqa: BLE001 - CRC errors, damaged local headers, short reads
        raise ModelFileError(f"model file {name!r} is corrupted or truncated ({member}: {err})") from None
    if len(content) > limit:
        raise ModelFileError(f"model file {name!r} is corrupted: {member} is longer than it declares")
    return content


def _header(zf: zipfile.ZipFile, name: str) -> dict[str, Any]:
    if _HEADER not in zf.namelist():
        raise ModelFileError(f"{name!r} is not a gauss_flows model file (it has no {_HEADER})")
    raw = _read_member(zf, _HEADER, MAX_HEADER_BYTES, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ModelFileError(f"model file {name!r} has a corrupted header ({err})") from None
    if _json_depth(text) > MAX_HEADER_DEPTH:
        raise ModelFileError(
            f"model file {name!r} has a corrupted header: it nests lists and objects deeper "
            f"than MAX_HEADER_DEPTH={MAX_HEADER_DEPTH}"
        )
    try:
        header = json.loads(text)
    except ValueError as err:  # malformed JSON, or an integer of more digits than Python reads
        raise ModelFileError(f"model file {name!r} has a corrupted header ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name!r} is not a gauss_flows model file (unknown header format)")
    version = header.get("format_version")
    if not _is_int(version) or version < 1:
        raise ModelFileError(f"model file {name!r} has an invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"model file {name!r} has format version {version} (written by gauss_flows "
            f"{header.get('library_version', '?')}); this gauss_flows {__version__} reads "
            f"format versions up to {FORMAT_VERSION}: upgrade gauss_flows to load it"
        )
    for field, kind in (("builder", str), ("arguments", dict), ("arrays", list)):
        if not isinstance(header.get(field), kind):
            raise ModelFileError(f"model file {name!r} has a corrupted header (bad {field!r})")
    for index, entry in enumerate(header["arrays"]):
        _check_entry(index, entry, name)
    return header


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_entry(index: int, entry: Any, name: str) -> None:
    """An array entry of the header: a path, a shape of sizes, a known dtype, a digest."""
    if not (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("shape"), list)
        and all(_is_int(n) and n >= 0 for n in entry["shape"])
        and entry.get("dtype") in _ARRAY_DTYPES
        and isinstance(entry.get("sha256"), str)
    ):
        raise ModelFileError(f"model file {name!r} has a corrupted header (array entry {index})")


def _declared_bytes(entries: list[dict[str, Any]], max_bytes: int, name: str) -> list[int]:
    """Each array's size in bytes as the header declares it; refused above ``max_bytes`` in all."""
    sizes, total = [], 0
    for entry in entries:
        size = np.dtype(entry["dtype"]).itemsize
        for n in entry["shape"]:
            size *= n
            if size > max_bytes:
                break  # no need to multiply out an absurd shape
        sizes.append(size)
        total += size
        if total > max_bytes:
            raise ModelFileError(
                f"model file {name!r} declares more than max_bytes={max_bytes} bytes of arrays "
                f"(the total passes it at array {entry['path']} of shape {entry['shape']}); "
                "pass a larger max_bytes to load it"
            )
    return sizes


def _check_arguments(builder: str, args: dict[str, Any], entries: list[dict], name: str) -> None:
    """The builder's arguments are ones its architecture() writes, each of its kind.

    A size can be no larger than the number of values the header declares (each size is
    the length of some array), so building the skeleton costs no more than the arrays.
    """
    allowed = _ARGUMENTS[builder]
    values = sum(math.prod(e["shape"]) for e in entries)
    for arg, value in args.items():
        kind = allowed.get(arg)
        if kind is None:
            problem = f"{builder} takes no argument {arg!r} from a model file"
        elif kind is int:
            counted, most = ("arrays", len(entries)) if arg in _ARRAY_COUNTS else ("values", values)
            ok = _is_int(value) and 0 <= value <= most
            problem = None if ok else (
                f"{arg}={value!r} is not a size (an integer from 0 to {most}, the number of "
                f"{counted} the file holds)"
            )
        elif kind == _SIZES:
            ok = isinstance(value, list) and len(value) <= values and all(
                _is_int(v) and 0 < v <= values for v in value
            )
            problem = None if ok else (
                f"{arg}={value!r} is not a list of sizes (integers from 1 to {values}, the "
                "number of values the file holds)"
            )
        elif kind == _COUNT:
            ok = _is_int(value) and 0 < value < _MAX_COUNT
            problem = None if ok else f"{arg}={value!r} is not a positive integer below {_MAX_COUNT}"
        elif kind is float:
            # Comparisons rather than math.isfinite, which overflows on huge integers.
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and -1e308 < value < 1e308
            problem = None if ok else f"{arg}={value!r} is not a finite number"
        else:
            problem = None if isinstance(value, str) and value in kind else (
                f"{arg}={value!r} is not one of {', '.join(kind)}"
            )
        if problem is not None:
            raise ModelFileError(f"model file {name!r} has invalid architecture arguments: {problem}")


def _read_array(
    zf: zipfile.ZipFile, index: int, entry: dict[str, Any], nbytes: int, name: str
) -> np.ndarray:
    """Array ``index``, read only once its member's size fits the declared shape and dtype."""
    member = f"arrays/{index:05d}.npy"
    raw = _read_member(zf, member, _NPY_PREFIX_BYTES + nbytes, name)
    shape, dtype = tuple(entry["shape"]), np.dtype(entry["dtype"])
    try:
        stream = _io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            stored_shape, fortran, stored_dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            stored_shape, fortran, stored_dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ValueError(f".npy format version {version} is not one model files use")
        offset = stream.tell()
    except Exception as err:  # noqa: BLE001 - a damaged .npy header, whatever it holds
        raise ModelFileError(f"model file {name!r} holds a corrupted array {entry['path']} ({err})") from None
    if tuple(stored_shape) != shape or stored_dtype.name != dtype.name or stored_dtype.kind != dtype.kind:
        raise ModelFileError(
            f"model file {name!r} holds a corrupted array {entry['path']}: it has shape "
            f"{tuple(stored_shape)} and dtype {stored_dtype}, the header says {shape} and {dtype}"
        )
    body = memoryview(raw)[offset:]
    if body.nbytes != nbytes:
        raise ModelFileError(
            f"model file {name!r} holds a corrupted array {entry['path']}: it has "
            f"{body.nbytes} bytes of data, its shape and dtype need {nbytes}"
        )
    flat = np.frombuffer(body, dtype=stored_dtype)
    arr = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    if hashlib.sha256(np.ascontiguousarray(arr)).hexdigest() != entry["sha256"]:
        raise ModelFileError(
            f"model file {name!r} is corrupted: array {entry['path']} fails its checksum"
        )
    # A C-ordered, native-byte-order copy that owns its memory.
    return np.array(arr, dtype=dtype.newbyteorder("="), order="C")


def load(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> Any:
    """Load a model written by :func:`save`; its ``log_prob`` matches the saved one bit for bit.

    The architecture is rebuilt by the builder named in the file, then the stored arrays
    are put in place. Nothing from the file is executed, and reading is bounded: only a
    regular file of at most ``max_bytes`` bytes is opened, its header may have at most
    :data:`MAX_HEADER_BYTES` bytes and :data:`MAX_HEADER_DEPTH` levels of nesting, its
    arrays may declare at most ``max_bytes`` bytes in all, and each array's stored size
    must fit its declared shape before it is read or decompressed. The values are checked
    too: arrays must have the floating (or, for rotation signs, int32) dtype the
    architecture expects and finite values, the standardisation's scale must be positive,
    rotation signs ±1 and Householder vectors nonzero.

    Args:
        path: A file written by :func:`save`.
        max_bytes: The most bytes the file may have, and the most bytes its arrays may
            declare in all (default :data:`MAX_BYTES`, 1 GiB).

    Returns:
        The flowjax ``Transformed`` distribution that was saved.

    Raises:
        ModelFileError: If the file is missing, not a regular file (a device, FIFO or
            socket), over the bounds above, not a model file, truncated, corrupted, of a
            newer format version, names a builder this installation lacks, or holds
            arrays of the wrong dtype or with inadmissible values (the message names the
            array).
        ValueError: If the model holds 64-bit arrays while JAX runs in 32-bit mode, or
            ``max_bytes`` is not a positive integer.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((200, 2))
        >>> gf.save("model.gflow", gf.fit_rbig(X, n_layers=2, n_components=3))
        >>> gf.load("model.gflow").log_prob(X[:4]).shape
        (4,)
        >>> gf.load("model.gflow", max_bytes=100)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        gauss_flows.io.ModelFileError: model file 'model.gflow' has ... bytes, more than max_bytes=100 ...

    References:
        The zip and ``.npy`` formats (see the module documentation).
    """
    name = os.fspath(path)
    return _load(name, name, check_int("max_bytes", max_bytes))


def _upgrade_format_1(arrays: list[np.ndarray], entries: list[dict], name: str) -> list[np.ndarray]:
    """Format-1 arrays in format 2: the standardisation's multiplier as itself."""
    found = [i for i, e in enumerate(entries) if e["path"].endswith(_V1_MULTIPLIER_SUFFIX)]
    if len(found) != 1:
        raise ModelFileError(
            f"model file {name!r} (format version 1) does not hold the standardisation's "
            "scale where that format keeps it"
        )
    arrays = list(arrays)
    # The same softplus the format-1 model applied on every call, so log_prob is unchanged.
    arrays[found[0]] = np.asarray(jax.nn.softplus(jnp.asarray(arrays[found[0]])))
    return arrays


def _upgrade_format_2(arrays: list[np.ndarray], entries: list[dict]) -> list[np.ndarray]:
    """Format-2 (and 1) coupling arrays in format 3: rotation rows in the order they apply."""
    arrays = list(arrays)
    for i, entry in enumerate(entries):
        if entry["path"].endswith(_V2_ROTATION_SUFFIX):
            arrays[i] = np.ascontiguousarray(np.flip(arrays[i], axis=-2))
    return arrays


def _load(source: str | memoryview, name: str, max_bytes: int) -> Any:
    with _archive(source, name, max_bytes) as zf:
        header = _header(zf, name)
        entries, builder, args = header["arrays"], header["builder"], header["arguments"]
        # Everything about the arrays' sizes is settled before any array is read.
        nbytes = _declared_bytes(entries, max_bytes, name)
        if builder not in _BUILDERS:
            raise ModelFileError(
                f"model file {name!r} needs builder {builder!r}, which this gauss_flows "
                f"{__version__} does not have"
            )
        _check_arguments(builder, args, entries, name)
        wide = sorted({e["dtype"] for e in entries if np.dtype(e["dtype"]).itemsize == 8})
        if wide and not jax.config.jax_enable_x64:
            raise ValueError(
                f"model file {name!r} holds {'/'.join(wide)} arrays, but JAX runs in 32-bit mode; "
                'call jax.config.update("jax_enable_x64", True) before loading it'
            )
        slots, leaves, treedef = _fit_skeleton(builder, args, entries, name)
        arrays = [_read_array(zf, i, e, n, name) for i, (e, n) in enumerate(zip(entries, nbytes))]
    if header["format_version"] == 1:
        arrays = _upgrade_format_1(arrays, entries, name)
    if header["format_version"] <= 2 and builder in _ROTATION_IN_REFLECTION_ORDER:
        arrays = _upgrade_format_2(arrays, entries)
    for (i, path), arr, entry in zip(slots, arrays, entries):
        problem = _value_problem(path, arr)
        if problem is not None:
            raise ModelFileError(f"model file {name!r}: array {entry['path']} {problem}")
        leaves[i] = jnp.asarray(arr)
    return jax.tree.unflatten(treedef, leaves)


def _fit_skeleton(
    builder: str, args: dict[str, Any], entries: list[dict], name: str
) -> tuple[list[tuple[int, str]], list[Any], Any]:
    """The skeleton's array slots ``(leaf index, key path)``, its leaves and tree, once
    every declared array has the shape and kind of dtype of its slot."""
    try:
        skeleton = _skeleton(builder, args)
    except Exception as err:  # noqa: BLE001 - the arguments come from the file
        raise ModelFileError(
            f"model file {name!r} has architecture arguments {args} that {builder} rejects ({err})"
        ) from None
    flat, treedef = jax.tree_util.tree_flatten_with_path(skeleton)
    leaves = [leaf for _, leaf in flat]
    slots = [(i, jax.tree_util.keystr(p)) for i, (p, leaf) in enumerate(flat) if _is_array(leaf)]
    if len(slots) != len(entries):
        raise ModelFileError(
            f"model file {name!r} holds {len(entries)} arrays, but its architecture "
            f"{builder}({args}) needs {len(slots)}"
        )
    for (i, _), entry in zip(slots, entries):
        need = leaves[i]
        if tuple(need.shape) != tuple(entry["shape"]):
            raise ModelFileError(
                f"model file {name!r}: array {entry['path']} has shape {tuple(entry['shape'])}, "
                f"but the architecture needs {tuple(need.shape)}"
            )
        floating = jnp.issubdtype(need.dtype, jnp.floating)
        if (entry["dtype"] in _FLOAT_DTYPES) != floating or (not floating and entry["dtype"] != need.dtype.name):
            expected = "a floating-point" if floating else f"an {need.dtype.name}"
            raise ModelFileError(
                f"model file {name!r}: array {entry['path']} has dtype {entry['dtype']}, but "
                f"the architecture needs {expected} array there"
            )
    return slots, leaves, treedef


__all__ = [
    "FORMAT_VERSION",
    "MAX_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_DEPTH",
    "ModelFileError",
    "from_bytes",
    "load",
    "read_header",
    "save",
    "to_bytes",
]
