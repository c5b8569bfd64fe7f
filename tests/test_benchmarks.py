"""The benchmark's peers compute the same thing, and its report is well formed (no timing asserted)."""

from __future__ import annotations

import argparse
import functools
import inspect
import json
import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import bench_train  # noqa: E402


@functools.cache  # the peers' steps, once per architecture for the tests below (JAX compiles, PyTorch imports)
def same_computation(arch: tuple[int, ...]) -> dict[str, float]:
    return bench_train.same_computation(list(arch))


@pytest.mark.parametrize("arch", [(784, 30, 10), (784, 256, 256, 10)])
def test_peers_compute_the_same_step(arch):
    # minigrad, the NumPy floor (and PyTorch, JAX when installed) from the same initial weights:
    # after a few float64 steps every parameter agrees, so the speeds compare the same work.
    diffs = same_computation(arch)
    assert set(diffs) == set(bench_train.PEERS) - {"numpy_floor"}
    assert max(diffs.values()) < 1e-12


@pytest.mark.parametrize("arch", [(784, 30, 10), (784, 256, 256, 10)])
def test_the_jax_peer_computes_the_same_step_in_float64_and_leaks_no_x64(arch):
    jax = pytest.importorskip("jax")
    assert "jax" in bench_train.PEERS
    diffs = same_computation(arch)
    assert diffs["jax"] < 1e-12 and diffs["minigrad"] < 1e-12  # inf if JAX had quietly computed in float32
    assert not jax.config.jax_enable_x64  # float64 was scoped to the peer's own calls


def test_the_minigrad_peer_is_the_readme_loop():
    # The loop users write, nothing added: no keyword to backward, no private attribute of minigrad.
    source = inspect.getsource(bench_train.minigrad_peer)
    assert "model.backward(loss.backward())" in source and "input_grad" not in source
    assert "._" not in source and "pack" not in source.lower()


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
    for name, key, _ in bench_train.RATIOS:  # every peer present has its ratio, JAX included when installed
        assert (key in row) == (name in bench_train.PEERS)
        if key in row:
            paired = [m / o for m, o in zip(row["minigrad"]["rounds"], row[name]["rounds"])]
            assert row[key]["per_round_median"] == statistics.median(paired)
    table = bench_train.markdown(report)
    assert "| [784, 5, 10] | float64 | 4 |" in table and "minigrad / floor" in table
    header, rule, line = table.splitlines()
    assert header.count("|") == rule.count("|") == line.count("|")  # one cell per column
    assert ("minigrad / JAX" in header) == ("jax" in bench_train.PEERS)
    assert ("minigrad / PyTorch" in header) == ("pytorch" in bench_train.PEERS)
    json.dumps(report)  # the report is written as JSON


def test_a_skipped_peer_is_named_in_the_table(monkeypatch):
    monkeypatch.setattr(bench_train, "PEERS", dict(bench_train.PEERS))
    args = bench_train.argument_parser().parse_args(["--no-jax"])
    skipped = bench_train.skip_peers(args)
    assert "jax" not in bench_train.PEERS and skipped["jax"] == "--no-jax"
    table = bench_train.markdown({"results": [], "skipped": skipped})
    assert "jax: skipped (--no-jax)" in table and "minigrad / JAX" not in table
    assert not bench_train.argument_parser().parse_args([]).no_jax


def test_numpy_peers_share_a_process_and_pytorch_and_jax_have_their_own():
    groups = bench_train.process_groups("numpy-shared")
    assert groups[0] == ("minigrad", "numpy_floor")
    assert all(g == (name,) for g in groups[1:] for name in g)  # never beside the NumPy peers
    assert sorted(n for g in groups for n in g) == sorted(bench_train.PEERS)
    assert all(len(g) == 1 for g in bench_train.process_groups("per-peer"))
    assert bench_train.process_groups("one") == [tuple(bench_train.PEERS)]
    assert list(bench_train.PEERS)[-1] == "jax" or "jax" not in bench_train.PEERS  # in `one` mode, JAX runs last


def test_without_pytorch_and_jax_the_numpy_peers_are_the_one_worker(monkeypatch):
    peers = {k: v for k, v in bench_train.PEERS.items() if k not in ("pytorch", "jax")}
    monkeypatch.setattr(bench_train, "PEERS", peers)
    assert bench_train.process_groups("numpy-shared") == [("minigrad", "numpy_floor")]
    monkeypatch.setattr(bench_train, "PEERS", {**peers, "jax": bench_train.jax_peer})
    assert bench_train.process_groups("numpy-shared") == [("minigrad", "numpy_floor"), ("jax",)]


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
    # The default set-up: minigrad and the floor in one spawned worker, PyTorch and JAX (when installed) one each.
    monkeypatch.setattr(bench_train, "PAUSE", 0.0)
    args = argparse.Namespace(
        arch=["784,5,10"], batch=[8], dtype=["float32"], rounds=1, samples=16, processes="numpy-shared"
    )
    args.fixed_layout = False
    (row,) = bench_train.run(args)["results"]
    for name in bench_train.PEERS:
        (speed,) = row[name]["rounds"]
        assert speed > 0


def test_the_kernel_benchmark_times_every_kernel_beside_its_plain_form(capsys):
    import bench_kernels

    bench_kernels.main(["--batch", "10", "--number", "2", "--repeat", "1"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| 10 |")]
    assert len(rows) == 8  # 7 kernels and the fused SGD step
    for row in rows:
        plain, fast = (float(v) for v in row.split("|")[3:5])
        assert plain > 0 and fast > 0


def test_the_cnn_benchmark_runs_tiny_and_its_peers_compute_the_same_step(monkeypatch):
    # Not timed: bench_cnn's quick mode, shrunk, in this process; minigrad, the floor (and PyTorch) agree.
    import bench_cnn

    monkeypatch.setattr(bench_train, "PAUSE", 0.0)
    peers = dict(bench_train.PEERS)
    args = bench_cnn.argument_parser().parse_args(["--quick", "--batch", "4", "--samples", "8", "--rounds", "1"])
    args.in_process = True
    report = bench_cnn.run(args)
    assert peers == bench_train.PEERS  # bench_train's own peers are back
    assert set(report["same_computation_max_abs_diff"]) == set(bench_cnn.PEERS) - {"numpy_floor"}
    assert max(report["same_computation_max_abs_diff"].values()) < 1e-10
    (row,) = report["results"]
    assert row["batch"] == 4 and all(row[name]["rounds"][0] > 0 for name in bench_cnn.PEERS)
    table = bench_cnn.markdown(report)
    assert "| float32 | 4 |" in table and "minigrad / floor" in table
    assert "model.backward(loss.backward())" in inspect.getsource(bench_cnn.minigrad_peer)


def test_the_plumbing_variants_of_profile_step_compute_the_readme_loops_step():
    # profile_step times the README's loop with one layer of plumbing taken out by hand; the
    # difference is only the cost of that plumbing if every variant makes the same parameters.
    import numpy as np
    import profile_step

    arch = [784, 30, 10]
    x, y = bench_train.synthetic_data(60)
    batches = bench_train.make_batches(x, y, 10)
    variants = profile_step.plumbing_variants(arch, np.float64, bench_train.init_params(arch, np.float64))
    assert list(variants) == ["README loop", "no loss wrapper", "no Sequential", "no SGD.step"]
    results = {}
    for name, (train, weights) in variants.items():
        train(batches)
        results[name] = [w.copy() for w in weights()]
    start = [w for pair in bench_train.init_params(arch, np.float64) for w in pair]
    assert any(not np.array_equal(a, b) for a, b in zip(results["README loop"], start))  # it trained
    for name, ws in results.items():
        for a, b in zip(ws, results["README loop"]):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13, err_msg=name)
