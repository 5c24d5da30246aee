"""One training run from data to published files."""
import datetime
import os
import platform
from pathlib import Path

import keras
import tensorflow as tf

from examples.cifar10 import data, pipeline, provenance, report, schema, train
from examples.cifar10 import strategy as distribute


def describe_device():
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus]
        return "GPU: " + ", ".join(names)
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown") \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return f"CPU: {model} ({len(tf.config.list_physical_devices('CPU'))} device, " \
           f"{os.cpu_count()} cores)"


def record(*, model, parameters, epochs, batch_size, seed, precision, data, history, seconds,
           test_loss, test_accuracy, flip_accuracy, command, strategy="default", replicas=1,
           pipeline_seconds=None):
    """The metrics.json of one run (the command line's, or the case-study notebook's)."""
    history = {k: [float(v) for v in vs] for k, vs in history.items()
               if k in ("accuracy", "loss", "val_accuracy", "val_loss")}
    return {
        "model": model,
        "parameters": parameters,
        "epochs": epochs,
        "batch_size": batch_size,
        "seed": seed,
        "precision": precision,
        "strategy": strategy,
        "replicas": replicas,
        "data": data,
        "versions": {"python": platform.python_version(), "tensorflow": tf.__version__,
                     "keras": keras.__version__},
        "device": describe_device(),
        "seconds_per_epoch": [round(s, 2) for s in seconds],
        "total_training_seconds": round(sum(seconds), 1),
        # One pass over the tf.data pipeline alone, before training: what feeding costs.
        **({"pipeline_seconds_per_epoch": round(pipeline_seconds, 2)}
           if pipeline_seconds is not None else {}),
        "history": history,
        "final": {
            "train": {"accuracy": history["accuracy"][-1], "loss": history["loss"][-1]},
            "validation": {"accuracy": history["val_accuracy"][-1],
                           "loss": history["val_loss"][-1]},
            "test": {"accuracy": float(test_accuracy), "loss": float(test_loss)},
            "test_flip_averaged": {"accuracy": float(flip_accuracy)},
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
    }


def run(args, dataset=None):
    """Train, evaluate once on the test set, and write the outputs; return the metrics."""
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow does other work.
    setup = distribute.make(getattr(args, "strategy", "default"))
    batch_size = args.batch_size or train.BATCH_SIZES[args.model]
    precision = train.choose_precision(args.precision, args.model)
    ((x_train, y_train), (x_test, y_test)), source, hashes = dataset or data.load(None)
    keras.utils.set_random_seed(args.seed)
    keras.mixed_precision.set_global_policy(precision)
    x_train, x_test = data.scale(x_train), data.scale(x_test)
    train_xy, val_xy = data.split_validation(x_train, y_train, args.validation_fraction,
                                             args.seed)
    steps = -(-len(train_xy[0]) // batch_size)
    with setup.strategy.scope():  # the variables of model and optimizer are mirrored
        model = train.build_and_compile(args.model, steps, args.epochs, x_fit=train_xy[0])
    pipeline_seconds = None
    if setup.uses_fit:
        fit_data = train_xy
        if args.model == "improved":  # augmented in tf.data, outside the model
            fit_data = pipeline.training_pipeline(*train_xy, batch_size, args.seed)
            pipeline_seconds = pipeline.seconds_per_epoch(fit_data)
        history, seconds = train.fit(model, fit_data, val_xy, args.epochs, batch_size,
                                     args.quiet,
                                     train.recipe_callbacks(args.model, steps, args.epochs))
        test_loss, test_acc = model.evaluate(*(x_test, y_test), batch_size=256, verbose=0)
        test_flip_acc = train.flip_averaged_accuracy(model, x_test, y_test)
    else:
        history, seconds, (test_loss, test_acc), test_flip_acc = distribute.custom_loop(
            setup, model, train_xy, val_xy, (x_test, y_test), args.epochs, batch_size,
            args.seed, args.quiet)
    metrics = record(
        model=args.model, parameters=model.count_params(), epochs=args.epochs,
        batch_size=batch_size, seed=args.seed, precision=precision, strategy=setup.name,
        replicas=setup.replicas,
        data={"source": source, "note": args.data_note, "train_images": len(train_xy[0]),
              "validation_images": len(val_xy[0]), "test_images": len(x_test),
              "sha256": hashes},
        history=history, seconds=seconds, test_loss=test_loss, test_accuracy=test_acc,
        flip_accuracy=test_flip_acc, pipeline_seconds=pipeline_seconds,
        command=provenance.published_command("examples.cifar10", args.argv))
    figures = None  # under multiworker, only the chief writes: the others draw nothing
    if setup.chief:
        figures, counts = report.draw_figures(x_train, y_train, x_test, y_test,
                                              train.class_probabilities(model, x_test))
        metrics["confusion_matrix"] = counts.tolist()
        metrics["confusions"] = report.most_confused(counts)
    history = metrics["history"]
    # A diverged run (NaN or infinite loss) or a malformed value stops here, before the
    # old set is touched: the site build would refuse it anyway.
    schema.check_run(metrics)
    args.wrote_outputs = setup.chief  # under multiworker, only the chief writes
    if setup.chief:
        report.write_outputs(args.out, history, metrics, figures)
    return metrics
