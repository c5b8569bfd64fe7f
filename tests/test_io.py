"""save / load: architecture rebuilt without user code, no pickle, atomic writes, clear errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad.io import load_checkpoint


def every_module_net() -> mg.Sequential:
    return mg.Sequential(
        mg.Flatten(),
        mg.Linear(12, 8, init="he_normal", rng=0),
        mg.ReLU(),
        mg.Dropout(0.2),
        mg.Sequential(mg.Linear(8, 6, bias=False, rng=1, dtype="float64"), mg.LeakyReLU(0.05), mg.Tanh()),
        mg.Linear(6, 4, rng=2, dtype="float64"),
        mg.Identity(),
        mg.Softmax(),
        mg.Sigmoid(),
    )


def test_roundtrip_rebuilds_every_builtin_module(tmp_path):
    net = every_module_net().eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 4))
    path = mg.save(net, tmp_path / "net.npz", loss=mg.SigmoidBCE(reduction="sum"))
    back = mg.load(path)
    assert repr(back) == repr(net)
    back.eval()
    np.testing.assert_array_equal(back(x), net(x))
    assert [p.dtype for p in back.parameters()] == [p.dtype for p in net.parameters()]
    assert repr(load_checkpoint(path).loss) == "SigmoidBCE(reduction='sum')"
    with np.load(path, allow_pickle=False) as npz:  # every entry loads without pickle
        assert {"__meta__", "model/1.weight", "model/4.0.weight"} <= set(npz.files)


def test_loading_does_not_move_the_global_random_stream(tmp_path):
    path = mg.save(mg.Linear(5, 5), tmp_path / "l.npz")
    mg.manual_seed(1)
    mg.load(path)
    a = mg.Linear(3, 3).weight.data
    mg.manual_seed(1)
    b = mg.Linear(3, 3).weight.data
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_optimizer_and_history_resume_identically(tmp_path, opt_name):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 5)), rng.integers(0, 3, 40)

    def make(net):
        groups = [
            {"params": [net[0].weight, net[2].weight], "weight_decay": 1e-3},
            {"params": [net[0].bias, net[2].bias]},
        ]
        return mg.SGD(groups, lr=0.1, momentum=0.9) if opt_name == "sgd" else mg.Adam(groups, lr=0.01)

    net = mg.Sequential(mg.Linear(5, 4, rng=0, dtype="float64"), mg.Tanh(), mg.Linear(4, 3, rng=1, dtype="float64"))
    opt = make(net)
    loss = mg.SoftmaxCrossEntropy()
    h = mg.fit(net, loss, opt, x, y, epochs=2, batch_size=8, progress=False, verbose=False, rng=0)
    mg.save(net, tmp_path / "c.npz", optimizer=opt, history=h)
    ckpt = load_checkpoint(tmp_path / "c.npz")
    assert ckpt.history.history == h.history
    assert type(ckpt.optimizer) is type(opt) and ckpt.optimizer.param_groups[0]["weight_decay"] == 1e-3
    mg.fit(net, loss, opt, x, y, epochs=1, batch_size=8, progress=False, verbose=False, rng=5)
    mg.fit(ckpt.model, loss, ckpt.optimizer, x, y, epochs=1, batch_size=8, progress=False, verbose=False, rng=5)
    for a, b in zip(net.parameters(), ckpt.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_user_module_needs_import_and_config(tmp_path):
    class Scale(mg.Module):
        def __init__(self, factor: float = 2.0):
            super().__init__()
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

        def forward(self, x):
            return x * self.factor

    path = mg.save(mg.Sequential(Scale(3.0)), tmp_path / "s.npz")
    assert mg.load(path)[0].factor == 3.0
    from minigrad.module import MODULE_TYPES

    MODULE_TYPES.pop(f"{Scale.__module__}.{Scale.__qualname__}")
    with pytest.raises(mg.CheckpointError, match="unknown module type .*import the module"):
        mg.load(path)


def test_bad_files_give_clear_errors(tmp_path):
    good = mg.save(mg.Sequential(mg.Linear(4, 3)), tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    for name, match in [
        ("trunc.npz", "truncated or corrupt"),
        ("junk.npz", "truncated or corrupt"),
        ("plain.npz", "not a minigrad checkpoint"),
        ("missing.npz", "no such file"),
    ]:
        with pytest.raises(mg.CheckpointError, match=match) as info:
            mg.load(tmp_path / name)
        assert name in str(info.value)


def test_mismatched_weights_and_versions(tmp_path):
    import json

    good = mg.save(mg.Sequential(mg.Linear(4, 3)), tmp_path / "good.npz")
    with np.load(good) as npz:
        entries = {k: npz[k] for k in npz.files}
    meta = json.loads(str(entries["__meta__"]))
    entries["model/0.weight"] = np.zeros((3, 5), dtype=np.float32)
    np.savez(tmp_path / "shape.npz", **entries)
    with pytest.raises(mg.CheckpointError, match="do not match.*0.weight.*\\(3, 4\\).*\\(3, 5\\)"):
        mg.load(tmp_path / "shape.npz")
    meta["version"] = 99
    entries["__meta__"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "version.npz", **entries)
    with pytest.raises(mg.CheckpointError, match="version 99"):
        mg.load(tmp_path / "version.npz")


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = mg.save(mg.Linear(3, 2, rng=0), tmp_path / "m.npz")
    before = path.read_bytes()

    def explode(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", explode)
    with pytest.raises(KeyboardInterrupt):
        mg.save(mg.Linear(3, 2, rng=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file left behind


def test_save_killed_half_way_keeps_the_previous_file(tmp_path):
    """A process killed (SIGKILL) while saving a large model leaves the old checkpoint loadable."""
    path = tmp_path / "big.npz"
    mg.save(mg.Linear(10, 10, rng=0), path)
    script = textwrap.dedent(
        f"""
        import minigrad as mg, sys
        net = mg.Linear(3000, 3000, rng=1)
        print("ready", flush=True)
        while True:
            mg.save(net, {str(path)!r})
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE) as proc:
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
        proc.kill()
    model = mg.load(path)  # old (10x10) or a complete new (3000x3000), never a torn file
    assert model.weight.shape in {(10, 10), (3000, 3000)}
    assert zipfile.is_zipfile(path)
