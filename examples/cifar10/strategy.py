"""--strategy: train on one device, on every GPU of a machine, or on several machines.

default      TensorFlow's default strategy: one replica, as without tf.distribute.
mirrored     tf.distribute.MirroredStrategy over every visible GPU; without a GPU, over
             the logical CPU devices the process has set up (one, unless it split the CPU).
multiworker  tf.distribute.MultiWorkerMirroredStrategy; the cluster and this worker's task
             come from the TF_CONFIG environment variable. Keras 3's model.fit fails under
             this strategy (keras-team/keras#20585), so it trains with the custom loop below.
             Worker 0, the chief, writes the outputs; the others only train.

TensorFlow is imported inside the functions: `check` runs before TensorFlow loads.
"""
import json
import os
import time
from dataclasses import dataclass

from examples.cifar10.data import DataError

CHOICES = ("default", "mirrored", "multiworker")
HELP = ("default: one device; mirrored: every visible GPU of this machine; multiworker: "
        "the cluster in the TF_CONFIG environment variable (worker 0 writes the outputs) "
        "(default: %(default)s)")


def check(name, environ=os.environ):
    """Raise DataError, in one line, if `name` cannot start here (before TensorFlow loads)."""
    if name != "multiworker":
        return
    text = environ.get("TF_CONFIG")
    if not text:
        raise DataError("--strategy multiworker needs the TF_CONFIG environment variable: "
                        "the cluster's workers and this worker's index (see README)")
    try:
        config = json.loads(text)
        workers = config["cluster"]["worker"]
        task = config["task"]
        chiefs = config["cluster"].get("chief", [])
        index = task.get("index")
        ok = (isinstance(workers, list) and workers and isinstance(chiefs, list)
              and task.get("type") in ("worker", "chief")
              and type(index) is int and 0 <= index < len(
                  workers if task["type"] == "worker" else chiefs))
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        ok = False  # RecursionError: JSON nested deeper than Python's parser goes
    if not ok:
        raise DataError('TF_CONFIG must be JSON like {"cluster": {"worker": ["host1:port", '
                        '"host2:port"]}, "task": {"type": "worker", "index": 0}}, the index '
                        'one of the workers\' positions in the list')


@dataclass
class Setup:
    name: str
    strategy: object  # a tf.distribute.Strategy
    chief: bool  # whether this process writes the outputs

    @property
    def replicas(self):
        return self.strategy.num_replicas_in_sync

    @property
    def uses_fit(self):
        return self.name != "multiworker"


def make(name):
    """Create the strategy; call it before any other TensorFlow work in the process."""
    import tensorflow as tf

    if name == "default":
        return Setup(name, tf.distribute.get_strategy(), chief=True)
    if name == "mirrored":
        devices = None if tf.config.list_physical_devices("GPU") else \
            [d.name for d in tf.config.list_logical_devices("CPU")]
        return Setup(name, tf.distribute.MirroredStrategy(devices), chief=True)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    resolver = strategy.cluster_resolver
    return Setup(name, strategy, chief=resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()))


def custom_loop(setup, model, train, val, test, epochs, batch_size, seed, quiet):
    """Train and evaluate without model.fit; return (history, seconds, test, flip accuracy).

    `model` was built and compiled inside the strategy's scope; its optimizer is used.
    Each worker reads its own share of the training set (every n-th image), in
    per-replica batches; an epoch is ceil(images / batch_size) global batches on every
    worker, so that no worker runs out before the others. All workers then hold the same
    weights, and each evaluates the whole validation and test sets on its own.
    """
    import numpy as np
    import tensorflow as tf

    strategy = setup.strategy
    if batch_size % setup.replicas:
        raise DataError(f"--batch-size {batch_size} must be a multiple of the "
                        f"{setup.replicas} replicas")
    x_train, y_train = train
    steps = -(-len(x_train) // batch_size)

    def worker_dataset(context):
        share = slice(context.input_pipeline_id, None, context.num_input_pipelines)
        dataset = tf.data.Dataset.from_tensor_slices((x_train[share], y_train[share]))
        return dataset.shuffle(len(x_train), seed=seed).repeat().batch(
            context.get_per_replica_batch_size(batch_size))

    batches = iter(strategy.distribute_datasets_from_function(worker_dataset))
    optimizer = model.optimizer

    def replica_step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x, training=True), tf.float32)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.cast(y, tf.int32),
                                                                    logits)
            loss = tf.nn.compute_average_loss(losses, global_batch_size=batch_size)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))  # all-reduced
        correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(y, tf.int32))
        return tf.reduce_sum(losses), tf.reduce_sum(tf.cast(correct, tf.float32))

    @tf.function
    def train_step(batch):
        sums = strategy.run(replica_step, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in sums]

    @tf.function(reduce_retracing=True)
    def probabilities(x):
        return tf.nn.softmax(tf.cast(model(x, training=False), tf.float32))

    def evaluate(x, y, batch=256):
        """Loss, accuracy and flip-averaged accuracy (as train.flip_averaged_accuracy)."""
        loss = correct = flip_correct = 0.0
        for start in range(0, len(x), batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            p = probabilities(xb).numpy()
            p_flip = probabilities(xb[:, :, ::-1]).numpy()
            loss -= np.log(np.maximum(p[np.arange(len(yb)), yb], 1e-12)).sum()
            correct += (p.argmax(-1) == yb).sum()
            flip_correct += ((p + p_flip).argmax(-1) == yb).sum()
        return float(loss / len(x)), float(correct / len(x)), float(flip_correct / len(x))

    history = {"accuracy": [], "loss": [], "val_accuracy": [], "val_loss": []}
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        loss = correct = 0.0
        for _ in range(steps):
            step_loss, step_correct = (float(v) for v in train_step(next(batches)))
            loss, correct = loss + step_loss, correct + step_correct
        val_loss, val_accuracy, _ = evaluate(*val)
        seconds.append(time.perf_counter() - start)
        seen = steps * batch_size
        for key, value in (("loss", loss / seen), ("accuracy", correct / seen),
                           ("val_loss", val_loss), ("val_accuracy", val_accuracy)):
            history[key].append(value)
        if not quiet:
            print(f"epoch {epoch + 1}/{epochs}: loss {loss / seen:.4f}, accuracy "
                  f"{correct / seen:.4f}, val_loss {val_loss:.4f}, val_accuracy "
                  f"{val_accuracy:.4f} ({seconds[-1]:.1f} s)", flush=True)
    test_loss, test_accuracy, test_flip_accuracy = evaluate(*test)
    return history, seconds, (test_loss, test_accuracy), test_flip_accuracy
