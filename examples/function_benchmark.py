"""Time one small computation run eagerly and as a tf.function (the tf.function chapter).

    python -m examples.function_benchmark [--calls 50] [--repeats 100]

Prints the best time per call of each, their ratio, the CPU model and the TensorFlow
version. The chapter states the ratio this command printed on the build machine.
"""
import argparse
import platform
import timeit
from pathlib import Path

import tensorflow as tf


def tanh_chain(x):
    """Forty small operations: eager execution pays Python's overhead on each."""
    for _ in range(20):
        x = tf.tanh(x) * 0.5
    return x


def compare(calls=50, repeats=100):
    """Best seconds per call (eager, tf.function) of `repeats` alternating timing runs.

    The runs alternate, so that both ways see the same load on a shared machine, and the
    best run of each is the least disturbed by other processes: many short runs give the
    best run a good chance of a quiet moment.
    """
    x = tf.random.normal([10, 10], seed=1)
    graph = tf.function(tanh_chain)
    graph(x)  # the first call traces: keep it out of the timing
    eager_runs, graph_runs = [], []
    for _ in range(repeats):
        eager_runs.append(timeit.timeit(lambda: tanh_chain(x), number=calls) / calls)
        graph_runs.append(timeit.timeit(lambda: graph(x), number=calls) / calls)
    return min(eager_runs), min(graph_runs)


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m examples.function_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50, help="calls per timing run")
    parser.add_argument("--repeats", type=int, default=100,
                        help="timing runs of each; the best counts")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.repeats < 1:
        parser.error("--calls and --repeats must be at least 1")
    eager, graph = compare(args.calls, args.repeats)
    print(f"eager:       {eager * 1e6:8.1f} µs per call")
    print(f"tf.function: {graph * 1e6:8.1f} µs per call")
    print(f"ratio:       {eager / graph:8.1f}x")
    print(f"CPU: {cpu_model()}; TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
