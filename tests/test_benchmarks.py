"""The benchmark's peers compute the same thing, and its report is well formed (no timing asserted)."""

from __future__ import annotations

import argparse
import statistics
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
    args = argparse.Namespace(
        arch=["784,5,10"], batch=[4], dtype=["float64"], rounds=2, samples=40, processes="one", fixed_layout=False
    )
    report = bench_train.run(args)
    (row,) = report["results"]
    assert len(row["minigrad"]["rounds"]) == 2
    paired = [m / f for m, f in zip(row["minigrad"]["rounds"], row["numpy_floor"]["rounds"])]
    assert row["vs_floor"]["per_round_min"] == min(paired) and row["vs_floor"]["per_round_max"] == max(paired)
    assert row["vs_floor"]["per_round_median"] == statistics.median(paired)
    assert row["vs_floor"]["of_medians"] == row["minigrad"]["median"] / row["numpy_floor"]["median"]
    assert row["vs_floor"]["of_best"] == max(row["minigrad"]["rounds"]) / max(row["numpy_floor"]["rounds"])
    table = bench_train.markdown(report)
    assert "| [784, 5, 10] | float64 | 4 |" in table and "minigrad / floor" in table


def test_numpy_peers_share_a_process_and_pytorch_has_its_own():
    groups = bench_train.process_groups("numpy-shared")
    assert groups[0] == ("minigrad", "numpy_floor")
    assert sorted(n for g in groups for n in g) == sorted(bench_train.PEERS)
    assert all(len(g) == 1 for g in bench_train.process_groups("per-peer"))
    assert bench_train.process_groups("one") == [tuple(bench_train.PEERS)]


def test_without_pytorch_the_numpy_peers_are_the_one_worker(monkeypatch):
    peers = {k: v for k, v in bench_train.PEERS.items() if k != "pytorch"}
    monkeypatch.setattr(bench_train, "PEERS", peers)
    assert bench_train.process_groups("numpy-shared") == [("minigrad", "numpy_floor")]


def test_a_layout_seed_shuffles_the_build_order_and_pads_the_heap(monkeypatch):
    built = []
    monkeypatch.setattr(bench_train, "Segment", lambda name, *config: built.append(name) or name)
    names = ("minigrad", "numpy_floor")
    segments, padding = bench_train.build_segments(names, ("config",), None)
    assert segments == {n: n for n in names} and padding == [] and built == list(names)
    orders = set()
    for seed in range(8):
        built.clear()
        segments, padding = bench_train.build_segments(names, ("config",), seed)
        assert segments == {n: n for n in names} and len(padding) >= 2  # at least one array before each peer
        orders.add(tuple(built))
    assert orders == {names, names[::-1]}  # both orders occur over the rounds


def test_the_worker_processes_run_every_peer(monkeypatch):
    # The default set-up: minigrad and the floor in one spawned worker, PyTorch (when installed) in another.
    monkeypatch.setattr(bench_train, "PAUSE", 0.0)
    args = argparse.Namespace(
        arch=["784,5,10"], batch=[8], dtype=["float32"], rounds=1, samples=16, processes="numpy-shared"
    )
    args.fixed_layout = False
    (row,) = bench_train.run(args)["results"]
    for name in bench_train.PEERS:
        (speed,) = row[name]["rounds"]
        assert speed > 0
