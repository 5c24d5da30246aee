"""Random opcode streams for the batch loader (run by test_cifar10_loader_property.py).

    python -m tests.loader_streams EXAMPLES

Hypothesis writes pickles from the opcodes an attacker can use against the loader: the
memo (PUT, GET, MEMOIZE), tuples of every size, lists, dicts, marks, strings, numbers,
the allowed globals and REDUCE (`_codecs.encode`, `numpy.dtype`, `_reconstruct`), with
runs of a segment repeated to reach deep nesting and amplification. Each stream must load
or be refused with a one-line `pickle.UnpicklingError`; any other exception fails here,
and a crash or a blown memory limit kills this process, which the test sees as a signal.
"""
import io
import pickle as P
import struct
import sys
import tracemalloc

from hypothesis import HealthCheck, Verbosity, given, settings
from hypothesis import strategies as st

from examples.cifar10 import data


def text_op(text):
    raw = text.encode("utf-8", "surrogatepass")
    return P.BINUNICODE + struct.pack("<I", len(raw)) + raw


def bytes_op(raw):
    return P.SHORT_BINBYTES + bytes([len(raw)]) + raw


GLOBALS = [P.GLOBAL + f"{m}\n{n}\n".encode() for m, n in (
    ("_codecs", "encode"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("builtins", "bytes"), ("numpy._core.numeric", "_frombuffer"))]

SINGLE = [P.MARK, P.TUPLE, P.TUPLE1, P.TUPLE2, P.TUPLE3, P.EMPTY_TUPLE, P.EMPTY_LIST,
          P.LIST, P.APPEND, P.APPENDS, P.EMPTY_DICT, P.DICT, P.SETITEM, P.SETITEMS,
          P.REDUCE, P.BUILD, P.MEMOIZE, P.NONE, P.NEWTRUE, P.NEWFALSE, P.POP, P.STOP]

opcode = st.one_of(
    st.sampled_from(SINGLE),
    st.sampled_from(GLOBALS),
    st.integers(0, 7).map(lambda n: P.BINPUT + bytes([n])),
    st.integers(0, 7).map(lambda n: P.BINGET + bytes([n])),
    st.integers(-2**31, 2**31 - 1).map(lambda n: P.BININT + struct.pack("<i", n)),
    st.sampled_from(["latin1", "u1", "b", "C", "data", "labels"]).map(text_op),
    st.integers(0, 4096).map(lambda n: text_op("A" * n)),
    st.binary(max_size=40).map(bytes_op),
)

# A segment of a few opcodes, repeated: deep or wide in few bytes.
segment = st.tuples(st.lists(opcode, min_size=1, max_size=6),
                    st.sampled_from([2, 10, 1000, 30_000])).map(
    lambda parts: b"".join(parts[0]) * parts[1])

# A value nested `depth` deep by one kind of container, then handed to a call: how a
# deep tuple once reached a dtype name and was hashed.
WRAP = {"tuple1": (b"", P.TUPLE1), "tuple": (P.MARK, P.TUPLE),
        "list": (P.EMPTY_LIST + P.BINPUT + b"\x07" + P.POP + P.BINGET + b"\x07",
                 P.APPEND),
        "dict": (P.EMPTY_DICT + text_op("k"), P.SETITEM)}
nested = st.tuples(st.sampled_from(sorted(WRAP)), st.sampled_from([1, 3, 9, 1000, 150_000]),
                   opcode).map(lambda p: WRAP[p[0]][0] * p[1] + p[2] + WRAP[p[0]][1] * p[1])
call = st.tuples(st.sampled_from(GLOBALS), st.lists(st.one_of(opcode, nested), max_size=3),
                 st.sampled_from([P.TUPLE1, P.TUPLE2, P.TUPLE3])).map(
    lambda p: p[0] + b"".join(p[1]) + p[2] + P.REDUCE)

# A memoised function and text, called again and again, each result kept.
amplified = st.tuples(st.sampled_from(GLOBALS), st.sampled_from([1, 4096, 2**20]),
                      st.sampled_from([10, 2000])).map(
    lambda p: P.EMPTY_LIST + p[0] + P.BINPUT + b"\x00" + text_op("A" * p[1])
    + text_op("latin1") + P.TUPLE2 + P.BINPUT + b"\x01" + P.TUPLE2 + P.APPEND
    + (P.BINGET + b"\x00" + P.BINGET + b"\x01" + P.REDUCE + P.APPEND) * p[2])

stream = st.lists(st.one_of(opcode, segment, nested, call, amplified), max_size=12).map(
    lambda parts: P.PROTO + b"\x02" + b"".join(parts) + P.STOP)

# What the loader may hold besides the file: its docstring's bound, with room for the
# parser's own buffers.
ALLOWED = {"per_byte": 10, "margin": 4 * 2**20}


def described(payload):
    return f"{len(payload)} bytes starting {payload[:60]!r}"


def check(payload):
    tracemalloc.start()
    try:
        data.RestrictedUnpickler(io.BytesIO(payload)).load()
    except P.UnpicklingError as err:
        message = str(err)
        assert message and "\n" not in message and message.isprintable(), \
            (repr(message), described(payload))
        # An exception that lost its text, as a MemoryError once did:
        assert not message.endswith("()"), (message, described(payload))
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    allowed = ALLOWED["per_byte"] * len(payload) + ALLOWED["margin"]
    assert peak <= allowed, f"{described(payload)} made the loader hold {peak} bytes"


def main(examples):
    # Quiet: a failing stream can be megabytes; the assertion describes it instead.
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              verbosity=Verbosity.quiet,
              suppress_health_check=list(HealthCheck))
    @given(stream)
    def loaded_or_refused_in_one_line(payload):
        check(payload)

    loaded_or_refused_in_one_line()
    print(f"{examples} streams: each loaded or refused in one line")


if __name__ == "__main__":
    main(int(sys.argv[1]))
