"""The benchmark's peers compute the same thing, and its report is well formed (no timing asserted)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_train  # noqa: E402


@pytest.mark.parametrize("arch", [[784, 30, 10], [784, 256, 256, 10]])
def test_peers_compute_the_same_step(arch):
    # minigrad, the NumPy floor (and PyTorch when installed) from the same initial weights:
    # after a few float64 steps every parameter agrees, so the speeds compare the same work.
    assert bench_train.check_same_computation(arch) < 1e-12


def test_a_tiny_run_reports_every_round_and_the_ratios(monkeypatch):
    monkeypatch.setattr(bench_train, "PAUSE", 0.0)
    args = argparse.Namespace(arch=["784,5,10"], batch=[4], dtype=["float64"], rounds=2, samples=40, same_process=True)
    report = bench_train.run(args)
    (row,) = report["results"]
    assert len(row["minigrad"]["rounds"]) == 2
    paired = [m / f for m, f in zip(row["minigrad"]["rounds"], row["numpy_floor"]["rounds"])]
    assert row["vs_floor"]["per_round_min"] == min(paired) and row["vs_floor"]["per_round_max"] == max(paired)
    assert row["vs_floor"]["of_medians"] == row["minigrad"]["median"] / row["numpy_floor"]["median"]
    assert row["vs_floor"]["of_best"] == max(row["minigrad"]["rounds"]) / max(row["numpy_floor"]["rounds"])
    table = bench_train.markdown(report)
    assert "| [784, 5, 10] | float64 | 4 |" in table and "minigrad / floor" in table
