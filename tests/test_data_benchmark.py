"""The benchmark behind the tf.data chapter's naive-vs-tuned ratio, on a tiny run."""
import pytest

from examples import data_benchmark


@pytest.mark.parametrize("name", sorted(data_benchmark.PIPELINES))
def test_every_pipeline_yields_the_same_batches(name):
    dataset = data_benchmark.PIPELINES[name](10, 4, 0.0)
    assert [batch.numpy().tolist() for batch in dataset] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_main_prints_each_pipeline_the_ratios_and_the_cpu(capsys):
    data_benchmark.main(["--elements", "4", "--batch-size", "2", "--load-ms", "0",
                         "--step-ms", "0", "--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "sequential", "naive", "tuned", "sequential/tuned", "naive/tuned", "CPU"]


@pytest.mark.parametrize("argv", [["--repeats", "0"], ["--load-ms", "-1"], ["--step-ms", "5000"]])
def test_bad_options_are_refused(argv):
    with pytest.raises(SystemExit):
        data_benchmark.main(argv)
