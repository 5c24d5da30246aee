"""Time a naive and a tuned tf.data pipeline on simulated I/O (the tf.data chapter).

    python -m examples.data_benchmark [--elements 64] [--batch-size 8] [--repeats 5]

Loading an element sleeps `--load-ms` (a file read that waits on the disk) and a training
step sleeps `--step-ms` per batch. Three pipelines: "naive" is map then batch as written
(tf.data's default optimizations already prepare the next batch during the step);
"sequential" is the same with those optimizations off, so nothing overlaps; "tuned" loads
in parallel (`num_parallel_calls`) and prefetches. Prints the best epoch time of each over
`--repeats` alternating runs, the ratios to "tuned", the CPU model and TensorFlow version.
"""
import argparse
import time

import tensorflow as tf

from examples.function_benchmark import cpu_model


def simulated_load(load_seconds):
    """A map function whose element takes `load_seconds` to arrive, like a file read."""
    def wait(index):
        time.sleep(load_seconds)  # sleeping releases the GIL, as waiting for a disk does
        return index

    def load(index):
        return tf.py_function(wait, [index], tf.int64)

    return load


def naive_pipeline(elements, batch_size, load_seconds):
    """map then batch, as written: tf.data's default optimizations still apply."""
    load = simulated_load(load_seconds)
    return tf.data.Dataset.range(elements).map(load).batch(batch_size)


def sequential_pipeline(elements, batch_size, load_seconds):
    """The naive pipeline with tf.data's default optimizations off: nothing overlaps."""
    options = tf.data.Options()
    options.experimental_optimization.apply_default_optimizations = False
    return naive_pipeline(elements, batch_size, load_seconds).with_options(options)


def tuned_pipeline(elements, batch_size, load_seconds):
    """Parallel loads, and the next batches prepared while the step runs."""
    load = simulated_load(load_seconds)
    return (tf.data.Dataset.range(elements)
            .map(load, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE))


PIPELINES = {"sequential": sequential_pipeline, "naive": naive_pipeline,
             "tuned": tuned_pipeline}


def epoch_seconds(dataset, step_seconds):
    """Wall time of one pass over `dataset`, with a simulated training step per batch."""
    start = time.perf_counter()
    for _ in dataset:
        time.sleep(step_seconds)
    return time.perf_counter() - start


def compare(elements=64, batch_size=8, load_ms=2.0, step_ms=10.0, repeats=5):
    """{pipeline name: best epoch seconds} over `repeats` alternating runs."""
    datasets = {name: make(elements, batch_size, load_ms / 1000)
                for name, make in PIPELINES.items()}
    runs = {name: [] for name in datasets}
    for _ in range(repeats):
        for name, dataset in datasets.items():
            runs[name].append(epoch_seconds(dataset, step_ms / 1000))
    return {name: min(seconds) for name, seconds in runs.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m examples.data_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=64, help="elements per epoch")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--load-ms", type=float, default=2.0, help="simulated load per element")
    parser.add_argument("--step-ms", type=float, default=10.0, help="simulated step per batch")
    parser.add_argument("--repeats", type=int, default=5, help="epochs of each; the best counts")
    args = parser.parse_args(argv)
    if min(args.elements, args.batch_size, args.repeats) < 1:
        parser.error("--elements, --batch-size and --repeats must be at least 1")
    if not 0 <= args.load_ms <= 1000 or not 0 <= args.step_ms <= 1000:
        parser.error("--load-ms and --step-ms must be between 0 and 1000")
    best = compare(args.elements, args.batch_size, args.load_ms, args.step_ms, args.repeats)
    for name, seconds in best.items():
        print(f"{name + ':':11} {seconds * 1000:7.1f} ms per epoch")
    for name in ("sequential", "naive"):
        print(f"{name + '/tuned:':17} {best[name] / best['tuned']:5.1f}x")
    print(f"CPU: {cpu_model()}; TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
