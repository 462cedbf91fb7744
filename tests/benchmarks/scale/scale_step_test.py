"""Smoke test of ``benchmarks.scale.step`` on tiny tables (the benchmark itself uses 10k vs 1M)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

from benchmarks.scale import step as scale_step  # noqa: E402


def test_scale_step_times_both_sizes(capsys):
    scale_step.main(["--small", "50", "--large", "500", "--features", "2", "--dim", "4",
                     "--repeats", "2", "--rounds", "1", "--optimizers", "lazy_adam"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["lazy_adam"]
    assert all("50 rows" in line and "500 rows" in line and "ratio" in line for line in lines)
