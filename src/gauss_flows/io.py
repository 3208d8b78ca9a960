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
"""

from __future__ import annotations

import hashlib
import io as _io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np

from gauss_flows import layout
from gauss_flows._version import __version__
from gauss_flows.bijections.coupling import ACTIVATIONS
from gauss_flows.flows import coupling_gaussianization_flow, gaussianization_flow

FORMAT_NAME = "gauss_flows.model"
FORMAT_VERSION = 3
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


def _build_diagonal(args: dict[str, Any]) -> Any:
    return gaussianization_flow(jr.key(0), **args)


def _build_coupling(args: dict[str, Any]) -> Any:
    args = dict(args)
    name = str(args.pop("nn_activation", "silu"))
    if name not in ACTIVATIONS:
        raise ValueError(f"the conditioner activation {name!r} is not one of {', '.join(ACTIVATIONS)}")
    return coupling_gaussianization_flow(jr.key(0), nn_activation=ACTIVATIONS[name], **args)


#: The public builders a model file can name, keyed by the name it stores.
_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "gaussianization_flow": _build_diagonal,
    "coupling_gaussianization_flow": _build_coupling,
}


def _is_array(x: Any) -> bool:
    return isinstance(x, (jax.Array, np.ndarray, jax.ShapeDtypeStruct))


def _skeleton(builder: str, args: dict[str, Any]) -> Any:
    """The builder's model with shape-only array leaves (nothing is computed)."""
    return eqx.filter_eval_shape(_BUILDERS[builder], args)


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


def save(path: str | os.PathLike, model: Any, *, metadata: Mapping[str, Any] | None = None) -> None:
    """Save a Gaussianization flow to one file that :func:`load` rebuilds on its own.

    Args:
        path: Where to write (conventionally ``*.gflow``); an existing file is replaced.
        model: A flow from :func:`fit_rbig`, :func:`gaussianization_flow`,
            :func:`train_flow`, :func:`fit_density` or the coupling builders.
        metadata: Optional JSON-serialisable information stored alongside (e.g. column
            names); read it back with :func:`read_header`.

    Raises:
        ValueError: If the model's structure matches no gauss_flows builder, or the
            metadata is not JSON-serialisable.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((200, 2))
        >>> flow = gf.fit_rbig(X, n_layers=2, n_components=3)
        >>> gf.save("model.gflow", flow)
        >>> same = gf.load("model.gflow")
        >>> bool(np.array_equal(same.log_prob(X), flow.log_prob(X)))
        True
    """
    tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            _write(fh, model, metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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


def from_bytes(data: bytes) -> Any:
    """Rebuild a model from :func:`to_bytes` output (same checks as :func:`load`).

    Example:
        >>> import jax.random as jr
        >>> import gauss_flows as gf
        >>> flow = gf.gaussianization_flow(jr.key(0), n_dims=2, n_layers=2)
        >>> same = gf.io.from_bytes(gf.io.to_bytes(flow))
    """
    return _load(_io.BytesIO(data), "<bytes>")


def _write(fh: Any, model: Any, metadata: Mapping[str, Any] | None) -> None:
    builder, args = _architecture(model)
    flat, _ = jax.tree_util.tree_flatten_with_path(model)
    entries, arrays = [], []
    for key_path, leaf in flat:
        if not _is_array(leaf):
            continue
        arr = np.asarray(leaf)
        arrays.append(arr)
        entries.append(
            {
                "path": jax.tree_util.keystr(key_path),
                "shape": list(arr.shape),
                "dtype": arr.dtype.name,
                "sha256": hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest(),
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
        header_bytes = json.dumps(header, indent=1).encode("utf-8")
    except TypeError as err:
        raise ValueError(f"metadata must be JSON-serialisable: {err}") from None
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_HEADER, header_bytes)
        for i, arr in enumerate(arrays):
            buffer = _io.BytesIO()
            np.lib.format.write_array(buffer, arr, allow_pickle=False)
            zf.writestr(f"arrays/{i:05d}.npy", buffer.getvalue())


def read_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a model file: versions, builder, sizes, dtype, metadata.

    Args:
        path: A file written by :func:`save`.

    Raises:
        ModelFileError: If the file is missing, not a model file, damaged, or of a newer
            format version.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((200, 2))
        >>> gf.save("model.gflow", gf.fit_rbig(X, n_layers=2, n_components=3))
        >>> gf.read_header("model.gflow")["arguments"]
        {'n_dims': 2, 'n_layers': 2, 'n_components': 3}
    """
    with _open(path) as zf:
        return _header(zf, path)


def _open(path: Any) -> zipfile.ZipFile:
    if isinstance(path, _io.BytesIO):
        try:
            return zipfile.ZipFile(path, "r")
        except Exception:  # noqa: BLE001 - any failure to parse the zip directory
            raise ModelFileError("the bytes are not a gauss_flows model, or are truncated") from None
    name = os.fspath(path)
    if not os.path.exists(name):
        raise ModelFileError(f"model file {name!r} does not exist")
    if os.path.isdir(name):
        raise ModelFileError(f"model file {name!r} is a directory")
    try:
        return zipfile.ZipFile(name, "r")
    except PermissionError as err:
        raise ModelFileError(f"cannot read model file {name!r}: {err.strerror or err}") from None
    except Exception:  # noqa: BLE001 - any failure to parse the zip directory
        raise ModelFileError(
            f"{name!r} is not a gauss_flows model file, or it is truncated or corrupted "
            "(its zip directory cannot be read)"
        ) from None


def _read_member(zf: zipfile.ZipFile, member: str, path: Any) -> bytes:
    try:
        return zf.read(member)
    except KeyError:
        raise ModelFileError(f"{os.fspath(path)!r} is not a complete gauss_flows model file: "
                             f"{member} is missing") from None
    except Exception as err:  # noqa: BLE001 - CRC errors, damaged local headers, short reads
        raise ModelFileError(
            f"model file {os.fspath(path)!r} is corrupted or truncated ({member}: {err})"
        ) from None


def _header(zf: zipfile.ZipFile, path: Any) -> dict[str, Any]:
    name = os.fspath(path)
    if _HEADER not in [info.filename for info in zf.infolist()]:
        raise ModelFileError(f"{name!r} is not a gauss_flows model file (it has no {_HEADER})")
    try:
        header = json.loads(_read_member(zf, _HEADER, path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"model file {name!r} has a corrupted header ({err})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{name!r} is not a gauss_flows model file (unknown header format)")
    version = header.get("format_version")
    if not isinstance(version, int) or version < 1:
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
    return header


def _read_array(zf: zipfile.ZipFile, index: int, entry: dict[str, Any], path: Any) -> np.ndarray:
    name = os.fspath(path)
    if not isinstance(entry, dict):
        raise ModelFileError(f"model file {name!r} has a corrupted header (array entry {index})")
    raw = _read_member(zf, f"arrays/{index:05d}.npy", path)
    try:
        arr = np.lib.format.read_array(_io.BytesIO(raw), allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - a damaged .npy header or body
        raise ModelFileError(f"model file {name!r} holds a corrupted array {entry.get('path')} ({err})") from None
    if list(arr.shape) != entry.get("shape") or arr.dtype.name != entry.get("dtype"):
        raise ModelFileError(
            f"model file {name!r} is corrupted: array {entry.get('path')} has shape {arr.shape} "
            f"and dtype {arr.dtype}, the header says {entry.get('shape')} and {entry.get('dtype')}"
        )
    digest = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
    if digest != entry.get("sha256"):
        raise ModelFileError(
            f"model file {name!r} is corrupted: array {entry.get('path')} fails its checksum"
        )
    return arr


def load(path: str | os.PathLike) -> Any:
    """Load a model written by :func:`save`; its ``log_prob`` matches the saved one bit for bit.

    The architecture is rebuilt by the builder named in the file, then the stored arrays
    are put in place. Nothing from the file is executed.

    Args:
        path: A file written by :func:`save`.

    Returns:
        The flowjax ``Transformed`` distribution that was saved.

    Raises:
        ModelFileError: If the file is missing, not a model file, truncated, corrupted, of
            a newer format version, or names a builder this installation lacks.
        ValueError: If the model holds 64-bit arrays while JAX runs in 32-bit mode.

    Example:
        >>> import numpy as np
        >>> import gauss_flows as gf
        >>> X = np.random.default_rng(0).standard_exponential((200, 2))
        >>> gf.save("model.gflow", gf.fit_rbig(X, n_layers=2, n_components=3))
        >>> gf.load("model.gflow").log_prob(X[:4]).shape
        (4,)
    """
    return _load(path, os.fspath(path))


def _upgrade_format_1(arrays: list[np.ndarray], entries: list[dict], name: str) -> list[np.ndarray]:
    """Format-1 arrays in format 2: the standardisation's multiplier as itself."""
    found = [i for i, e in enumerate(entries) if str(e.get("path", "")).endswith(_V1_MULTIPLIER_SUFFIX)]
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
        if str(entry.get("path", "")).endswith(_V2_ROTATION_SUFFIX):
            arrays[i] = np.ascontiguousarray(np.flip(arrays[i], axis=-2))
    return arrays


def _load(source: Any, name: str) -> Any:
    with _open(source) as zf:
        header = _header(zf, name)
        entries = header["arrays"]
        arrays = [_read_array(zf, i, entry, name) for i, entry in enumerate(entries)]
    builder = header["builder"]
    if builder not in _BUILDERS:
        raise ModelFileError(
            f"model file {name!r} needs builder {header['builder']!r}, which this gauss_flows "
            f"{__version__} does not have"
        )
    wide = sorted({a.dtype.name for a in arrays if a.dtype.itemsize == 8})
    if wide and not jax.config.jax_enable_x64:
        raise ValueError(
            f"model file {name!r} holds {'/'.join(wide)} arrays, but JAX runs in 32-bit mode; "
            'call jax.config.update("jax_enable_x64", True) before loading it'
        )
    if header["format_version"] == 1:
        arrays = _upgrade_format_1(arrays, entries, name)
    if header["format_version"] <= 2 and builder in _ROTATION_IN_REFLECTION_ORDER:
        arrays = _upgrade_format_2(arrays, entries)
    try:
        skeleton = _skeleton(builder, header["arguments"])
    except Exception as err:  # noqa: BLE001 - the arguments come from the file
        raise ModelFileError(
            f"model file {name!r} has architecture arguments {header['arguments']} that "
            f"{builder} rejects ({err})"
        ) from None
    leaves, treedef = jax.tree.flatten(skeleton)
    slots = [i for i, leaf in enumerate(leaves) if _is_array(leaf)]
    if len(slots) != len(arrays):
        raise ModelFileError(
            f"model file {name!r} holds {len(arrays)} arrays, but its architecture "
            f"{builder}({header['arguments']}) needs {len(slots)}"
        )
    for i, arr, entry in zip(slots, arrays, entries):
        if tuple(leaves[i].shape) != arr.shape:
            raise ModelFileError(
                f"model file {name!r}: array {entry['path']} has shape {arr.shape}, but the "
                f"architecture needs {tuple(leaves[i].shape)}"
            )
        leaves[i] = jnp.asarray(arr)
    return jax.tree.unflatten(treedef, leaves)


__all__ = ["FORMAT_VERSION", "ModelFileError", "from_bytes", "load", "read_header", "save", "to_bytes"]
