"""The benchmark behind the tf.function chapter's eager-vs-graph ratio, on a tiny run."""
import pytest
import tensorflow as tf

from examples import function_benchmark


def test_the_graph_computes_what_eager_code_computes():
    x = tf.random.normal([10, 10], seed=1)
    eager = function_benchmark.tanh_chain(x)
    graph = tf.function(function_benchmark.tanh_chain)(x)
    assert float(tf.reduce_max(tf.abs(eager - graph))) < 1e-6


def test_main_prints_both_timings_the_ratio_and_the_cpu(capsys):
    function_benchmark.main(["--calls", "2", "--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["eager", "tf.function", "ratio", "CPU"]
    assert lines[2].rstrip().endswith("x") and float(lines[2].split()[1].rstrip("x")) > 0


def test_bad_counts_are_refused():
    with pytest.raises(SystemExit):
        function_benchmark.main(["--calls", "0"])
