"""The figures workflow trains what the published runs trained and tests what it proposes."""
import re

import yaml

from examples.cifar10 import cli
from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "figures.yml"


def workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def test_it_trains_the_published_number_of_epochs():
    flow = workflow()
    inputs = flow[True]["workflow_dispatch"]["inputs"]  # YAML reads `on:` as True
    assert inputs["epochs"]["default"] == str(cli.EPOCHS["improved"])
    assert flow["jobs"]["retrain"]["env"]["EPOCHS"] == \
        f"${{{{ inputs.epochs || '{cli.EPOCHS['improved']}' }}}}"
    makefile = (ROOT / "Makefile").read_text()
    assert f'--epochs "$${{EPOCHS:-{cli.EPOCHS["improved"]}}}"' in makefile
    assert f'--epochs "$${{BASELINE_EPOCHS:-{cli.EPOCHS["baseline"]}}}"' in makefile


def test_it_checks_its_epochs_before_installing_and_tests_before_proposing():
    steps = workflow()["jobs"]["retrain"]["steps"]
    names = [step.get("name") or step.get("uses") for step in steps]
    check = next(i for i, s in enumerate(steps) if "EPOCHS" in s.get("run", ""))
    install = next(i for i, s in enumerate(steps) if "pip install" in s.get("run", ""))
    assert check < install, names
    assert f"-gt {cli.MAX_EPOCHS}" in steps[check]["run"]
    regenerate = next(i for i, s in enumerate(steps) if "make figures" in s.get("run", ""))
    test = next(i for i, s in enumerate(steps) if re.search(r"^make test$", s.get("run", ""),
                                                             re.MULTILINE))
    upload = next(i for i, s in enumerate(steps) if "upload-artifact" in s.get("uses", ""))
    assert regenerate < test < upload, names
    assert workflow()["jobs"]["retrain"]["permissions"] == {"contents": "read"}
