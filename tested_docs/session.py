"""Process-wide state a page may change, put back around each page.

Pages run one after another in one test process, while each reader runs a page in a
fresh session. What one page does to Python's builtins or to the logging setup
(a ``logging.warning`` call adds a handler to the root logger; ``setLevel`` silences a
logger) must not change what the next page prints.
"""
import builtins
import gc
import logging

_baseline = {}


def _loggers():
    yield logging.getLogger()
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            yield logger


def _own(handlers):
    """The handlers a session has, without the test runner's capture handlers."""
    return [h for h in handlers if not type(h).__module__.startswith("_pytest")]


def remember_logging():
    """Take the logging setup of a session that has imported TensorFlow as the one every
    page starts from (call once, after TensorFlow is imported)."""
    _baseline["disable"] = logging.root.manager.disable
    _baseline["loggers"] = {id(logger): (logger, logger.level, _own(logger.handlers),
                                         logger.propagate, logger.disabled)
                            for logger in _loggers()}


def restore_logging():
    """Back to the remembered setup: handlers a page added go, levels come back."""
    if not _baseline:
        return
    logging.disable(_baseline["disable"])
    known = _baseline["loggers"]
    for logger in _loggers():
        if id(logger) not in known:
            continue
        logger, level, handlers, propagate, disabled = known[id(logger)]
        runner = [h for h in logger.handlers if h not in _own(logger.handlers)]
        logger.handlers[:] = handlers + runner
        logger.setLevel(level)
        logger.propagate, logger.disabled = propagate, disabled


def builtins_now():
    return dict(vars(builtins))


def restore_builtins(saved):
    """Put back every builtin a page replaced, and drop those it added."""
    current = vars(builtins)
    for name in [n for n in current if n not in saved]:
        del current[name]
    current.update(saved)


def fresh_retracing_counts():
    """TensorFlow's retracing warning ("5 out of the last 5 calls to ... triggered
    tf.function retracing") comes from counts it keeps per function *code* for the whole
    process, and every Keras model's train and predict functions share one code. In one
    test process those counts would carry over from the pages run before, while a reader
    runs each page in a fresh one: start each page with none. (Private TensorFlow state,
    read defensively: if it moves, nothing is reset and a test shows the difference.)"""
    import sys

    module = sys.modules.get(
        "tensorflow.python.eager.polymorphic_function.polymorphic_function")
    manager = getattr(module, "_frequent_tracing_detector_manager", None)
    detectors = getattr(manager, "_detectors", None)
    if detectors is not None:
        with manager._lock:
            detectors.clear()


def freeze_what_exists():
    """Keep the garbage collector off the objects that exist before a page starts.

    After TensorFlow, Keras and the previous pages, the process holds some 450,000
    objects or more, and every full collection walks all of them again (about 0.2 s
    each); a page that builds and fits a few models triggers several. Collect (what is
    not frozen yet: the garbage since the last freeze), then freeze the survivors: the
    page's own collections then walk only what the page made.

    Returns whether this call started the freeze (nothing was frozen before). Only then
    does `unfreeze(started)` at the page's end hand everything back to the collector;
    inside a freeze that began earlier (the test runner's, around a whole file), the
    objects stay frozen until that one ends."""
    started = gc.get_freeze_count() == 0
    gc.collect()
    gc.freeze()
    return started


def unfreeze(started=True):
    if started:
        gc.unfreeze()
