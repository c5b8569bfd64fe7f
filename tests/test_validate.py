"""Checkpoints are untrusted input: every built-in module round-trips, every crafted file is one CheckpointError."""

from __future__ import annotations

import json
import pickle
import time
import zipfile

import numpy as np
import pytest

import minigrad as mg
from minigrad.io import load_checkpoint
from minigrad.losses import Loss
from minigrad.module import MODULE_TYPES
from minigrad.onnx.modules import Reshape


def every_builtin() -> dict[str, mg.Module]:
    """A model holding every public built-in module type (the losses go in as the checkpoint's loss)."""
    cnn = mg.Sequential(
        mg.Conv2d(2, 4, 3, padding=1, rng=0, dtype="float64"),
        mg.BatchNorm2d(4, dtype="float64"),
        mg.ReLU(),
        mg.MaxPool2d(2),
        mg.Conv2d(4, 4, (1, 3), padding=(0, 1), groups=2, bias=False, rng=1, dtype="float64"),
        mg.AvgPool2d(1),
        mg.AdaptiveAvgPool2d(2),
        Reshape((4, 4)),  # (N, 4, 2, 2) -> (N, 4, 4): the module mg.onnx.load builds for a Reshape node
        mg.Flatten(),
        mg.LayerNorm(16, dtype="float64"),
        mg.BatchNorm1d(16, affine=False, dtype="float64"),
        mg.Linear(16, 6, rng=2, dtype="float64"),
        mg.Dropout(0.1),
        mg.LeakyReLU(0.1),
        mg.Tanh(),
    )
    x = mg.Input((2, 4, 4))
    h = cnn(x)
    a = mg.Sigmoid()(mg.Linear(6, 6, rng=3, dtype="float64")(h))
    y = mg.Softmax()(mg.Identity()(mg.Concat()(mg.Add()(h, a), a)))
    return {"graph": mg.Graph(x, y), "sequential": cnn}


def public_builtins() -> set[str]:
    return {n for n, c in MODULE_TYPES.items() if c.__module__.startswith("minigrad.") and not n.startswith("_")}


def test_every_builtin_module_type_round_trips(tmp_path):
    model = every_builtin()["graph"]
    x = np.random.default_rng(0).standard_normal((3, 2, 4, 4))
    model.train()
    model(x)  # running statistics move away from their initial values
    model.eval()
    covered = {type(m).__name__ for m in model.modules()}
    losses = {n for n in public_builtins() if issubclass(MODULE_TYPES[n], Loss)}
    assert covered | losses | {"Loss"} == public_builtins(), "add the new module type to every_builtin()"
    for loss in [MODULE_TYPES[n]() for n in sorted(losses - {"Loss"})]:
        path = mg.save(model, tmp_path / "m.npz", optimizer=mg.Adam(model.parameters()), loss=loss)
        ckpt = load_checkpoint(path)
        assert repr(ckpt.model) == repr(model) and repr(ckpt.loss) == repr(loss)
        ckpt.model.eval()
        np.testing.assert_array_equal(ckpt.model(x), model(x))
        for (k, a), (k2, b) in zip(model.state_dict().items(), ckpt.model.state_dict().items()):
            assert k == k2
            np.testing.assert_array_equal(a, b)


def entries_of(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture
def good(tmp_path):
    net = mg.Sequential(mg.Linear(4, 3, rng=0), mg.ReLU(), mg.Linear(3, 2, rng=1))
    opt = mg.SGD(net.parameters(), lr=0.1, momentum=0.9)
    hist = mg.fit(net, mg.SoftmaxCrossEntropy(), opt, np.ones((4, 4)), [0, 1, 0, 1], epochs=1, batch_size=2,
                  progress=False, verbose=False)  # fmt: skip
    return entries_of(mg.save(net, tmp_path / "good.npz", optimizer=opt, history=hist))


def nested(depth: int) -> dict:
    spec: dict = {"type": "Linear", "config": {"in_features": 4, "out_features": 3}}
    for _ in range(depth):
        spec = {"type": "Sequential", "children": [spec]}
    return spec


# 5,000 nested Sequentials, written by hand: json.dumps itself cannot nest that deep.
DEEP = (
    '{"format": "minigrad-checkpoint", "version": 1, "model": '
    + '{"type": "Sequential", "children": [' * 5000
    + json.dumps(nested(0))
    + "]}" * 5000
    + "}"
)


def edit_meta(**changes):
    def edit(entries):
        meta = json.loads(str(entries["__meta__"]))
        for path, value in changes.items():
            where = meta
            *parents, last = path.split("__")
            for p in parents:
                where = where[int(p)] if isinstance(where, list) else where[p]
            if value is KeyError:
                del where[int(last) if isinstance(where, list) else last]
            elif isinstance(where, list):
                where[int(last)] = value
            else:
                where[last] = value
        entries["__meta__"] = np.array(json.dumps(meta))

    return edit


def set_entry(key, value):
    def edit(entries):
        entries[key] = value

    return edit


HOSTILE = [
    ("model config keyword", edit_meta(model__children__0__config__frobnicate=1), "takes no argument"),
    ("optimizer keyword", edit_meta(optimizer__defaults__frobnicate=1), "options"),
    ("children missing", edit_meta(model__children=KeyError), "children must be a list"),
    ("model missing", edit_meta(model=KeyError), "needs 'model'"),
    ("group option unknown", edit_meta(optimizer__groups__0__frobnicate=1), "unknown option"),
    ("group params unknown", edit_meta(optimizer__groups__0__params=["9.weight"]), "parameter names"),
    ("model spec a list", edit_meta(model=[1, 2]), "must be a JSON object"),
    ("unknown module", edit_meta(model__children__1__type="os.system"), "unknown module type"),
    ("private module", edit_meta(model__children__1__type="_Elementwise"), "unknown module type"),
    ("in_features 10**6", edit_meta(model__children__0__config__in_features=10**6), "do not match"),
    ("both 10**6", edit_meta(model__children__0__config__out_features=10**6,
                             model__children__0__config__in_features=10**6), "do not match"),  # fmt: skip
    ("size a string", edit_meta(model__children__0__config__in_features="4"), "positive int"),
    ("dtype object", edit_meta(model__children__0__config__dtype="object"), "dtype must be one of"),
    ("bad init", edit_meta(model__children__0__config__init="nope"), "cannot be built.*unknown initialiser"),
    ("5000 deep", set_entry("__meta__", np.array(DEEP)), "not valid JSON.*RecursionError|deeper than 64"),
    ("100 deep", edit_meta(model=nested(100)), "deeper than 64"),
    ("optimizer type", edit_meta(optimizer__type="Frob"), "unknown optimizer type"),
    ("optimizer a list", edit_meta(optimizer=[1]), "must be an object"),
    ("optimizer lr", edit_meta(optimizer__defaults__lr="fast"), "options"),
    ("optimizer nan lr", edit_meta(optimizer__groups__0__lr=float("nan")), "lr must be a finite number"),
    ("loss unknown", edit_meta(loss={"type": "Linear", "config": {}}), "is not a Loss"),
    ("format", edit_meta(format="other"), "not a minigrad checkpoint"),
    ("meta not json", set_entry("__meta__", np.array("{not json")), "not valid JSON"),
    ("meta an int array", set_entry("__meta__", np.arange(3)), "one JSON text"),
    ("history wrong type", set_entry("__history__", np.array("[1, 2]")), "history must be an object"),
    ("history values", set_entry("__history__", np.array('{"history": {"loss": "low"}}')), "lists of numbers"),
    ("history not json", set_entry("__history__", np.array("{")), "not valid JSON"),
    ("stray weight", set_entry("model/7.weight", np.zeros(3, np.float32)), "no module of it has"),
    ("weight dtype", set_entry("model/0.weight", np.zeros((3, 4), np.int8)), "expected dtype float32"),
    ("state for nothing", set_entry("optimizer/9.weight/momentum_buffer", np.zeros(3)), "for no parameter"),
    ("state shape", set_entry("optimizer/0.weight/momentum_buffer", np.zeros(3)), "must be a numeric array"),
]


@pytest.mark.parametrize("name,edit,message", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_crafted_checkpoint_is_one_checkpoint_error_naming_the_file(tmp_path, good, name, edit, message):
    edit(good)
    path = tmp_path / "crafted.npz"
    np.savez(path, **good)
    start = time.perf_counter()
    with pytest.raises(mg.CheckpointError, match=message) as info:
        mg.load(path)
    assert str(path) in str(info.value)
    assert time.perf_counter() - start < 5  # refused before allocating (10**12 weights would take hours)


def test_a_graph_spec_is_checked_before_building(tmp_path):
    x = mg.Input(4)
    net = mg.Graph(x, mg.Add()(mg.Linear(4, 4, rng=0)(x), x))
    entries = entries_of(mg.save(net, tmp_path / "g.npz"))
    meta = json.loads(str(entries["__meta__"]))
    for edit, message in [
        (lambda m: m["model"]["nodes"][0].update(parents=["add_1"]), "parents must name earlier nodes"),
        (lambda m: m["model"].update(outputs=["nowhere"]), "outputs must name its nodes"),
        (lambda m: m["model"]["inputs"][0].update(shape=[-4]), "positive int"),
        (lambda m: m["model"]["nodes"][1].update(name="linear_1"), "new non-empty string"),
        (lambda m: m["model"].update(inputs=[]), "needs lists"),
    ]:
        bad = json.loads(json.dumps(meta))
        edit(bad)
        np.savez(tmp_path / "bad.npz", **{**entries, "__meta__": np.array(json.dumps(bad))})
        with pytest.raises(mg.CheckpointError, match=message):
            mg.load(tmp_path / "bad.npz")


class WritesMarker:
    """A pickle payload: unpickling it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_payload_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    payload = np.array([WritesMarker(marker)], dtype=object)
    np.savez(tmp_path / "meta.npz", __meta__=payload)  # an object array: a pickle inside the archive
    np.savez(tmp_path / "weight.npz", __meta__=np.array("{}"), **{"model/0.weight": payload})
    (tmp_path / "raw.npz").write_bytes(pickle.dumps(WritesMarker(marker)))
    for name in ("meta.npz", "weight.npz", "raw.npz"):
        with pytest.raises(mg.CheckpointError, match="pickle|not a minigrad checkpoint") as info:
            mg.load(tmp_path / name)
        assert "allow_pickle" not in str(info.value)
    assert not marker.exists()


def test_an_entry_declaring_more_than_it_holds_is_refused_before_allocating(tmp_path, good):
    path = mg.save(mg.Linear(4, 3), tmp_path / "ok.npz")
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    header = members["model/weight.npy"]
    members["model/weight.npy"] = header.replace(b"(3, 4)", b"(300000, 400000)")
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(mg.CheckpointError, match="declares .*more than its"):
        mg.load(tmp_path / "huge.npz")
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__meta__.npy", members["__meta__.npy"])
        zf.writestr("model/weight.npy", bytes(300 * 2**20))  # 300 MB of zeros in a few hundred KB
    with pytest.raises(mg.CheckpointError, match="zip bomb"):
        mg.load(tmp_path / "bomb.npz")
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(mg.CheckpointError, match="not arrays"):
        mg.load(tmp_path / "other.npz")
