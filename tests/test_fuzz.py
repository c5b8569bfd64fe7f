"""Fuzzing (hypothesis): whatever goes in, only minigrad's own error types come out.

Random shapes, dtypes and values (NaN, inf, huge, empty, 0-d, lists, ragged lists, strings) into
every public module's constructor, forward and backward, every loss, Graph building, and
``mg.load`` on random bytes and on random archives (valid files with mutated JSON, entries
swapped, truncated). A test fails on any exception that is not a ``MinigradError``.

A few hundred examples in CI; ``MINIGRAD_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz.py`` for more.
NumPy's RuntimeWarnings (overflow on huge values) are silenced here: they are warnings, not errors.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.errors import MinigradError

EXAMPLES = int(os.environ.get("MINIGRAD_FUZZ_EXAMPLES", "0")) or None
FUZZ = settings(
    max_examples=EXAMPLES or 120,
    deadline=None,
    database=None,  # nothing written into the worktree
    derandomize=EXAMPLES is None,  # CI runs the same examples every time
    suppress_health_check=list(HealthCheck),
)


def ours(call, *args, **kwargs):
    """``call(*args)``; a MinigradError counts as a clear answer (None), anything else fails the test."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return call(*args, **kwargs)
    except MinigradError:
        return None


DTYPES = st.sampled_from(["float16", "float32", "float64", "int8", "int64", "uint8", "bool", "complex64"])
NUMBERS = st.floats(allow_nan=True, allow_infinity=True, width=32) | st.integers(-3, 3)


@st.composite
def arrays(draw, min_dims=0, max_dims=5):
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=0, max_side=4))
    dtype = np.dtype(draw(DTYPES))
    elements = None
    if dtype.kind == "f":
        elements = st.floats(allow_nan=True, allow_infinity=True, width=dtype.itemsize * 8)
    return draw(hnp.arrays(dtype, shape, elements=elements))


ODD = st.sampled_from([None, "abc", 1, 2.5, [], [[1.0, 2.0], [3.0]], [[1, 2], [3, 4]], {"a": 1}, b"xy", True])
INPUTS = arrays() | ODD | st.lists(NUMBERS, max_size=4)
SMALL = st.integers(-1, 4)
ANY_ARG = SMALL | st.floats(-2, 2) | st.sampled_from([None, "same", "valid", "x", True, (1, 2), [2], (0, 0)])


def fits(call, args) -> bool:
    """Whether ``call`` takes that many arguments: a wrong count is Python's own TypeError, before our code runs."""
    try:
        inspect.signature(call).bind(*args)
    except TypeError:
        return False
    return True


def builds(cls, *args, **kwargs):
    """Modules made of random arguments, those the constructor refuses (with our error) left out."""
    return st.builds(lambda *a, **k: ours(cls, *a, **k), *args, **kwargs).filter(lambda m: m is not None)


def module_factories():
    """(name, strategy of a module built with random, mostly plausible, constructor arguments)."""
    pos = st.integers(1, 4)
    return {
        "Linear": builds(mg.Linear, pos, pos, bias=st.booleans(), dtype=st.sampled_from([None, "float64"])),
        "Conv2d": builds(mg.Conv2d, pos, pos, st.integers(1, 3) | st.tuples(pos, pos), stride=pos,
                            padding=st.integers(0, 2) | st.sampled_from(["same", "valid"]), dilation=pos,
                            groups=st.integers(1, 2), bias=st.booleans()),  # fmt: skip
        "MaxPool2d": builds(mg.MaxPool2d, pos, stride=st.none() | pos, padding=st.integers(0, 1), dilation=pos),
        "AvgPool2d": builds(mg.AvgPool2d, pos, stride=st.none() | pos, padding=st.integers(0, 1)),
        "AdaptiveAvgPool2d": builds(mg.AdaptiveAvgPool2d, pos | st.tuples(pos, pos)),
        "BatchNorm1d": builds(mg.BatchNorm1d, pos, affine=st.booleans(), track_running_stats=st.booleans()),
        "BatchNorm2d": builds(mg.BatchNorm2d, pos, momentum=st.none() | st.floats(0, 1)),
        "LayerNorm": builds(mg.LayerNorm, pos | st.tuples(pos, pos), elementwise_affine=st.booleans()),
        "Flatten": builds(mg.Flatten, st.integers(-3, 3), st.integers(-3, 3)),
        "Dropout": builds(mg.Dropout, st.floats(0, 1)),
        "Softmax": builds(mg.Softmax, st.integers(-4, 4)),
        "LeakyReLU": builds(mg.LeakyReLU, st.floats(-1, 1)),
        "Sigmoid": builds(mg.Sigmoid),
        "Tanh": builds(mg.Tanh),
        "ReLU": builds(mg.ReLU),
        "Identity": builds(mg.Identity),
        "Add": builds(mg.Add),
        "Concat": builds(mg.Concat, st.integers(-3, 3)),
    }


FACTORIES = module_factories()
MODULES = st.one_of(*FACTORIES.values())
CONSTRUCTORS = {name: getattr(mg, name) for name in FACTORIES}


def test_every_public_module_is_fuzzed():
    from minigrad.module import MODULE_TYPES

    public = {n for n, c in MODULE_TYPES.items() if c.__module__.startswith("minigrad.layers") and n[0] != "_"}
    assert public <= set(FACTORIES), f"add a factory for {sorted(public - set(FACTORIES))}"


@FUZZ
@given(st.sampled_from(sorted(CONSTRUCTORS)), st.lists(ANY_ARG, max_size=4), st.booleans())
def test_constructors_take_anything(name, args, training):
    if not fits(CONSTRUCTORS[name], args):
        return
    m = ours(CONSTRUCTORS[name], *args)
    if m is not None:
        ours(lambda: m.train(training)(np.ones((2, 3, 4, 4))))


@FUZZ
@given(MODULES, st.lists(INPUTS, min_size=1, max_size=3), st.booleans(), st.data())
def test_forward_and_backward_take_anything(module, inputs, training, data):
    module.train(training)
    inputs = inputs if fits(module.forward, inputs) else inputs[:1]
    out = ours(module, *inputs)
    if isinstance(out, np.ndarray):
        grad = data.draw(st.sampled_from(["ones", "random"]))
        g = np.ones_like(out) if grad == "ones" else data.draw(INPUTS)
        back = ours(module.backward, g)
        if grad == "ones" and back is not None:  # the right shape is taken: one gradient per input
            back = back if isinstance(back, tuple) else (back,)
            assert [b.shape for b in back] == [np.shape(np.asarray(x)) for x in inputs]
    ours(module.backward, data.draw(INPUTS))  # another backward, after or without a forward
    shapes = data.draw(st.lists(st.tuples(SMALL, SMALL) | st.tuples(SMALL), min_size=1, max_size=3))
    ours(module.output_shape, *(shapes if fits(module.output_shape, shapes) else shapes[:1]))


LOSSES = st.sampled_from([mg.SoftmaxCrossEntropy, mg.SigmoidBCE, mg.QuadraticCost])


@FUZZ
@given(LOSSES, st.sampled_from(["mean", "sum", "avg", 3]), INPUTS, INPUTS, INPUTS)
def test_losses_take_anything(cls, reduction, x, target, grad):
    loss = ours(cls, reduction)
    if loss is None:
        return
    value = ours(loss, x, target)
    if value is not None:
        assert isinstance(value, float)
        ours(loss.backward)
    ours(loss.backward, grad)


@FUZZ
@given(st.data())
def test_graph_building_takes_anything(data):
    nodes = [ours(mg.Input, data.draw(st.integers(-1, 4) | st.tuples(SMALL, SMALL) | ODD))]
    nodes = [n for n in nodes if n is not None] or [mg.Input(3)]
    for _ in range(data.draw(st.integers(1, 5))):
        module = data.draw(MODULES)
        parents = data.draw(st.lists(st.sampled_from(nodes) | ODD, min_size=1, max_size=3))
        node = ours(module, *(parents if fits(module.forward, parents) else parents[:1]))
        if isinstance(node, mg.Node):
            nodes.append(node)
    if data.draw(st.booleans()):  # edit a node by hand, as a user might
        victim = data.draw(st.sampled_from(nodes))
        victim.parents = data.draw(st.just((nodes[-1],)) | st.just(()) | st.tuples(ODD))
    inputs = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=2))
    outputs = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=2))
    graph = ours(mg.Graph, inputs, outputs)
    if graph is not None:
        xs = [data.draw(INPUTS) for _ in inputs]
        ours(graph, *xs)


def checkpoint_bytes() -> dict[str, bytes]:
    """The members of a real checkpoint (Graph with norm, conv and an optimizer), to be mutated."""
    x = mg.Input((1, 4, 4))
    h = mg.Flatten()(mg.BatchNorm2d(2)(mg.Conv2d(1, 2, 3, rng=0)(x)))
    net = mg.Graph(x, mg.Linear(8, 3, rng=1)(mg.LayerNorm(8)(h)))
    opt = mg.Adam(net.parameters())
    net(np.ones((2, 1, 4, 4), np.float32))
    net.backward(np.ones((2, 3), np.float32))
    opt.step()
    hist = mg.History()
    hist.record(loss=1.0)
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"fuzz-{os.getpid()}.npz")
    mg.save(net, path, optimizer=opt, history=hist, loss=mg.SoftmaxCrossEntropy())
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    os.remove(path)
    return members


MEMBERS = checkpoint_bytes()
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 10**12) | st.floats() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
    max_leaves=6,
)


def mutate_json(obj, data):
    """Replace one random place of ``obj`` (a JSON value) with a random JSON value, or delete a key."""
    if isinstance(obj, (dict, list)) and obj and data.draw(st.integers(0, 3)):
        keys = list(obj) if isinstance(obj, dict) else list(range(len(obj)))
        key = data.draw(st.sampled_from(keys))
        if isinstance(obj, dict) and data.draw(st.integers(0, 5)) == 0:
            del obj[key]
        else:
            obj[key] = mutate_json(obj[key], data)
        return obj
    return data.draw(JSON_VALUES)


def npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


@FUZZ
@given(st.data())
def test_load_takes_any_archive(tmp_path_factory, data):
    members = dict(MEMBERS)
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(sorted(members)))
        how = data.draw(st.sampled_from(["json", "json", "json", "array", "bytes", "cut", "drop", "rename"]))
        if how == "json" and name in ("__meta__.npy", "__history__.npy"):
            text = str(np.lib.format.read_array(io.BytesIO(MEMBERS[name])))  # the real one, mutated afresh
            members[name] = npy(np.array(json.dumps(mutate_json(json.loads(text), data))))
        elif how == "array":
            members[name] = npy(data.draw(arrays()))
        elif how == "bytes":
            members[name] = data.draw(st.binary(max_size=64))
        elif how == "cut":
            members[name] = members[name][: data.draw(st.integers(0, len(members[name])))]
        elif how == "drop":
            del members[name]
        elif how == "rename":
            members[data.draw(st.sampled_from(["model/x.npy", "optimizer/a/b.npy", "x.txt", "model/.npy"]))] = (
                members.pop(name)
            )
    path = tmp_path_factory.mktemp("fuzz") / "c.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    if data.draw(st.booleans()):  # truncate the archive itself
        blob = path.read_bytes()
        path.write_bytes(blob[: data.draw(st.integers(0, len(blob)))])
    ckpt = ours(mg.load_checkpoint, path)
    if ckpt is not None:
        ckpt.model.eval()
        ours(ckpt.model, np.ones((2, 1, 4, 4), np.float32))


@FUZZ
@given(st.binary(max_size=512) | st.sampled_from([b"PK\x03\x04", b"\x93NUMPY", b"\x80\x04", b"{}", b""]))
def test_load_takes_any_bytes(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("bytes") / "c.npz"
    path.write_bytes(blob)
    with pytest.raises(mg.CheckpointError):
        ours_or_raise(mg.load, path)


def ours_or_raise(call, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return call(*args)


STATE_VALUES = arrays() | ODD
STATE_KEYS = st.sampled_from(["weight", "bias", "0.weight", "x", 1, None])


@FUZZ
@given(MODULES, st.dictionaries(STATE_KEYS, STATE_VALUES, max_size=3) | ODD, st.booleans())
def test_load_state_dict_takes_anything(module, state, strict):
    before = {k: v.copy() for k, v in module.state_dict().items()}
    if ours(module.load_state_dict, state, strict) is None and isinstance(state, dict):
        for key, value in module.state_dict().items():  # refused or partly taken: never torn
            assert value.shape == before[key].shape and value.dtype == before[key].dtype


@FUZZ
@given(st.sampled_from(["sgd", "adam", "rmsprop", "adagrad"]), JSON_VALUES, st.data())
def test_optimizer_load_state_dict_takes_anything(name, junk, data):
    net = mg.Linear(3, 2, rng=0)
    opt = {"sgd": mg.SGD, "adam": mg.Adam, "rmsprop": mg.RMSprop, "adagrad": mg.Adagrad}[name](net.parameters(), lr=0.1)
    net(np.ones((2, 3), np.float32))
    net.backward(np.ones((2, 2), np.float32))
    opt.step()
    state = opt.state_dict()
    where = data.draw(st.sampled_from(["state", "param_groups", "entry", "whole"]))
    if where == "whole":
        state = junk
    elif where == "entry" and state["state"]:
        state["state"][0][data.draw(st.sampled_from(sorted(state["state"][0])))] = data.draw(STATE_VALUES)
    else:
        state[where] = junk
    ours(opt.load_state_dict, state)
