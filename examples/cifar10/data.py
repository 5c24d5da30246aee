"""Load CIFAR-10 from Keras' download or from an extracted official folder."""
import hashlib
import io
import math
import os
import pickle
import pickletools
import stat
from pathlib import Path

import numpy as np

# --8<-- [start:layout]
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]
TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_FILE = "test_batch"
FOLDER = "cifar-10-batches-py"


class DataError(Exception):
    """The data could not be loaded; the message is one line for the user."""
# --8<-- [end:layout]


# --8<-- [start:unpickler]
def shown(text, limit=60):
    """Text from a file, safe for a terminal: control characters escaped, length
    capped."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text[:limit * 4]).decode("latin-1")
    text = str(text)
    cut = len(text) > limit
    text = "".join(
        c if c.isprintable() else repr(c)[1:-1] for c in text[:limit]
    )
    return text + ("..." if cut else "")


# Limits that hold for every official batch with room to spare (a batch is
# 10,000 images, 30.7 MB of pixels and about 30,000 opcodes), so that no file
# can take more than a small multiple of its size in memory, or more than a
# moment to refuse.
MAX_FILE_BYTES = 256 * 2**20
MAX_OPCODES = 200_000
MAX_MARK_DEPTH = 16
MAX_NESTING = 8  # a batch nests 3 deep: dict > array state > shape
MAX_DICT_KEYS = 64
# What the machine may build, as a multiple of the file's size plus a margin: a
# batch needs 2 (the text of its pixels, then their bytes).
BUDGET_PER_FILE_BYTE = 4
BUDGET_MARGIN = 2**20
# plain numbers only
DTYPES = {"u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "b1"}


class RestrictedUnpickler:
    """Read a pickle that holds what a CIFAR-10 batch holds, and nothing else.

    A pickle is a program: it can name any importable callable and have it
    called while it loads. A crafted batch could run a shell command that way,
    or hand NumPy a state that corrupts memory, or ask a codec for gigabytes. So
    the file is never given to `pickle`: its opcodes are walked one by one
    (`pickletools.genops` parses them without building anything), and only these
    calls are carried out, by this class, on checked arguments:

    - `numpy.dtype(name)` for a plain integer type such as `'u1'`;
    - `_reconstruct(ndarray, (0,), b'b')` followed by its state, or
      `_frombuffer(...)`: an array built here with `np.frombuffer` from exactly
      `prod(shape) * itemsize` bytes of the file;
    - `_codecs.encode(text, 'latin1')` and `bytes()`: how Python 3 writes byte
      strings in protocols 0 to 2.

    Any other global, opcode or argument is refused with
    `pickle.UnpicklingError` before anything is imported or called. The machine
    is bounded by construction:

    - every container it builds (tuple, list, dict, whatever opcode builds it)
      is at most MAX_NESTING deep, and is sealed once it is put inside another,
      so nothing deeper or circular can ever be hashed, compared or printed;
    - it counts the memory of every value it builds and refuses the file as soon
      as that count passes four times the file's size plus 1 MiB, so a file of S
      bytes never makes it hold more than about 4 S + 1 MiB besides the file
      itself;
    - it reads at most MAX_OPCODES opcodes.

    The one-line reason names what was refused; it quotes text from the file
    only when the file starts as a pickle does (a PROTO opcode), so a text file
    given by mistake (or a symlink to one) is not echoed.
    """

    GLOBALS = {
        ("numpy", "ndarray"): "ndarray",
        ("numpy", "dtype"): "dtype",
        ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
        ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
        ("numpy.core.numeric", "_frombuffer"): "frombuffer",   # protocol 5
        ("numpy._core.numeric", "_frombuffer"): "frombuffer",
        ("_codecs", "encode"): "encode",
        ("__builtin__", "bytes"): "bytes",  # protocol 2's empty bytes value
        ("builtins", "bytes"): "bytes",
    }

    def __init__(self, file, encoding="bytes"):
        if encoding != "bytes":
            raise ValueError("only encoding='bytes' is supported")
        self.file = file

    def load(self):
        """Return the unpickled object; raise pickle.UnpicklingError for
        anything else."""
        machine = _Machine()
        try:
            return machine.run(self.file)
        except pickle.UnpicklingError:
            raise
        except MemoryError:
            why = "needs more memory than this process may use"
        except RecursionError:
            why = "nested too deeply to read"
        except (ValueError, TypeError, OverflowError, KeyError, IndexError,
                UnicodeError, EOFError) as err:
            # pickletools reports a damaged file (truncation, bad lengths) this
            # way; its text can quote the file, so only a pickle's own numbers
            # are shown.
            why = f"damaged pickle ({machine.where(err)})"
        raise pickle.UnpicklingError(why) from None


def refuse(why):
    raise pickle.UnpicklingError(why)


class _Global:
    def __init__(self, role):
        self.role = role


class _Pending:
    """A dtype or an array made by REDUCE, waiting for its one BUILD."""

    def __init__(self, kind, value=None):
        self.kind, self.value, self.built = kind, value, False


def _shape(value):
    if not isinstance(value, tuple) or len(value) > 4 or not all(
            type(n) is int and 0 <= n <= MAX_FILE_BYTES for n in value):
        refuse("array shape is not a short tuple of sizes")
    return value


def _dtype(value):
    if (isinstance(value, _Pending) and value.kind == "dtype"
            and value.value is not None):
        return value.value
    if isinstance(value, np.dtype):
        return value
    refuse("array type is not a plain integer dtype")


def _array(raw, dtype, shape, order):
    """An array from exactly the bytes its shape and dtype need: no strides, no
    objects."""
    if not isinstance(raw, (bytes, bytearray)):
        refuse("array data is not raw bytes (object arrays are refused)")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        refuse(
            f"array of shape {shape} needs "
            f"{math.prod(shape) * dtype.itemsize} bytes, file has {len(raw)}"
        )
    return np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order=order)


# Approximate bytes CPython needs per built value, for the machine's memory
# count.
SLOT, OBJECT, MEMO_ENTRY = 8, 56, 64
CONTAINERS = (tuple, list, dict)


class _Machine:
    """The pickle virtual machine, cut down to what a CIFAR-10 batch uses."""

    def __init__(self):
        self.stack, self.marks, self.memo = [], [], {}
        # id -> [depth, sealed] of each container built; `kept` holds them
        # alive, so that an id is never reused while the machine runs.
        self.nesting, self.kept = {}, []
        self.used, self.budget, self.quote = 0, BUDGET_MARGIN, False
        self.position, self.opcode = 0, None

    def run(self, file):
        start = file.tell()
        size = file.seek(0, io.SEEK_END) - start
        file.seek(start)
        self.budget = BUDGET_PER_FILE_BYTE * size + BUDGET_MARGIN
        self.quote = file.read(1) == pickle.PROTO
        file.seek(start)
        for count, (op, arg, position) in enumerate(pickletools.genops(file)):
            if count >= MAX_OPCODES:
                refuse(f"more than {MAX_OPCODES} opcodes")
            self.position, self.opcode = position, op.name
            name = op.name
            if name == "STOP":
                if len(self.stack) != 1 or self.marks:
                    refuse("stack not empty at STOP")
                return self.finished(self.stack[0])
            handler = getattr(self, "op_" + name, None)
            if handler is None:
                refuse(f"opcode {name} is not used by CIFAR-10 batches")
            handler(arg)
        refuse("no STOP opcode")

    def where(self, err):
        """Where a damaged file broke, without its text unless it is a pickle.
        """
        at = f"{type(err).__name__} after byte {self.position}"
        return f"{at}: {shown(err, 100)}" if self.quote else at

    def shown(self, value):
        """A value from the file for a message: quoted only if the file is a
        pickle."""
        if not isinstance(value, (str, bytes, int)):
            return f"a {type(value).__name__}"
        return shown(value) if self.quote else "(not shown: no pickle header)"

    # -- bounds: memory and nesting
    def spend(self, size):
        self.used += size
        if self.used > self.budget:
            refuse(f"builds more than {self.budget} bytes of values "
                   f"({BUDGET_PER_FILE_BYTE} times the file's size plus "
                   f"{BUDGET_MARGIN // 2**20} MiB)")

    @staticmethod
    def cost(value):
        if isinstance(value, (str, bytes, bytearray)):
            return OBJECT + len(value)
        if type(value) is int and -5 <= value <= 256:
            return 0  # CPython keeps one copy of each small integer
        return OBJECT

    def depth(self, value):
        if type(value) in CONTAINERS:
            return self.nesting.get(id(value), (0, False))[0]
        return 0

    def made(self, container, items=()):
        """Register a new container holding `items`; return it."""
        self.spend(OBJECT + SLOT * len(items))
        self.nesting[id(container)] = [1, False]
        self.kept.append(container)
        self.adopt(container, items)
        return container

    def adopt(self, container, items):
        """`container` takes `items` as children: each is sealed, its depth
        counted."""
        entry = self.nesting[id(container)]
        if entry[1]:
            refuse("a list or dict is changed after it was put inside "
                   "another value")
        for item in items:
            if type(item) in CONTAINERS:
                self.nesting[id(item)][1] = True  # its content is now final
            entry[0] = max(entry[0], self.depth(item) + 1)
        if entry[1]:  # it was put inside itself
            refuse("a list or dict contains itself")
        if entry[0] > MAX_NESTING:
            refuse(f"values nested more than {MAX_NESTING} deep")

    def finished(self, value):
        if isinstance(value, dict):
            value = {k: self.finished_value(v) for k, v in value.items()}
        return value

    @staticmethod
    def finished_value(value):
        if isinstance(value, _Pending):
            if value.kind != "array" or not value.built:
                refuse("an array was never given its data")
            return value.value
        return value

    # -- stack helpers
    def pop(self):
        if not self.stack:
            refuse("stack underflow")
        return self.stack.pop()

    def pop_mark(self):
        if not self.marks:
            refuse("no MARK on the stack")
        items, self.stack = self.stack, self.marks.pop()
        return items

    def push(self, value):
        self.stack.append(value)

    def push_new(self, value):
        """Push a string, bytes or number read from the file, counting its
        memory."""
        self.spend(self.cost(value))
        self.push(value)

    # -- framing, marks, memo
    def op_PROTO(self, arg):
        if not 0 <= arg <= 5:
            refuse(f"unsupported pickle protocol {arg}")

    def op_FRAME(self, arg):
        pass

    def op_MARK(self, arg):
        if len(self.marks) >= MAX_MARK_DEPTH:
            refuse(f"nested more than {MAX_MARK_DEPTH} deep")
        self.marks.append(self.stack)
        self.stack = []

    def op_PUT(self, arg):
        if not self.stack:
            refuse("memo of an empty stack")
        if arg not in self.memo:
            self.spend(MEMO_ENTRY)
        self.memo[arg] = self.stack[-1]

    op_BINPUT = op_LONG_BINPUT = op_PUT

    def op_MEMOIZE(self, arg):
        self.op_PUT(len(self.memo))

    def op_GET(self, arg):
        if arg not in self.memo:
            refuse(f"memo entry {self.shown(arg)} is missing")
        self.push(self.memo[arg])

    op_BINGET = op_LONG_BINGET = op_GET

    # -- plain values
    def op_NONE(self, arg):
        self.push(None)

    def op_NEWTRUE(self, arg):
        self.push(True)

    def op_NEWFALSE(self, arg):
        self.push(False)

    def op_INT(self, arg):
        self.push_new(arg)

    op_BININT = op_BININT1 = op_BININT2 = op_LONG = op_INT

    def op_LONG1(self, arg):
        if not -2**63 <= arg < 2**64:
            refuse("integer out of range")
        self.push_new(arg)

    def op_STRING(self, arg):
        # Python 2 `str`: loaded as bytes (encoding="bytes"); pickletools gives
        # latin-1 text.
        self.push_new(
            arg.encode("latin-1") if isinstance(arg, str) else bytes(arg)
        )

    op_BINSTRING = op_SHORT_BINSTRING = op_STRING

    def op_BINBYTES(self, arg):
        self.push_new(bytes(arg))

    op_SHORT_BINBYTES = op_BINBYTES8 = op_BYTEARRAY8 = op_BINBYTES

    def op_UNICODE(self, arg):
        self.push_new(arg)

    op_BINUNICODE = op_SHORT_BINUNICODE = op_BINUNICODE8 = op_UNICODE

    # -- containers
    def op_EMPTY_DICT(self, arg):
        self.push(self.made({}))

    def op_EMPTY_LIST(self, arg):
        self.push(self.made([]))

    def op_EMPTY_TUPLE(self, arg):
        self.push(self.made(()))

    def tuple_of(self, items):
        items = tuple(items)
        return self.made(items, items)

    def op_TUPLE(self, arg):
        self.push(self.tuple_of(self.pop_mark()))

    def op_TUPLE1(self, arg):
        self.push(self.tuple_of([self.pop()]))

    def op_TUPLE2(self, arg):
        b, a = self.pop(), self.pop()
        self.push(self.tuple_of([a, b]))

    def op_TUPLE3(self, arg):
        c, b, a = self.pop(), self.pop(), self.pop()
        self.push(self.tuple_of([a, b, c]))

    def op_LIST(self, arg):
        items = self.pop_mark()
        self.push(self.made(items, items))

    def op_DICT(self, arg):
        self.push(self.made({}))
        self.set_items(self.stack[-1], self.pop_mark_under())

    def pop_mark_under(self):
        target = self.pop()
        items = self.pop_mark()
        self.push(target)
        return items

    def op_APPEND(self, arg):
        self.append_items([self.pop()])

    def op_APPENDS(self, arg):
        self.append_items(self.pop_mark())

    def append_items(self, items):
        if not self.stack or type(self.stack[-1]) is not list:
            refuse("APPEND to something that is not a list")
        self.spend(SLOT * len(items))
        self.adopt(self.stack[-1], items)
        self.stack[-1].extend(items)

    def op_SETITEM(self, arg):
        value, key = self.pop(), self.pop()
        self.set_items(self.top_dict(), [key, value])

    def op_SETITEMS(self, arg):
        items = self.pop_mark()
        self.set_items(self.top_dict(), items)

    def top_dict(self):
        if not self.stack or type(self.stack[-1]) is not dict:
            refuse("SETITEM on something that is not a dict")
        return self.stack[-1]

    def set_items(self, target, items):
        if len(items) % 2:
            refuse("odd number of dict items")
        self.spend(3 * SLOT * len(items))
        self.adopt(target, items)
        for key, value in zip(items[::2], items[1::2]):
            # str and bytes hash with a per-process secret: no crafted
            # collisions.
            if type(key) not in (str, bytes):
                refuse("dict key is not a string")
            if key in target:
                refuse(f"dict key {self.shown(key)} appears twice")
            target[key] = value
            if len(target) > MAX_DICT_KEYS:
                refuse(f"dict with more than {MAX_DICT_KEYS} keys")

    # -- the few calls a batch needs
    def op_GLOBAL(self, arg):
        module, _, name = arg.partition(" ")
        self.push_global(module, name)

    def op_STACK_GLOBAL(self, arg):
        name, module = self.pop(), self.pop()
        if type(name) is not str or type(module) is not str:
            refuse("STACK_GLOBAL needs two strings")
        self.push_global(module, name)

    def push_global(self, module, name):
        role = RestrictedUnpickler.GLOBALS.get((module, name))
        if role is None:
            refuse(f"refusing to load global {self.shown(module)}."
                   f"{self.shown(name)}")
        self.push(_Global(role))

    def op_REDUCE(self, arg):
        args, func = self.pop(), self.pop()
        if not isinstance(func, _Global) or type(args) is not tuple:
            refuse("REDUCE of something that is not an allowed global")
        call = getattr(self, "call_" + func.role, self.call_refused)
        result = call(*args)
        self.spend(self.cost(result) if func.role == "encode" else OBJECT)
        self.push(result)

    def call_refused(self, *args):
        refuse("numpy.ndarray is only allowed as the argument of _reconstruct")

    @staticmethod
    def call_encode(text=None, encoding=None, *rest):
        if (type(text) is not str or encoding not in ("latin1", "latin-1")
                or rest):
            refuse("_codecs.encode is only allowed as encode(text, 'latin1')")
        # one byte per character: no bigger than the file
        return text.encode("latin-1")

    @staticmethod
    def call_bytes(*args):
        if args:
            refuse("bytes() is only allowed without arguments")
        return b""

    def call_dtype(self, name=None, align=False, copy=True, *rest):
        # The type first: only then may the name be hashed, compared or shown.
        if type(name) not in (str, bytes):
            refuse(f"dtype name is {self.shown(name)}, not a string")
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if (name not in DTYPES or rest or align not in (0, 1)
                or copy not in (0, 1)):
            refuse(f"dtype {self.shown(name)} is not a plain integer type")
        return _Pending("dtype", np.dtype(name))

    @staticmethod
    def call_reconstruct(cls=None, shape=None, typecode=None, *rest):
        if not (isinstance(cls, _Global) and cls.role == "ndarray") \
                or shape != (0,) or typecode not in (b"b", "b") or rest:
            refuse("_reconstruct is only allowed as "
                   "_reconstruct(ndarray, (0,), b'b')")
        return _Pending("array")

    @staticmethod
    def call_frombuffer(raw=None, dtype=None, shape=None, order=None, *rest):
        if order not in ("C", "F") or rest:
            refuse("_frombuffer order must be 'C' or 'F'")
        return _array(raw, _dtype(dtype), _shape(shape), order)

    def op_BUILD(self, arg):
        state = self.pop()
        if (not self.stack or not isinstance(self.stack[-1], _Pending)
                or self.stack[-1].built):
            refuse("BUILD is only allowed once, on a new dtype or array")
        target = self.stack[-1]
        target.built = True
        if target.kind == "dtype":
            # The state NumPy writes for a plain number type; anything else
            # (fields, a subarray, another item size: how a dtype is turned into
            # an object pointer) is refused. The dtype itself was made from its
            # name alone.
            if type(state) is not tuple or len(state) not in (8, 9) \
                    or state[0] not in (3, 4) \
                    or state[1] not in ("|", "<", "=", b"|", b"<", b"=") \
                    or state[2:8] != (None, None, None, -1, -1, 0):
                refuse("dtype state is not that of a plain number type")
            return
        if type(state) is not tuple or len(state) != 5 or state[0] != 1 \
                or state[3] not in (0, 1):
            refuse("array state is not (1, shape, dtype, fortran, data)")
        _, shape, dtype, fortran, raw = state
        target.value = _array(
            raw, _dtype(dtype), _shape(shape), "F" if fortran else "C"
        )
# --8<-- [end:unpickler]


# --8<-- [start:read]
def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def one_line(err):
    """An exception as `Type: text` on one line, for DataError messages."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def file_kind(mode):
    for test, kind in ((stat.S_ISDIR, "a directory"),
                       (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a regular file"


def read_bytes(path):
    """The bytes of a regular file of at most MAX_FILE_BYTES; DataError
    otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the type is
        # checked next.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise DataError(
            f"{path}: cannot read ({err.strerror or one_line(err)})"
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise DataError(
            f"{path}: is {file_kind(info.st_mode)}, not a regular file"
        )
    with open(fd, "rb") as f:
        if info.st_size > MAX_FILE_BYTES:
            raise DataError(
                f"{path}: {info.st_size} bytes is too large for a CIFAR-10 "
                f"batch (at most {MAX_FILE_BYTES})"
            )
        try:
            raw = f.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            raise DataError(
                f"{path}: cannot read ({err.strerror or one_line(err)})"
            ) from None
    if len(raw) > MAX_FILE_BYTES:  # grew while we read it
        raise DataError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    return raw


def parse_batch(raw, path):
    """Return (images, labels) from the bytes of one batch file."""
    try:
        batch = RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except pickle.UnpicklingError as err:
        # A damaged or crafted pickle: truncation, a bad opcode, a refused
        # global, a size that does not match. Each is bad data, reported in one
        # line.
        raise DataError(f"{path}: not a readable CIFAR-10 batch "
                        f"(UnpicklingError: {shown(err, 200)})") from None
    if not isinstance(batch, dict):
        raise DataError(f"{path}: not a CIFAR-10 batch (expected a dict)")
    named = {
        k.decode("latin-1") if isinstance(k, bytes) else k: v
        for k, v in batch.items()
    }
    # both 'data' and b'data': which one would be meant?
    if len(named) != len(batch):
        raise DataError(f"{path}: a key appears both as text and as bytes")
    batch = named
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 \
            or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' is not an N x 3072 uint8 array")
    if len(data) == 0:
        raise DataError(f"{path}: holds no images")
    # A list of Python ints (as the official files hold) or a 1-D integer array.
    if isinstance(labels, list) and all(type(v) is int for v in labels):
        labels = (
            np.array(labels, dtype=np.int64)
            if all(0 <= v <= 9 for v in labels)
            else None
        )
    elif not (isinstance(labels, np.ndarray) and labels.dtype.kind in "iu"
              and labels.ndim == 1):
        labels = None
    if labels is None or labels.shape != (len(data),) or labels.min() < 0 \
            or labels.max() > 9:
        raise DataError(
            f"{path}: 'labels' must be {len(data)} class ids in 0..9"
        )
    # Stored channels-first (3 planes of 32x32); Keras wants channels-last.
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int64)


def read_batch(path):
    """Return (images, labels) of one batch file: uint8 (N, 32, 32, 3) and int64
    (N,)."""
    return parse_batch(read_bytes(path), path)


def find_folder(data_dir):
    """Accept the extracted `cifar-10-batches-py` folder itself or the folder
    holding it."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        problem = (
            "not a directory" if data_dir.exists() else "no such directory"
        )
        raise DataError(f"--data-dir {data_dir}: {problem}")
    return data_dir / FOLDER if (data_dir / FOLDER).is_dir() else data_dir


def check_files(folder):
    missing = [
        n for n in TRAIN_FILES + [TEST_FILE] if not (folder / n).exists()
    ]
    if missing:
        raise DataError(
            f"{folder}: missing CIFAR-10 file(s) {', '.join(missing)}"
        )


def load_from_dir(data_dir):
    """Read the official layout; return ((x_train, y_train), (x_test, y_test)),
    sha256 per file."""
    folder = find_folder(data_dir)
    check_files(folder)
    parts, hashes = [], {}
    for name in TRAIN_FILES + [TEST_FILE]:
        # read once: the hash is of the bytes parsed
        raw = read_bytes(folder / name)
        hashes[name] = hashlib.sha256(raw).hexdigest()
        parts.append(parse_batch(raw, folder / name))
        del raw
    x_train = np.concatenate([x for x, _ in parts[:-1]])
    y_train = np.concatenate([y for _, y in parts[:-1]])
    x_test, y_test = parts[-1]
    return ((x_train, y_train), (x_test, y_test)), hashes
# --8<-- [end:read]


def load_from_keras():
    """Download (or reuse Keras' cache of) the official archive."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as err:  # urllib, SSL and HTTP errors all land here
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(f"could not download CIFAR-10 ({reason}); download "
                        "cifar-10-python.tar.gz elsewhere, extract it, and pass "
                        "--data-dir DIR") from None
    cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"
    hashes = {p.name: sha256(p) for p in sorted(cache.rglob("*_batch*")) if p.is_file()}
    return ((x_train, y_train.ravel()), (x_test, y_test.ravel())), hashes


# --8<-- [start:prepare]
def scale(images):
    """Map uint8 pixels in [0, 255] to float32 in [0, 1]."""
    return images.astype("float32") / 255.0


def split_validation(x, y, fraction, seed):
    """Hold out a shuffled `fraction` of the training set for validation.

    The test set is never used to choose anything: it is evaluated once, at the
    end.
    """
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(len(x) * fraction)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])
# --8<-- [end:prepare]


def load(data_dir=None):
    """CIFAR-10 from `data_dir` (no TensorFlow needed) or from Keras' download.

    Returns ((x_train, y_train), (x_test, y_test)), a description of the source, and
    the sha256 of each file read.
    """
    if data_dir is None:
        splits, hashes = load_from_keras()
        return splits, "keras.datasets.cifar10.load_data()", hashes
    splits, hashes = load_from_dir(data_dir)
    return splits, f"--data-dir {find_folder(data_dir).name} (official layout)", hashes
