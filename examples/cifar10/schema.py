"""One schema for plots/*.json: what a run's metrics.json and benchmark.json may hold.

The CLI checks its metrics against it before writing them, and the site build checks
every file before publishing a number from it. A problem is one line that names the
key: `final.test.accuracy: nan is not a finite number`.
"""
import json
import math
import re


class SchemaError(ValueError):
    """Metrics that must not be published; the message names the key."""


# --- building blocks: each returns a checker `check(value, where)` --------------------------

def number(low, high, integer=False):
    """A number in [low, high]: a finite float, or an int (compared exactly, never
    converted, so that a 400-digit integer is out of range, not an OverflowError)."""
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
            fail(where, f"expected {'a whole number' if integer else 'a number'}, "
                        f"got {kind(value)}")
        if isinstance(value, float) and not math.isfinite(value):
            fail(where, f"{value} is not a finite number")
        if not low <= value <= high:
            fail(where, f"{shown_number(value)} is outside [{low}, {high}]")
    return check


def shown_number(value):
    if isinstance(value, int) and abs(value) >= 10**20:
        return f"a {len(str(abs(value)))}-digit integer"
    return repr(value)


def text(max_length=2000, pattern=None):
    def check(value, where):
        if not isinstance(value, str):
            fail(where, f"expected text, got {kind(value)}")
        if len(value) > max_length:
            fail(where, f"longer than {max_length} characters")
        if not value.isprintable():
            fail(where, "holds control characters")
        if pattern and not re.fullmatch(pattern, value):
            fail(where, f"does not match {pattern}")
    return check


def one_of(*choices):
    def check(value, where):
        if value not in choices:
            fail(where, f"expected one of {', '.join(map(repr, choices))}, got "
                        f"{shown(value)}")
    return check


def optional(checker):
    def check(value, where):
        if value is not None:
            checker(value, where)
    return check


def items(checker, min_length=1, max_length=10_000):
    def check(value, where):
        if not isinstance(value, list):
            fail(where, f"expected a list, got {kind(value)}")
        if not min_length <= len(value) <= max_length:
            fail(where, f"expected {min_length} to {max_length} items, got {len(value)}")
        for index, item in enumerate(value):
            checker(item, f"{where}.{index}")
    return check


def fields(required, optional_keys=()):
    """A dict with these keys (others are allowed, and not published)."""
    def check(value, where):
        if not isinstance(value, dict):
            fail(where, f"expected an object, got {kind(value)}")
        for key, checker in required.items():
            if key not in value and key not in optional_keys:
                fail(join(where, key), "missing")
            if key in value:
                checker(value[key], join(where, key))
    return check


def mapping(key_pattern, checker, max_length=100):
    def check(value, where):
        if not isinstance(value, dict) or len(value) > max_length:
            fail(where, f"expected an object of at most {max_length} keys")
        for key, item in value.items():
            text(100, key_pattern)(key, join(where, key))
            checker(item, join(where, key))
    return check


def fail(where, problem):
    raise SchemaError(f"{where or 'top level'}: {problem}")


def join(where, key):
    return f"{where}.{key}" if where else str(key)


def kind(value):
    return {dict: "an object", list: "a list", str: "text", bool: "true/false",
            type(None): "null"}.get(type(value), type(value).__name__)


def shown(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return shown_number(value)
    return repr(value)[:40] if isinstance(value, (str, float)) else kind(value)


# --- the two kinds of file ----------------------------------------------------------------

FRACTION = number(0, 1)
LOSS = number(0, 1e6)
SECONDS = number(0, 1e7)
COUNT = number(1, 10_000_000, integer=True)
EPOCHS = number(1, 1000, integer=True)
BATCH = number(1, 65536, integer=True)
PRECISION = one_of("float32", "mixed_bfloat16", "mixed_float16")
NAME = text(200)
DATA = {"source": NAME, "train_images": COUNT, "test_images": COUNT,
        "sha256": mapping(r"[\w.-]+", text(64, "[0-9a-f]{64}"))}
VERSIONS = fields({"python": NAME, "tensorflow": NAME, "keras": NAME})
SCORE = fields({"accuracy": FRACTION, "loss": LOSS})

RUN = fields({
    "model": one_of("baseline", "improved"),
    "parameters": number(1, 10**9, integer=True),
    "epochs": EPOCHS,
    "batch_size": BATCH,
    "seed": number(0, 2**32 - 1, integer=True),
    "precision": PRECISION,
    "strategy": one_of("default", "mirrored", "multiworker"),
    "replicas": number(1, 100_000, integer=True),
    "data": fields({**DATA, "note": text(), "validation_images": COUNT},
                   optional_keys=("note",)),
    "versions": VERSIONS,
    "device": NAME,
    "seconds_per_epoch": items(SECONDS),
    "total_training_seconds": SECONDS,
    "pipeline_seconds_per_epoch": SECONDS,
    "history": fields({"accuracy": items(FRACTION), "loss": items(LOSS),
                       "val_accuracy": items(FRACTION), "val_loss": items(LOSS)}),
    "final": fields({"train": SCORE, "validation": SCORE, "test": SCORE,
                     "test_flip_averaged": fields({"accuracy": FRACTION})}),
    "date": text(40, r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?"),
    "command": text(),
    "confusions": items(fields({"true": NAME, "predicted": NAME,
                                "count": number(0, 10**7, integer=True),
                                "share_of_class": FRACTION})),
    "confusion_matrix": items(items(number(0, 10**7, integer=True), 10, 10), 10, 10),
    # Runs before --strategy existed lack the first two; only tf.data-fed runs have the third.
}, optional_keys=("strategy", "replicas", "pipeline_seconds_per_epoch", "confusions",
                   "confusion_matrix"))

RECIPE = fields({
    "description": NAME, "batch_size": BATCH, "precision": PRECISION,
    "max_epochs": EPOCHS, "parameters": number(1, 10**9, integer=True),
    "checks": items(fields({"epochs": number(0, 1000), "seconds": SECONDS,
                            "validation_accuracy": FRACTION})),
    "epochs_to_target": optional(number(0, 1000)), "seconds_to_target": optional(SECONDS),
})
VERSUS = optional(fields({"time_ratio": number(0, 1e6), "kind": one_of("exact", "at most")}))

BENCHMARK = fields({
    "target": number(0, 1),
    "measures": text(),
    "checks_per_epoch": number(1, 100, integer=True),
    "data": fields({**DATA, "validation_images": COUNT}, optional_keys=("test_images",)),
    "device": NAME,
    "versions": VERSIONS,
    "recipes": fields({"tutorial": RECIPE, "baseline": RECIPE, "improved": RECIPE}),
    "versus_tutorial": fields({"baseline": VERSUS, "improved": VERSUS}),
    "command": text(),
})


ABLATION = fields({
    "measures": text(),
    "epochs": EPOCHS,
    "seed": number(0, 2**32 - 1, integer=True),
    "precision": PRECISION,
    "data": fields({**DATA, "validation_images": COUNT}, optional_keys=("test_images",)),
    "device": NAME,
    "versions": VERSIONS,
    "variants": items(fields({"name": NAME, "description": text(),
                              "validation_accuracy_per_epoch": items(FRACTION),
                              "validation_accuracy": FRACTION, "seconds": SECONDS})),
    "command": text(),
})

SEED_RUN = fields({"seed": number(0, 2**32 - 1, integer=True), "test_accuracy": FRACTION,
                   "test_flip_averaged_accuracy": FRACTION, "validation_accuracy": FRACTION,
                   "training_seconds": SECONDS, "device": NAME, "date": text(40),
                   "command": text()})
SPREAD = fields({"mean": FRACTION, "std": FRACTION})
SEEDS = fields({
    "runs": items(SEED_RUN),
    "figures_from_seed": number(0, 2**32 - 1, integer=True),
    "test_accuracy": SPREAD, "test_flip_averaged_accuracy": SPREAD,
    "validation_accuracy": SPREAD,
    "training_seconds": fields({"mean": SECONDS, "std": SECONDS}),
    "command": text(),
})


def check_run(metrics):
    """Raise SchemaError unless `metrics` is a complete, finite, self-consistent run."""
    RUN(metrics, "")
    epochs = metrics["epochs"]
    for key in ("seconds_per_epoch", "history.accuracy", "history.loss",
                "history.val_accuracy", "history.val_loss"):
        value = metrics
        for part in key.split("."):
            value = value[part]
        if len(value) != epochs:
            fail(key, f"has {len(value)} values for {epochs} epochs")


def check_benchmark(results):
    BENCHMARK(results, "")
    for name, recipe in results["recipes"].items():
        where = f"recipes.{name}"
        seconds = [c["seconds"] for c in recipe["checks"]]
        if seconds != sorted(seconds):
            fail(f"{where}.checks", "training seconds must not decrease")
        if (recipe["epochs_to_target"] is None) != (recipe["seconds_to_target"] is None):
            fail(where, "epochs_to_target and seconds_to_target must both be set or null")


def check_ablation(results):
    ABLATION(results, "")
    names = [v["name"] for v in results["variants"]]
    if len(set(names)) != len(names) or "full" not in names:
        fail("variants", "must name each variant once, the full recipe among them")
    for v in results["variants"]:
        if len(v["validation_accuracy_per_epoch"]) != results["epochs"]:
            fail(f"variants.{v['name']}", f"needs one accuracy per epoch ({results['epochs']})")


def check_seeds(results):
    SEEDS(results, "")
    seeds = [r["seed"] for r in results["runs"]]
    if len(seeds) < 2 or len(set(seeds)) != len(seeds):
        fail("runs", "needs at least two runs with different seeds")
    if results["figures_from_seed"] not in seeds:
        fail("figures_from_seed", "is not one of the runs")


CHECKS = {"metrics.json": check_run, "benchmark.json": check_benchmark,
          "ablation.json": check_ablation, "seeds.json": check_seeds,
          "ablation-full-budget.json": check_ablation, "ablation-airbench.json": check_ablation,
          "ablation-xla.json": check_ablation}

# Every file the site publishes from plots/, by the name the pages give it
# ({{ seeds.test_accuracy.mean }}); CHECKS above picks each one's check by its file name.
PUBLISHED = {"improved": "metrics.json", "baseline": "baseline/metrics.json",
             "benchmark": "benchmark.json", "ablation": "ablation.json", "seeds": "seeds.json",
             "ablation_full_budget": "ablation-full-budget.json",
             "ablation_airbench": "ablation-airbench.json",
             "ablation_xla": "ablation-xla.json"}


# Integers in these files are counts and sizes: 20 digits is far beyond any of them, and
# far below the 4,300 digits past which int() raises its own ValueError.
MAX_DIGITS = 20


def integer(text):
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise SchemaError(f"an integer of {len(text.lstrip('-'))} digits (at most "
                          f"{MAX_DIGITS})")
    return int(text)


def without_duplicates(pairs):
    value = {}
    for key, item in pairs:
        if key in value:
            raise SchemaError(f"{join('', key)[:100]}: appears twice in one object")
        value[key] = item
    return value


def parse(text):
    """JSON with every integer of at most MAX_DIGITS digits and no key twice in an object."""
    return json.loads(text, parse_int=integer, object_pairs_hook=without_duplicates)


def load(path, shown_as=None):
    """Read and check one plots/ file; raise SchemaError naming the file and the key."""
    shown_as = shown_as or path
    check = CHECKS.get(path.name)
    if check is None:
        raise SchemaError(f"{shown_as}: no schema for a file of this name")
    try:
        # NaN and Infinity parse (Python writes them), and the schema then names their key.
        value = parse(path.read_text(encoding="utf-8"))
        check(value)
    except SchemaError as err:
        raise SchemaError(f"{shown_as}: {err}") from None
    except (OSError, UnicodeError) as err:
        reason = getattr(err, "strerror", None) or err
        raise SchemaError(f"{shown_as}: cannot read ({reason})") from None
    except json.JSONDecodeError as err:
        where = f"line {err.lineno} column {err.colno}"
        raise SchemaError(f"{shown_as}: not valid JSON ({err.msg}, {where})") from None
    except RecursionError:
        raise SchemaError(f"{shown_as}: nested too deeply") from None
    return value
