"""mg.onnx.export checked in onnxruntime (every module, whole models, several batch sizes), and mg.onnx.load."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.models import nielsen_cnn, nielsen_mlp

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = 1e-5  # float32 throughout
BATCHES = (1, 3, 8)


def run_ort(path, *xs: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: x.astype(np.float32) for i, x in zip(session.get_inputs(), xs)}
    return session.run(None, feeds)


def export_checked(model: mg.Module, path, input_shape=None):
    """Export, then the checks every export must pass: full_check, pinned opset and IR version, dynamic batch."""
    mg.onnx.export(model, path, input_shape)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == mg.onnx.IR_VERSION == 8
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", mg.onnx.OPSET)]
    for value in (*proto.graph.input, *proto.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param == "N"
    return proto


def max_diff_over_batches(model: mg.Module, path, shapes, rng) -> float:
    """The largest |minigrad - onnxruntime| over random inputs at several batch sizes."""
    worst = 0.0
    for n in BATCHES:
        xs = [rng.standard_normal((n, *s)).astype(np.float32) for s in shapes]
        ours = model(*xs)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = run_ort(path, *xs)
        assert len(theirs) == len(ours)
        for a, b in zip(ours, theirs):
            assert b.shape == a.shape
            worst = max(worst, float(np.abs(a - b).max()))
    return worst


def randomise_statistics(model: mg.Module, rng) -> mg.Module:
    """BatchNorm's running statistics and affine parameters away from their 0 / 1 starting values."""
    for m in model.modules():
        if isinstance(m, (mg.BatchNorm1d, mg.BatchNorm2d)):
            m.running_mean[...] = rng.standard_normal(m.num_features)
            m.running_var[...] = rng.uniform(0.5, 2.0, m.num_features)
        if isinstance(m, (mg.BatchNorm1d, mg.BatchNorm2d, mg.LayerNorm)) and m.weight is not None:
            m.weight.data[...] = rng.uniform(0.5, 1.5, m.weight.shape)
            if m.bias is not None:
                m.bias.data[...] = rng.standard_normal(m.bias.shape)
    return model


MODULES = [
    (lambda: mg.Linear(7, 4), (7,)),
    (lambda: mg.Linear(7, 4, bias=False), (7,)),
    (mg.Sigmoid, (6,)),
    (mg.Tanh, (6,)),
    (mg.ReLU, (2, 5, 5)),
    (lambda: mg.LeakyReLU(0.2), (6,)),
    (mg.Softmax, (6,)),
    (lambda: mg.Softmax(dim=1), (3, 4)),
    (mg.Flatten, (2, 3, 4)),
    (lambda: mg.Flatten(2), (2, 3, 4)),
    (mg.Identity, (5,)),
    (lambda: mg.Dropout(0.5), (5,)),
    (lambda: mg.Conv2d(3, 4, 3), (3, 9, 9)),
    (lambda: mg.Conv2d(4, 6, (3, 2), stride=2, padding=(1, 2), dilation=(2, 1), groups=2), (4, 11, 10)),
    (lambda: mg.Conv2d(2, 3, 4, padding="same", bias=False), (2, 7, 7)),
    (lambda: mg.MaxPool2d(2), (3, 8, 8)),
    (lambda: mg.MaxPool2d(3, stride=2, padding=1, dilation=2), (2, 11, 11)),
    (lambda: mg.AvgPool2d(2), (3, 8, 8)),
    (lambda: mg.AvgPool2d(3, stride=2, padding=1), (2, 9, 9)),
    (lambda: mg.AdaptiveAvgPool2d(1), (3, 5, 7)),
    (lambda: mg.AdaptiveAvgPool2d((2, 3)), (3, 4, 9)),
    (lambda: mg.BatchNorm1d(5), (5,)),
    (lambda: mg.BatchNorm1d(4, affine=False), (4, 6)),
    (lambda: mg.BatchNorm2d(3, eps=1e-3), (3, 4, 4)),
    (lambda: mg.LayerNorm(6), (6,)),
    (lambda: mg.LayerNorm((3, 4), bias=False), (2, 3, 4)),
]


@pytest.mark.parametrize(("make", "shape"), MODULES, ids=lambda v: repr(v()) if callable(v) else str(v))
def test_every_module_runs_the_same_in_onnxruntime(make, shape, tmp_path, rng):
    model = randomise_statistics(mg.Sequential(make()), rng).eval()
    path = tmp_path / "m.onnx"
    export_checked(model, path, shape)
    assert max_diff_over_batches(model, path, [shape], rng) < TOL


def residual_graph(rng) -> mg.Graph:
    x = mg.Input(20)
    h = mg.ReLU()(mg.Linear(20, 20, rng=rng)(x))
    h = mg.Add()(x, mg.Linear(20, 20, rng=rng)(h))  # the skip connection
    return mg.Graph(x, mg.Linear(20, 5, rng=rng)(mg.LayerNorm(20)(h)))


def test_whole_models_run_the_same_in_onnxruntime(tmp_path, rng):
    models = {
        "nielsen_mlp": (nielsen_mlp([784, 30, 10], rng=0), None),  # shape from the first Linear
        "residual": (residual_graph(rng), None),  # a Graph knows its input shapes
        "nielsen_cnn": (nielsen_cnn(rng=0), (1, 28, 28)),
        "nielsen_cnn_final": (nielsen_cnn(hidden=(100, 100), dropout=0.5, rng=0), np.zeros((2, 1, 28, 28))),
    }
    for name, (model, shape) in models.items():
        path = tmp_path / f"{name}.onnx"
        export_checked(model.eval(), path, shape)
        shapes = (
            [n.shape for n in model.inputs]
            if isinstance(model, mg.Graph)
            else [mg.viz.tracing.infer_input_shape(model) or (1, 28, 28)]
        )
        assert max_diff_over_batches(model, path, shapes, rng) < TOL, name


def test_a_graph_with_two_inputs_two_outputs_concat_and_nesting(tmp_path, rng):
    a, b = mg.Input((2, 6, 6), name="image"), mg.Input((3, 6, 6), name="mask")
    joined = mg.Concat(axis=1)(mg.Conv2d(2, 4, 3, padding=1, rng=rng)(a), b)
    block = mg.Sequential(mg.BatchNorm2d(7), mg.Tanh(), mg.AdaptiveAvgPool2d(1), mg.Flatten())
    feats = block(joined)
    feats.name = "features"
    logits = mg.Linear(7, 3, rng=rng)(feats)
    logits.name = "logits"
    graph = randomise_statistics(mg.Graph([a, b], [logits, feats]), rng).eval()
    proto = export_checked(graph, tmp_path / "g.onnx")
    assert [i.name for i in proto.graph.input] == ["image", "mask"]
    assert [o.name for o in proto.graph.output] == ["logits", "features"]
    initializers = {t.name for t in proto.graph.initializer}
    assert {"conv2d_1.weight", "features.0.running_mean", "logits.weight"} <= initializers  # the state_dict keys
    assert max_diff_over_batches(graph, tmp_path / "g.onnx", [(2, 6, 6), (3, 6, 6)], rng) < TOL


def test_names_come_from_the_model(tmp_path):
    proto = export_checked(nielsen_mlp([4, 3, 2], rng=0), tmp_path / "m.onnx")
    assert [n.name for n in proto.graph.node] == ["0", "1", "2"]
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Sigmoid", "Gemm"]
    assert [t.name for t in proto.graph.initializer] == list(nielsen_mlp([4, 3, 2], rng=0).state_dict())
    assert ([i.name for i in proto.graph.input], [o.name for o in proto.graph.output]) == (["input"], ["output"])


def test_dropout_only_or_a_repeated_output_still_gives_named_outputs(tmp_path, rng):
    x = mg.Input(4)
    h = mg.Tanh()(x)
    export_checked(mg.Graph(x, [h, h]), tmp_path / "g.onnx")
    y1, y2 = run_ort(tmp_path / "g.onnx", np.ones((2, 4)))
    assert np.allclose(y1, np.tanh(1.0)) and np.allclose(y2, np.tanh(1.0))
    export_checked(mg.Sequential(mg.Dropout()), tmp_path / "d.onnx", (4,))
    xs = rng.standard_normal((3, 4)).astype(np.float32)
    assert np.array_equal(run_ort(tmp_path / "d.onnx", xs)[0], xs)


class Doubler(mg.Module):
    def forward(self, x):
        return 2 * x


@pytest.mark.parametrize(
    ("model", "shape", "match"),
    [
        (mg.Sequential(mg.Linear(3, 3), Doubler()), None, r"Doubler\(\) \(1\) has no ONNX form"),
        (mg.Sequential(mg.BatchNorm1d(3, track_running_stats=False)), (3,), "track_running_stats=False"),
        (mg.Sequential(mg.AdaptiveAvgPool2d(3)), (2, 5, 5), "does not divide"),
        (mg.Sequential(mg.Flatten(0)), (2, 3), "batch dimension"),
    ],
)
def test_modules_without_an_onnx_form_are_named(model, shape, match, tmp_path):
    with pytest.raises(mg.ConversionError, match=match):
        mg.onnx.export(model, tmp_path / "x.onnx", shape)
    assert not (tmp_path / "x.onnx").exists()


def test_an_input_shape_is_needed_for_a_convolutional_sequential(tmp_path):
    with pytest.raises(mg.ShapeError, match="pass input_shape"):
        mg.onnx.export(nielsen_cnn(rng=0), tmp_path / "x.onnx")
    with pytest.raises(mg.ShapeError, match="does not fit the model"):
        mg.onnx.export(nielsen_cnn(rng=0), tmp_path / "x.onnx", (3, 28, 28))


# -- load: our own files back ------------------------------------------------------------------
def test_export_then_load_gives_the_same_network_and_keys(tmp_path, rng):
    for model, shape in ((nielsen_cnn(rng=0), (1, 28, 28)), (residual_graph(rng), (20,))):
        model = randomise_statistics(model, rng).eval()
        mg.onnx.export(model, tmp_path / "m.onnx", shape)
        back = mg.onnx.load(tmp_path / "m.onnx").eval()
        assert type(back) is type(model)
        assert list(back.state_dict()) == list(model.state_dict())
        x = rng.standard_normal((4, *shape)).astype(np.float32)
        assert np.abs(back(x) - model(x)).max() < TOL
        assert back.summary().count("\n") == model.summary(shape).count("\n")  # input shape known from the file


def test_load_of_every_exported_module(tmp_path, rng):
    for make, shape in MODULES:
        model = randomise_statistics(mg.Sequential(make()), rng).eval()
        mg.onnx.export(model, tmp_path / "m.onnx", shape)
        back = mg.onnx.load(tmp_path / "m.onnx").eval()
        x = rng.standard_normal((3, *shape)).astype(np.float32)
        assert np.abs(back(x) - model(x)).max() < TOL, repr(model)


def test_outputs_that_are_one_tensor_in_either_order(tmp_path, rng):
    x = mg.Input(4)
    h = mg.Linear(4, 3, rng=rng)(x)
    h.name = "hidden"
    dropped = mg.Dropout(0.5)(h)  # no node of its own: the same tensor as "hidden"
    dropped.name = "dropped"
    xs = rng.standard_normal((2, 4)).astype(np.float32)
    for outputs in ([h, dropped], [dropped, h]):
        graph = mg.Graph(x, outputs).eval()
        proto = export_checked(graph, tmp_path / "g.onnx")
        assert [o.name for o in proto.graph.output] == [o.name for o in outputs]
        a, b = run_ort(tmp_path / "g.onnx", xs)
        assert np.abs(a - graph(xs)[0]).max() < TOL and np.array_equal(a, b)


def test_a_bare_layer_exports_under_its_own_keys(tmp_path, rng):
    layer = mg.Conv2d(2, 3, 3, rng=rng)
    proto = export_checked(layer, tmp_path / "c.onnx", (2, 5, 5))
    assert [t.name for t in proto.graph.initializer] == ["weight", "bias"] == list(layer.state_dict())
    x = rng.standard_normal((2, 2, 5, 5)).astype(np.float32)
    assert np.abs(run_ort(tmp_path / "c.onnx", x)[0] - layer(x)).max() < TOL
