"""Model files from anywhere: bounded reading, atomic saves, value checks, a fuzzed reader.

Every file here is either loaded as a valid model or refused with ``ModelFileError``
naming the problem, without unbounded reads or allocations and without another exception.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import threading
import tracemalloc
import zipfile

import equinox as eqx
import jax.random as jr
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gauss_flows as gf
from gauss_flows import io as gf_io
from gauss_flows.cli import main

POINTS = np.array([[0.3, -1.2], [2.0, 0.5], [-0.7, 0.1]])


@eqx.filter_jit
def _log_prob(model, X):
    return model.log_prob(X)


@pytest.fixture(scope="module")
def flow():
    """A tiny diagonal flow (built, not fitted: nothing to train)."""
    return gf.gaussianization_flow(
        jr.key(0), n_dims=2, n_layers=2, n_components=3, loc=[1.0, -2.0], scale=[0.5, 3.0]
    )


@pytest.fixture(scope="module")
def raw(flow) -> bytes:
    return gf_io.to_bytes(flow)


def _members(raw: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def _npy(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, arr, allow_pickle=False)
    return buffer.getvalue()


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def _with_arrays(raw: bytes, edit) -> bytes:
    """``raw`` with ``edit(path, array)``'s arrays, shapes, dtypes and checksums recomputed."""
    members = _members(raw)
    header = json.loads(members["header.json"])
    for i, entry in enumerate(header["arrays"]):
        member = f"arrays/{i:05d}.npy"
        arr = np.ascontiguousarray(edit(entry["path"], np.load(io.BytesIO(members[member]))))
        members[member] = _npy(arr)
        entry.update(shape=list(arr.shape), dtype=arr.dtype.name,
                     sha256=hashlib.sha256(arr.tobytes()).hexdigest())
    members["header.json"] = json.dumps(header).encode()
    return _zip(members)


def _with_header(raw: bytes, edit) -> bytes:
    members = _members(raw)
    header = json.loads(members["header.json"])
    edit(header)
    members["header.json"] = json.dumps(header).encode()
    return _zip(members)


def _finishes(seconds: float, call):
    """``call()``'s result, or its exception raised here; a failure if it runs over ``seconds``.

    The call runs in a daemon thread, so a read that never ends fails the test instead of
    hanging the run.
    """
    outcome: list = []

    def run():
        try:
            outcome.append((call(), None))
        except BaseException as err:  # noqa: BLE001 - raised again in the test's thread
            outcome.append((None, err))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"still running after {seconds} s"
    result, err = outcome[0]
    if err is not None:
        raise err
    return result


# ---- item 3: bounded reading ---------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_unread():
    for reader in (gf.load, gf.read_header):
        with pytest.raises(gf.ModelFileError, match="'/dev/zero' is a character device, not a regular"):
            _finishes(10, lambda: reader("/dev/zero"))


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX")
def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "model.gflow"
    os.mkfifo(fifo)
    with pytest.raises(gf.ModelFileError, match="is a FIFO"):
        _finishes(10, lambda: gf.load(fifo))


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_cli_refuses_dev_zero_as_data(tmp_path, capsys):
    assert _finishes(10, lambda: main(["fit", "/dev/zero", "-o", str(tmp_path / "m.gflow")])) == 2
    assert "'/dev/zero' is a character device, not a regular file" in capsys.readouterr().err
    assert not (tmp_path / "m.gflow").exists()


def test_file_over_max_bytes_is_refused(tmp_path, raw):
    path = tmp_path / "m.gflow"
    path.write_bytes(raw)
    with pytest.raises(gf.ModelFileError, match=f"has {len(raw)} bytes, more than max_bytes=1000"):
        gf.load(path, max_bytes=1000)
    with pytest.raises(gf.ModelFileError, match="more than max_bytes=1000"):
        gf.read_header(path, max_bytes=1000)
    with pytest.raises(gf.ModelFileError, match="more than max_bytes=1000"):
        gf_io.from_bytes(raw, max_bytes=1000)
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        gf.load(path, max_bytes=0)
    assert gf.load(path, max_bytes=len(raw)) is not None


def _refusal_and_peak(call) -> tuple[str, int]:
    """The ModelFileError message of ``call()``, and the peak memory Python and NumPy
    allocated while it ran."""
    tracemalloc.start()
    try:
        with pytest.raises(gf.ModelFileError) as err:
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return str(err.value), peak


def test_member_larger_than_its_array_is_refused_before_decompression(raw):
    # A deflated member of 64 MB of zeros (65 kB in the file) where a 48-byte array belongs.
    members = _members(raw)
    members["arrays/00000.npy"] = bytes(64_000_000)
    bomb = _zip(members, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 200_000
    message, peak = _refusal_and_peak(lambda: gf_io.from_bytes(bomb))
    assert "arrays/00000.npy declares 64000000 bytes, more than the" in message
    assert peak < 4_000_000


def test_declared_arrays_over_max_bytes_are_refused_before_allocation(raw):
    # A consistent header for 37 MB of arrays, deflated to a small file.
    members = _members(raw)
    header = json.loads(members["header.json"])
    layers = 200_000
    header["arguments"]["n_layers"] = layers
    for i, entry in enumerate(header["arrays"]):
        if i >= 2:  # the standardisation's two arrays have no depth axis
            entry["shape"][0] = layers
        members[f"arrays/{i:05d}.npy"] = _npy(np.zeros(entry["shape"], entry["dtype"]))
    members["header.json"] = json.dumps(header).encode()
    bomb = _zip(members, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 200_000 and sum(map(len, members.values())) > 30_000_000
    message, peak = _refusal_and_peak(lambda: gf_io.from_bytes(bomb, max_bytes=1_000_000))
    assert "declares more than max_bytes=1000000 bytes of arrays" in message
    assert peak < 1_000_000


def test_sizes_beyond_the_arrays_are_refused_before_building(raw):
    bad = _with_header(raw, lambda h: h["arguments"].update(n_dims=10**12))
    with pytest.raises(gf.ModelFileError, match=r"n_dims=1000000000000 is not a size"):
        gf_io.from_bytes(bad)


def _header_text(raw: bytes, metadata_json: str) -> bytes:
    members = _members(raw)
    header = json.loads(members["header.json"])
    text = json.dumps(header)
    members["header.json"] = text.replace('"metadata": {}', f'"metadata": {metadata_json}').encode()
    return _zip(members)


def test_deeply_nested_header_is_refused(tmp_path, raw):
    deep = _header_text(raw, "[" * 100_000 + "]" * 100_000)
    path = tmp_path / "deep.gflow"
    path.write_bytes(deep)
    for read in (gf.load, gf.read_header):
        with pytest.raises(gf.ModelFileError, match="deeper than MAX_HEADER_DEPTH=64"):
            read(path)
    # Brackets inside strings are text, not nesting.
    assert gf_io.from_bytes(_header_text(raw, json.dumps({"x": "[" * 1000}))) is not None
    # And save refuses metadata that would make such a header.
    with pytest.raises(ValueError, match="nests deeper"):
        gf.save(tmp_path / "m.gflow", gf_io.from_bytes(raw), metadata={"a": _nested(70)})
    assert not (tmp_path / "m.gflow").exists()


def _nested(depth: int):
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_oversized_header_and_huge_numbers_are_refused(monkeypatch, raw):
    monkeypatch.setattr(gf_io, "MAX_HEADER_BYTES", 1000)
    with pytest.raises(gf.ModelFileError, match="header.json declares .* more than the 1000"):
        gf_io.from_bytes(raw)
    monkeypatch.undo()
    # More digits than Python converts: a ValueError from json, reported as a corrupt header.
    with pytest.raises(gf.ModelFileError, match="corrupted header"):
        gf_io.from_bytes(_header_text(raw, '{"n": ' + "7" * 5000 + "}"))


def test_oversized_zip_directory_is_refused(raw):
    members = _members(raw)
    members.update({f"padding/{i}": b"" for i in range(20_000)})
    with pytest.raises(gf.ModelFileError, match="zip directory is larger than"):
        gf_io.from_bytes(_zip(members))


# ---- item 4: atomic saves ------------------------------------------------------------------


def test_concurrent_saves_to_one_path_always_leave_a_complete_file(tmp_path, flow):
    models = [flow, eqx.tree_at(lambda f: f.bijection.bijection.blocks.means, flow,
                                replace_fn=lambda m: m + 1.0)]
    expected = [_members(gf_io.to_bytes(m)) for m in models]
    path = tmp_path / "model.gflow"
    n_threads, rounds = 4, 20
    barrier = threading.Barrier(n_threads, timeout=60)
    errors: list[BaseException] = []

    def saver(k: int) -> None:
        try:
            for _ in range(rounds):
                barrier.wait()  # all threads save at once
                gf.save(path, models[k % 2])
                barrier.wait()
                if k == 0:  # this round's saves are done: the file must be one whole model
                    assert _members(path.read_bytes()) in expected
        except BaseException as err:  # noqa: BLE001 - collected for the assertion below
            errors.append(err)
            barrier.abort()  # release the other threads

    threads = [threading.Thread(target=saver, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gflow"]  # no temporaries
    loaded = gf.load(path)
    assert any(np.array_equal(_log_prob(loaded, POINTS), _log_prob(m, POINTS)) for m in models)


def test_save_gives_the_permissions_of_a_plain_file_and_keeps_the_old_on_failure(tmp_path, flow):
    path = tmp_path / "model.gflow"
    gf.save(path, flow)
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    before = path.read_bytes()
    with pytest.raises(ValueError, match="JSON"):
        gf.save(path, flow, metadata={"f": object()})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.gflow"]
    with pytest.raises(FileNotFoundError) as err:
        gf.save(tmp_path / "missing" / "model.gflow", flow)
    assert err.value.filename == str(tmp_path / "missing" / "model.gflow")


# ---- item 11: dtypes and values ------------------------------------------------------------

MULTIPLIER = ".bijection.bijection.moments.tree[1]"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p, a: np.full_like(a, np.nan) if p.endswith(".means") else a,
         r"array \S+\.means holds 12 NaN or infinite values"),
        (lambda p, a: np.where(a == a.flat[0], np.inf, a) if p.endswith(".logits") else a,
         r"array \S+\.logits holds \d+ NaN or infinite value"),
        (lambda p, a: np.zeros_like(a), r"moments\.tree\[1\] holds the standardisation's multipliers"),
        (lambda p, a: -a if p == MULTIPLIER else a, "multipliers 1/scale, which must be positive"),
        (lambda p, a: np.full_like(a, 1e-320) if p == MULTIPLIER else a, "with a finite scale"),
        (lambda p, a: np.zeros_like(a) if p.endswith(".signs") else a, "signs, which must each be"),
        (lambda p, a: np.zeros_like(a) if p.endswith(".vectors") else a, "Householder reflection vectors"),
        (lambda p, a: np.full_like(a, 1e200) if p.endswith(".vectors") else a, "overflows"),
        (lambda p, a: a.astype(np.int32), r"has dtype int32, but the architecture needs a floating-point"),
        (lambda p, a: a.astype(np.float64) if p.endswith(".signs") else a,
         r"\.signs has dtype float64, but the architecture needs an int32"),
    ],
    ids=["nan", "inf", "all-zero", "negative-scale", "infinite-scale", "zero-signs",
         "zero-vectors", "overflowing-vectors", "int32", "float-signs"],
)
def test_inadmissible_arrays_are_refused_by_name(raw, edit, message):
    with pytest.raises(gf.ModelFileError, match=message):
        gf_io.from_bytes(_with_arrays(raw, edit))


@pytest.fixture(scope="module")
def coupling_raw() -> bytes:
    return gf_io.to_bytes(gf.coupling_gaussianization_flow(
        jr.key(1), n_dims=2, n_layers=1, n_components=2, nn_width=4, nn_depth=1))


@pytest.mark.parametrize("activation", ["__loader__", "softmax", 3, ["silu"]])
def test_activation_outside_the_allow_list_is_refused(coupling_raw, activation):
    bad = _with_header(coupling_raw, lambda h: h["arguments"].update(nn_activation=activation))
    with pytest.raises(gf.ModelFileError, match=r"nn_activation=.* is not one of silu, relu"):
        gf_io.from_bytes(bad)


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"loc": [0.0, 0.0]}, "takes no argument 'loc'"),
        ({"n_layers": True}, "n_layers=True is not a size"),
        ({"n_layers": 2.0}, "n_layers=2.0 is not a size"),
        ({"input_bound": "4"}, "input_bound='4' is not a finite number"),
        ({"input_bound": 10**400}, "is not a finite number"),
        ({"nn_depth": 10**6}, r"nn_depth=1000000 is not a size \(an integer from 0 to \d+, the number of arrays"),
    ],
)
def test_arguments_outside_what_save_writes_are_refused(coupling_raw, update, message):
    bad = _with_header(coupling_raw, lambda h: h["arguments"].update(update))
    with pytest.raises(gf.ModelFileError, match=message):
        gf_io.from_bytes(bad)


def test_save_refuses_what_load_would_refuse(tmp_path, flow):
    path = tmp_path / "model.gflow"
    gf.save(path, flow)
    before = path.read_bytes()
    broken = eqx.tree_at(lambda f: f.bijection.bijection.blocks.means, flow,
                         replace_fn=lambda m: m.at[0, 0, 0].set(np.nan))
    with pytest.raises(ValueError, match=r"cannot save: array \S+\.means holds 1 NaN"):
        gf.save(path, broken)
    assert path.read_bytes() == before


# ---- fuzzing the reader --------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(flow, raw):
    return np.asarray(_log_prob(gf_io.from_bytes(raw), POINTS))


def _load_or_refuse(data: bytes, reference: np.ndarray) -> None:
    """Either a valid model with the original density, or ModelFileError; nothing else."""
    try:
        model = gf_io.from_bytes(data)
    except gf.ModelFileError:
        return
    # Every array is checksummed and every size argument fixes a shape, so whatever loads
    # is the saved model (bytes outside the checked content, e.g. timestamps, may change).
    assert np.array_equal(np.asarray(_log_prob(model, POINTS)), reference)


@pytest.fixture(scope="module")
def member_list(raw) -> list[tuple[str, bytes]]:
    return list(_members(raw).items())


# One example is a short byte string read as edits, so hypothesis shrinks it as bytes: the
# first byte picks the target (0: the file as stored; k: the content of member k, zipped
# again so that its CRC holds and the edit reaches the JSON, .npy and checksum checks),
# then each 4 bytes are one edit: kind (flip bits, cut the rest, insert a byte), position
# (2 bytes), value.
@settings(max_examples=3000, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(edits=st.binary(min_size=5, max_size=13))
def test_mutated_bytes_load_as_the_model_or_raise_model_file_error(raw, member_list, reference, edits):
    target = edits[0] % (1 + len(member_list))
    data = bytearray(raw if target == 0 else member_list[target - 1][1])
    for i in range(1, len(edits) - 3, 4):
        kind, value = edits[i] % 3, edits[i + 3]
        at = int.from_bytes(edits[i + 1 : i + 3], "big") % (len(data) + 1)
        if kind == 0 and at < len(data):
            data[at] ^= value or 1
        elif kind == 1:
            del data[at:]
        elif kind == 2:
            data.insert(at, value)
    if target:
        members = dict(member_list)
        members[member_list[target - 1][0]] = bytes(data)
        data = _zip(members)
    _load_or_refuse(bytes(data), reference)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
_FIELDS = st.sampled_from(
    ["format_version", "builder", "arguments", "arrays", "n_dims", "n_layers", "n_components",
     "path", "shape", "dtype", "sha256", "shape[0]"]
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(field=_FIELDS, index=st.integers(0, 6), value=_JSON)
def test_header_fields_with_any_json_value_load_or_raise_model_file_error(
    raw, reference, field, index, value
):
    def edit(header):
        entry = header["arrays"][index]
        if field in header:
            header[field] = value
        elif field in header["arguments"]:
            header["arguments"][field] = value
        elif field == "shape[0]":
            entry["shape"][0] = value
        else:
            entry[field] = value

    _load_or_refuse(_with_header(raw, edit), reference)

