"""SIGKILL a process saving in a loop at random moments: the last completed checkpoint always loads,
and no temporary file outlives the next save."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import minigrad as mg

SAVER = """
import sys
import minigrad as mg
path, i = sys.argv[1], int(sys.argv[2])
net = mg.Linear(1500, 1000, rng=0)  # 6 MB: saving takes most of each loop, so most kills land inside a save
while True:
    net.weight.data[...] = i  # the checkpoint's identity: every weight equals i
    mg.save(net, path)
    print(i, flush=True)
    i += 1
"""


def temporaries(folder: Path) -> set[Path]:
    return {p for p in folder.iterdir() if p.name.endswith(".tmp")}


def test_sigkill_at_random_moments_loses_nothing_and_leaves_nothing(tmp_path):
    path = tmp_path / "model.npz"
    rnd = random.Random(16)
    last, left, victims = 0, set(), []
    for _ in range(6):
        with subprocess.Popen([sys.executable, "-c", SAVER, str(path), str(last + 1)], stdout=subprocess.PIPE) as proc:
            first = int(proc.stdout.readline())  # its first save is complete: it cleaned up after the last victim
            assert first == last + 1
            assert not left & temporaries(tmp_path), "a dead process's temporary file outlived the next save"
            time.sleep(rnd.uniform(0.0, 0.25))
            proc.send_signal(signal.SIGKILL)
            printed = [int(line) for line in proc.stdout.read().split()]
        last = printed[-1] if printed else first
        left = temporaries(tmp_path)
        assert len(left) <= 1  # at most the victim's own, half-written
        victims.append(len(left))
        saved = mg.load(path).weight.data  # cleans the victim's temporary too
        assert saved.shape == (1000, 1500)
        # Done and printed, or done just before the kill but not yet printed: never older, never torn.
        assert saved[0, 0] in (last, last + 1) and np.all(saved == saved[0, 0])
        last = int(saved[0, 0])
        assert not temporaries(tmp_path), "a load left a dead process's temporary file"
        left.clear()
        (tmp_path / f".model.npz.{proc.pid}.tmp").write_bytes(b"as a kill leaves it")  # for the next save
        left.add(tmp_path / f".model.npz.{proc.pid}.tmp")
    assert any(victims), "no kill landed inside a save: the test did not test"
    mg.save(mg.Linear(2, 2), path)
    assert not temporaries(tmp_path)
