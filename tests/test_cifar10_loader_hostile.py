"""Hostile batch files: each is refused in one line, exit 2, bounded time and memory.

Every crafted file is read by the real command in a subprocess whose address space is
capped (RLIMIT_AS) and whose run is timed out, so a file that made the loader allocate
gigabytes, spin, or crash would fail the test instead of the machine. The pickles are
written opcode by opcode, as an attacker would, with what the loader allows (numpy.dtype,
_reconstruct, _codecs.encode) wherever the attack needs it.
"""
import os
import pickle as P
import resource
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

from examples.cifar10 import data, report
from tests import cifar10_data
from tests.conftest import ROOT

MEMORY_CAP = 768 * 2**20   # address space of the whole process, interpreter and NumPy included
TIME_CAP = 20              # seconds for a run that only reads six tiny files


# --- a small pickle assembler -------------------------------------------------------------

def s(text):
    """A Python 2 `str` (bytes under encoding='bytes')."""
    raw = text if isinstance(text, bytes) else text.encode("latin-1")
    if len(raw) < 256:
        return P.SHORT_BINSTRING + bytes([len(raw)]) + raw
    return P.BINSTRING + struct.pack("<i", len(raw)) + raw


def u(text):
    raw = text.encode("utf-8", "surrogatepass")
    return P.BINUNICODE + struct.pack("<I", len(raw)) + raw


def i(n):
    return P.BININT + struct.pack("<i", n)


def glob(module, name):
    return P.GLOBAL + f"{module}\n{name}\n".encode("latin-1")


def tup(*parts):
    return P.MARK + b"".join(parts) + P.TUPLE


PLAIN_DTYPE_STATE = tup(i(3), s("|"), P.NONE, P.NONE, P.NONE, i(-1), i(-1), i(0))


def dtype(name="u1", state=PLAIN_DTYPE_STATE):
    return glob("numpy", "dtype") + tup(s(name), P.NEWFALSE, P.NEWTRUE) + P.REDUCE \
        + state + P.BUILD


def array(shape, dt=None, raw=None, raw_ops=None):
    """_reconstruct + BUILD of an array whose data is `raw` bytes, or what `raw_ops` push."""
    raw = s(raw) if raw_ops is None else raw_ops
    return (glob("numpy.core.multiarray", "_reconstruct")
            + tup(glob("numpy", "ndarray"), tup(i(0)), s("b")) + P.REDUCE
            + tup(i(1), tup(*[i(n) for n in shape]), dt or dtype(), P.NEWFALSE, raw)
            + P.BUILD)


def batch(data_ops, labels=(0,), tail=b""):
    """A dict {'data': <data_ops>, 'labels': [...]} in protocol 2, as the official files."""
    return (P.PROTO + b"\x02" + P.EMPTY_DICT + P.MARK + s("data") + data_ops
            + s("labels") + P.EMPTY_LIST + P.MARK + b"".join(i(v) for v in labels)
            + P.APPENDS + tail + P.SETITEMS + P.STOP)


def encode(text_ops, codec):
    return glob("_codecs", "encode") + text_ops + u(codec) + P.TUPLE2 + P.REDUCE


PIXELS = bytes(range(256)) * 12  # one image: 3072 bytes


def test_the_assembler_writes_a_batch_the_loader_and_pickle_agree_on(tmp_path):
    """The crafted files below differ from this valid one only in their attack."""
    payload = batch(array((1, 3072), raw=PIXELS), labels=(7,))
    expected = np.frombuffer(PIXELS, np.uint8).reshape(1, 3072)
    plain = P.loads(payload, encoding="bytes")
    np.testing.assert_array_equal(plain[b"data"], expected)
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    images, labels = data.read_batch(path)
    assert labels.tolist() == [7]
    np.testing.assert_array_equal(images, expected.reshape(1, 3, 32, 32).transpose(0, 2, 3, 1))


# --- the crafted files --------------------------------------------------------------------

def dtype_changed_after_the_array_was_filled():
    # The dtype is memoised, an array is filled from 8 file bytes, then the same dtype is
    # BUILT again with object flags: NumPy would read those bytes as a pointer.
    dt = dtype("u8") + P.BINPUT + b"\x00"
    rebuild = P.BINGET + b"\x00" + tup(i(3), s("|"), P.NONE, P.NONE, P.NONE, i(8), i(8),
                                         i(63)) + P.BUILD
    return batch(array((1,), dt, b"A" * 8) + P.BINPUT + b"\x01" + rebuild + P.TUPLE1
                 + P.BINGET + b"\x01" + P.POP), "BUILD is only allowed once"


def dtype_state_with_zero_item_size():
    zero = tup(i(3), s("|"), P.NONE, P.NONE, P.NONE, i(0), i(1), i(0))
    return batch(array((10**6, 3072), dtype("u1", zero), b"")), \
        "dtype state is not that of a plain number type"


def object_dtype():
    return batch(array((1, 3072), dtype("O"), PIXELS)), "dtype O is not a plain integer type"


def zero_stride_million_images():
    # A million images from one image's bytes: 3 GB once NumPy is asked to copy them.
    return batch(array((10**6, 3072), raw=PIXELS)), \
        "array of shape (1000000, 3072) needs 3072000000 bytes, file has 3072"


def negative_shape():
    return batch(array((-1, 3072), raw=PIXELS)), "array shape is not a short tuple of sizes"


def shape_bigger_than_data():
    return batch(array((2, 3072), raw=PIXELS)), "needs 6144 bytes, file has 3072"


def object_array_state():
    # Object arrays pickle their items as a list, not as raw bytes.
    return batch(array((1,), raw_ops=P.EMPTY_LIST)), "array data is not raw bytes"


def codec_chain_bomb():
    # base64 grows its input by a third: thirty rounds of 1 KB make gigabytes.
    ops = u("A" * 1024)
    for _ in range(30):
        ops = encode(ops, "base64")
    return batch(array((1, 3072), raw_ops=ops)), \
        "_codecs.encode is only allowed as encode(text, 'latin1')"


def quadratic_codec():
    # punycode's encoder is quadratic in the length of its non-ASCII input.
    return batch(array((1, 3072), raw_ops=encode(u("\u00e9\u4e2d" * 7000), "punycode"))), \
        "_codecs.encode is only allowed as encode(text, 'latin1')"


def deep_marks():
    return P.PROTO + b"\x02" + P.MARK * 100_000 + P.STOP, "nested more than 16 deep"


def deep_lists():
    # A list inside a list inside a list ... 90,000 deep, as the batch's labels.
    nested = P.EMPTY_LIST * 90_000 + P.APPEND * 89_999
    payload = batch(array((1, 3072), raw=PIXELS), labels=())
    payload = payload.replace(s("labels") + P.EMPTY_LIST + P.MARK + P.APPENDS,
                              s("labels") + nested)
    # 90,000 lists of 56 bytes each from a file of 180 KB: refused by the memory count.
    return payload, "builds more than"


def huge_declared_length():
    return P.PROTO + b"\x04" + P.BINBYTES8 + struct.pack("<Q", 2**62) + b"x" * 10 + P.STOP, \
        "damaged pickle"


def too_many_opcodes():
    return batch(array((1, 3072), raw=PIXELS), labels=(1,) * 210_000), "opcodes"


def missing_memo_entry():
    return batch(P.BINGET + b"\x05"), "memo entry 5 is missing"


def shell_command_with_control_characters():
    return P.PROTO + b"\x02" + glob("os\x1b[2J", "system") + tup(u("true")) + P.REDUCE \
        + P.STOP, r"refusing to load global os\x1b[2J.system"


def not_a_dict():
    return P.PROTO + b"\x02" + P.EMPTY_LIST + P.STOP, "not a CIFAR-10 batch (expected a dict)"


def tuple1_nested_as_dtype_name():
    # TUPLE1 nests one value per opcode: 150,000 deep, a tuple whose hash (a dtype name is
    # looked up in a set) recursed in C until the stack overflowed.
    name = s("u1") + P.TUPLE1 * 150_000
    dt = glob("numpy", "dtype") + name + P.NEWFALSE + P.NEWTRUE + P.TUPLE3 + P.REDUCE
    return batch(array((1, 3072), dt, PIXELS)), "values nested more than 8 deep"


def shallow_tuple_as_dtype_name():
    dt = glob("numpy", "dtype") + s("u1") + P.TUPLE1 * 3 + P.NEWFALSE + P.NEWTRUE \
        + P.TUPLE3 + P.REDUCE
    return batch(array((1, 3072), dt, PIXELS)), "dtype name is a tuple, not a string"


def codec_amplification():
    # One memoised text of ~1 MiB, encoded again and again (`h0 h1 R a` x 2000): each call
    # makes a fresh copy, about 2 GiB in all unless the machine counts what it builds.
    ops = P.EMPTY_LIST + glob("_codecs", "encode") + P.BINPUT + b"\x00"
    ops += u("A" * 2**20) + u("latin1") + P.TUPLE2 + P.BINPUT + b"\x01"
    ops += P.TUPLE2 + P.APPEND  # the list keeps the function and text: nothing to pop
    ops += (P.BINGET + b"\x00" + P.BINGET + b"\x01" + P.REDUCE + P.APPEND) * 2000
    return batch(array((1, 3072), raw=PIXELS), tail=s("junk") + ops), "builds more than"


def list_inside_itself():
    cycle = P.EMPTY_LIST + P.BINPUT + b"\x00" + P.BINGET + b"\x00" + P.APPEND
    return batch(array((1, 3072), raw=PIXELS), tail=s("junk") + cycle), \
        "a list or dict contains itself"


def list_changed_inside_a_tuple():
    grow = (P.EMPTY_LIST + P.BINPUT + b"\x00" + P.TUPLE1 + P.BINGET + b"\x00"
            + P.NONE + P.APPEND)
    return batch(array((1, 3072), raw=PIXELS), tail=s("junk") + grow + P.TUPLE2), \
        "changed after it was put inside another value"


def duplicate_key():
    return batch(array((1, 3072), raw=PIXELS), tail=s("data") + P.NONE), \
        "dict key data appears twice"


CRAFTED = [tuple1_nested_as_dtype_name, shallow_tuple_as_dtype_name, codec_amplification,
           list_inside_itself, list_changed_inside_a_tuple, duplicate_key,
           dtype_changed_after_the_array_was_filled, dtype_state_with_zero_item_size,
           object_dtype, zero_stride_million_images, negative_shape, shape_bigger_than_data,
           object_array_state, codec_chain_bomb, quadratic_codec, deep_marks, deep_lists,
           huge_declared_length, too_many_opcodes, missing_memo_entry,
           shell_command_with_control_characters, not_a_dict]


def cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_capped(*args):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "examples.cifar10", *map(str, args)],
                            cwd=ROOT, capture_output=True, text=True, timeout=TIME_CAP,
                            preexec_fn=cap_memory, env=env)
    return result, time.monotonic() - start


def check_refused(result, seconds, expected, out, before):
    # A negative return code is a signal (SIGSEGV is -11); 2 is the CLI's "bad input".
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr, result.stderr
    assert not any(c < " " for c in result.stderr[:-1]), result.stderr  # no control chars
    assert seconds < TIME_CAP
    assert snapshot(out) == before  # --out untouched


def snapshot(out):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}


@pytest.fixture
def folder_and_out(tmp_path):
    folder = cifar10_data.write_official_layout(tmp_path / "data", n_train_per_batch=10,
                                                n_test=10)
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"from": "an earlier run"}\n')
    (out / report.MARKER).write_bytes(report.MARKER_TEXT)  # a set an earlier run wrote
    return folder, out


@pytest.mark.parametrize("craft", CRAFTED, ids=lambda craft: craft.__name__)
def test_crafted_batch_is_refused_in_one_line_with_bounded_time_and_memory(craft,
                                                                          folder_and_out):
    folder, out = folder_and_out
    payload, expected = craft()
    (folder / "data_batch_1").write_bytes(payload)
    before = snapshot(out)
    result, seconds = run_capped("--data-dir", folder, "--epochs", "1", "--out", out)
    check_refused(result, seconds, expected, out, before)
    assert "data_batch_1" in result.stderr


def fifo(path):
    os.mkfifo(path)
    return "is a FIFO, not a regular file"


def directory(path):
    path.mkdir()
    return "is a directory, not a regular file"


def device(path):
    path.symlink_to("/dev/zero")
    return "is a character device, not a regular file"


def sparse_giant(path):
    with open(path, "wb") as f:
        f.truncate(data.MAX_FILE_BYTES + 1)
    return "is too large for a CIFAR-10 batch"


@pytest.mark.parametrize("make", [fifo, directory, device, sparse_giant],
                         ids=lambda make: make.__name__)
def test_a_batch_that_is_not_a_regular_file_is_named_as_such(make, folder_and_out):
    folder, out = folder_and_out
    (folder / "test_batch").unlink()
    expected = make(folder / "test_batch")
    before = snapshot(out)
    result, seconds = run_capped("--data-dir", folder, "--epochs", "1", "--out", out)
    check_refused(result, seconds, expected, out, before)


# --- what must still load -----------------------------------------------------------------

ONE = {b"data": np.arange(2 * 3072, dtype=np.uint32).astype(np.uint8).reshape(2, 3072),
       b"labels": [3, 9], b"batch_label": b"", b"filenames": [b"a.png", b"b.png"]}


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_python_3_pickles_of_every_protocol_load(protocol, tmp_path):
    # batch_label b"" is the empty bytes value protocol 2 writes as a call of bytes().
    path = tmp_path / "data_batch_1"
    path.write_bytes(P.dumps(ONE, protocol=protocol))
    loaded = data.RestrictedUnpickler(open(path, "rb"), encoding="bytes").load()
    assert loaded[b"batch_label"] == b"" and loaded[b"filenames"] == [b"a.png", b"b.png"]
    images, labels = data.read_batch(path)
    assert labels.tolist() == [3, 9]
    np.testing.assert_array_equal(images, ONE[b"data"].reshape(2, 3, 32, 32)
                                  .transpose(0, 2, 3, 1))


def test_fortran_ordered_and_integer_array_labels_load(tmp_path):
    batch = {b"data": np.asfortranarray(ONE[b"data"]), b"labels": np.array([3, 9], np.int64)}
    for protocol in (2, 5):
        path = tmp_path / f"p{protocol}"
        path.write_bytes(P.dumps(batch, protocol=protocol))
        images, labels = data.read_batch(path)
        assert labels.tolist() == [3, 9]
        assert images[1, 0, 0].tolist() == ONE[b"data"][1, [0, 1024, 2048]].tolist()


# --- the bounds themselves ----------------------------------------------------------------

def none_list(count):
    """A pickle of exactly `count` opcodes: a list of count - 5 Nones."""
    return P.PROTO + b"\x02" + P.EMPTY_LIST + P.MARK + P.NONE * (count - 5) + P.APPENDS \
        + P.STOP


def test_the_opcode_cap_is_exact():
    import io
    import pickletools

    at_cap = none_list(data.MAX_OPCODES)
    assert len(list(pickletools.genops(io.BytesIO(at_cap)))) == data.MAX_OPCODES
    assert len(data.RestrictedUnpickler(io.BytesIO(at_cap)).load()) == data.MAX_OPCODES - 5
    with pytest.raises(P.UnpicklingError, match=f"more than {data.MAX_OPCODES} opcodes"):
        data.RestrictedUnpickler(io.BytesIO(none_list(data.MAX_OPCODES + 1))).load()


def test_memory_and_recursion_errors_are_named_not_empty(monkeypatch):
    import io

    for error, reason in ((MemoryError, "needs more memory than this process may use"),
                          (RecursionError, "nested too deeply to read")):
        def run(self, file, error=error):
            raise error()
        monkeypatch.setattr(data._Machine, "run", run)
        with pytest.raises(P.UnpicklingError) as caught:
            data.RestrictedUnpickler(io.BytesIO(none_list(10))).load()
        assert str(caught.value) == reason


@pytest.mark.parametrize("text", ["SECRET_TOKEN=hunter2\n", "csecret_module\nhunter2\n",
                                  "I12hunter2\n", "Vhunter2"])
def test_a_symlink_to_a_text_file_is_refused_without_echoing_it(text, folder_and_out):
    folder, out = folder_and_out
    secret = folder.parent / "credentials.txt"
    secret.write_text(text)
    (folder / "data_batch_1").unlink()
    (folder / "data_batch_1").symlink_to(secret)
    before = snapshot(out)
    result, seconds = run_capped("--data-dir", folder, "--epochs", "1", "--out", out)
    check_refused(result, seconds, "data_batch_1: not a readable CIFAR-10 batch", out, before)
    assert "hunter2" not in result.stderr and "secret" not in result.stderr.lower()


# --- the two crafted files of the report, measured ----------------------------------------

def run_measured(*args):
    """(exit status, stderr, peak RSS in bytes) of the CLI under the caps, no signal."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, "-m", "examples.cifar10", *map(str, args)],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                                   preexec_fn=cap_memory,
                                   env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
        deadline = time.monotonic() + TIME_CAP
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                pytest.fail(f"{args}: still running after {TIME_CAP} s")
            time.sleep(0.02)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return process.returncode, err.read().decode(), usage.ru_maxrss * 1024


@pytest.mark.parametrize("craft", [tuple1_nested_as_dtype_name, codec_amplification],
                         ids=lambda craft: craft.__name__)
def test_the_reported_files_stay_within_ten_times_their_size(craft, folder_and_out):
    folder, out = folder_and_out
    before = snapshot(out)
    # The interpreter, NumPy and the CLI: the same command refusing a tiny damaged file.
    (folder / "data_batch_1").write_bytes(P.PROTO + b"\x02" + P.STOP)
    status, _, interpreter = run_measured("--data-dir", folder, "--out", out)
    assert status == 2
    payload, expected = craft()
    (folder / "data_batch_1").write_bytes(payload)
    status, stderr, peak = run_measured("--data-dir", folder, "--out", out)
    assert status == 2 and len(stderr.splitlines()) == 1 and expected in stderr, stderr
    assert peak - interpreter <= 10 * len(payload), (peak, interpreter, len(payload))
    assert snapshot(out) == before
