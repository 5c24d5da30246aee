"""The `xla` ablation variant: the full recipe, only compiled by XLA."""

import tensorflow as tf

from examples.cifar10 import ablation, schema
from tests.cifar10_data import images
from tests.conftest import ROOT


def test_xla_changes_the_compilation_and_nothing_else():
    x = images(64)
    full = ablation.build_variant(x, steps_per_epoch=1, epochs=1)
    xla = ablation.build_variant(x, steps_per_epoch=1, epochs=1,
                                 jit_compile=True)
    assert xla.jit_compile is True
    # Keras' "auto" turns XLA on only where a GPU is visible.
    assert full.jit_compile is bool(tf.config.list_physical_devices("GPU"))
    assert [w.shape for w in full.weights] == [w.shape for w in xla.weights]
    assert full.loss.get_config() == xla.loss.get_config()


def test_make_ablation_xla_writes_its_own_published_file():
    makefile = (ROOT / "Makefile").read_text()
    assert ('--variants full xla --out "$(PLOTS)/ablation-xla.json"'
            in makefile)
    assert schema.PUBLISHED["ablation_xla"] == "ablation-xla.json"
    assert schema.CHECKS["ablation-xla.json"] is schema.check_ablation
    workflow = (ROOT / ".github/workflows/figures.yml").read_text()
    assert "ablation-xla" in workflow
