"""The improved model's input pipeline in tf.data: shuffle, batch, augment, prefetch."""
import time

import tensorflow as tf

# --8<-- [start:augment]
# pixels of reflected border: crops shift the image by up to 2 pixels each way
PAD = 2


def augment(images, labels):
    """Random 32x32 crops of reflect-padded images, half of them mirrored, per
    batch.

    Working on whole batches (two gathers and a select) costs far less than
    mapping a function over single images.
    """
    shape = tf.shape(images)
    n, height, width = shape[0], shape[1], shape[2]
    padded = tf.pad(images, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]],
                    mode="REFLECT")
    dy = tf.random.uniform([n, 1], 0, 2 * PAD + 1, dtype=tf.int32)
    dx = tf.random.uniform([n, 1], 0, 2 * PAD + 1, dtype=tf.int32)
    # (n, height): the rows each image keeps
    rows = dy + tf.range(height)[tf.newaxis]
    cols = dx + tf.range(width)[tf.newaxis]
    shifted_rows = tf.gather(padded, rows, axis=1, batch_dims=1)
    crops = tf.gather(shifted_rows, cols, axis=2, batch_dims=1)
    mirror = tf.random.uniform([n, 1, 1, 1]) < 0.5
    return tf.where(mirror, tf.reverse(crops, axis=[2]), crops), labels
# --8<-- [end:augment]


# --8<-- [start:pipeline]
PARALLEL_CALLS = 2  # batches augmented at once: one per core of a small machine
PREFETCH_BATCHES = 2  # batches kept ready ahead of the model


def training_pipeline(x, y, batch_size, seed, augmented=True):
    """Batches of augmented training images, in a new order each epoch.

    prefetch lets tf.data prepare the next batches on another thread while the
    model trains on this one. augmented=False is for the ablation.
    """
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
               .batch(batch_size))
    if augmented:
        dataset = dataset.map(augment, num_parallel_calls=PARALLEL_CALLS)
    # No autotuning: on this project's CPU, every other epoch then began with
    # 20-30 s of idle cores, waiting for the last epoch's autotuning thread to
    # stop.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.prefetch(PREFETCH_BATCHES).with_options(options)


def seconds_per_epoch(dataset):
    """How long one pass over `dataset` takes with no model: the pipeline's own
    cost."""
    start = time.perf_counter()
    for _ in dataset:
        pass
    return time.perf_counter() - start
# --8<-- [end:pipeline]
