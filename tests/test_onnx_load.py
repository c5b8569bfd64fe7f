"""mg.onnx.load on hand-written files: shape arithmetic, each refusal named with its node, the Reshape module."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.onnx.modules import Reshape

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
h = onnx.helper


def save(tmp_path, nodes, in_shape, out_shape, initializers=None, opset=17, name="m.onnx"):
    graph = h.make_graph(
        nodes,
        "handmade",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", *in_shape])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", *out_shape] if out_shape else None)],
        [onnx.numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()],
    )
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)], ir_version=8)
    onnx.save(model, tmp_path / name)
    return tmp_path / name


def test_shape_arithmetic_is_folded_into_a_reshape(tmp_path, rng):
    """(N, 2, 3, 4) -> (N, 3, 8) by Shape, Slice, Gather, Mul, Cast, Squeeze, Unsqueeze, Concat; ORT agrees."""
    i64 = lambda *v: np.array(v, dtype=np.int64)  # noqa: E731
    nodes = [
        h.make_node("Shape", ["x"], ["s"], name="shape"),  # [N, 2, 3, 4]
        h.make_node("Slice", ["s", "ax0", "one"], ["batch"], name="batch"),  # [N]
        h.make_node("Gather", ["s", "two"], ["c"], name="gather"),  # 3
        h.make_node("Mul", ["two_f", "four"], ["prod"], name="mul"),  # [8.0]
        h.make_node("Cast", ["prod"], ["prod_i"], name="cast", to=onnx.TensorProto.INT64),
        h.make_node("Squeeze", ["prod_i", "ax0"], ["prod_s"], name="squeeze"),  # 8
        h.make_node("Unsqueeze", ["c", "ax0"], ["c1"], name="unsq"),  # [3]
        h.make_node("Unsqueeze", ["prod_s", "ax0"], ["p1"], name="unsq_2"),  # [8]
        h.make_node("Concat", ["batch", "c1", "p1"], ["target"], name="concat", axis=0),  # [N, 3, 8]
        h.make_node("Transpose", ["x"], ["xt"], name="t", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["xt", "target"], ["y"], name="reshape"),
    ]
    consts = {"ax0": i64(0), "one": i64(1), "two": np.array(2, np.int64), "two_f": [2.0], "four": [4.0]}
    with pytest.raises(mg.ConversionError, match=r"node 't' \(Transpose\): operator Transpose is not supported"):
        mg.onnx.load(save(tmp_path, nodes, [2, 3, 4], [3, 8], consts))  # Transpose of the data: not a module
    path = save(tmp_path, [*nodes[:-2], h.make_node("Reshape", ["x", "target"], ["y"], name="reshape")], [2, 3, 4],
                [3, 8], consts)  # fmt: skip
    model = mg.onnx.load(path)
    assert isinstance(model[0], Reshape) and model[0].shape == (3, 8)
    x = rng.standard_normal((5, 2, 3, 4)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert np.array_equal(model(x), session.run(None, {"x": x})[0])


def test_constants_through_identity_transpose_div_and_sub(tmp_path, rng):
    w = rng.standard_normal((3, 4)).astype(np.float32)
    nodes = [
        h.make_node("Identity", ["w"], ["w2"], name="same"),
        h.make_node("Transpose", ["w2"], ["wt"], name="t"),  # (4, 3)
        h.make_node("Div", ["wt", "two"], ["half"], name="div"),
        h.make_node("Sub", ["half", "zero"], ["half2"], name="sub"),
        h.make_node("Constant", [], ["bias"], name="bias", value=onnx.numpy_helper.from_array(np.ones(3, np.float32))),
        h.make_node("Gemm", ["x", "half2", "bias"], ["y"], name="fc", alpha=2.0, beta=0.5),
    ]
    model = mg.onnx.load(save(tmp_path, nodes, [4], [3], {"w": w, "two": np.float32(2), "zero": np.float32(0)}))
    x = rng.standard_normal((2, 4)).astype(np.float32)
    assert np.allclose(model(x), x @ w.T + 0.5, atol=1e-6)  # alpha * (x @ (w.T / 2)) + beta * 1


def node(op, inputs, **attrs):
    return h.make_node(op, inputs, ["y"], name=f"the_{op.lower()}", **attrs)


W4 = np.zeros((2, 1, 3, 3), np.float32)
REFUSALS = [
    ([node("Abs", ["x"])], [4], {}, r"node 'the_abs' \(Abs\): operator Abs is not supported"),
    ([node("Conv", ["x", "w"], pads=[1, 0, 0, 1])], [1, 6, 6], {"w": W4}, "not the same on both sides"),
    ([node("Conv", ["x", "w"], auto_pad="SAME_LOWER")], [1, 6, 6], {"w": W4}, "auto_pad=SAME_LOWER"),
    ([node("Conv", ["x", "w"])], [1, 6], {"w": np.zeros((2, 1, 3), np.float32)}, "only 2-D convolutions"),
    ([node("Conv", ["x", "x"])], [1, 6, 6], {}, r"input 1 \(W\) must be a constant"),
    ([node("MaxPool", ["x"], kernel_shape=[2, 2], ceil_mode=1)], [1, 6, 6], {}, "ceil_mode=1"),
    ([node("MaxPool", ["x"], kernel_shape=[2])], [1, 6], {}, "only 2-D pooling"),
    ([node("AveragePool", ["x"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], [1, 6, 6], {}, "count_include_pad=0"),
    ([node("GlobalAveragePool", ["x"])], [1, 6], {}, r"only images \(N, C, H, W\)"),
    ([node("Flatten", ["x"], axis=2)], [2, 3], {}, "Flatten axis=2 would merge the batch"),
    ([node("Softmax", ["x"], axis=1)], [2, 3], {}, "opset 11 Softmax over axes 1"),
    ([node("Gemm", ["x", "w"], transA=1)], [3], {"w": np.zeros((3, 3), np.float32)}, "untransposed"),
    ([node("MatMul", ["x", "w"])], [2, 3], {"w": np.zeros((3, 3), np.float32)}, r"\(N, in\) @ \(in, out\)"),
    ([node("Add", ["x", "b"])], [3], {"b": np.zeros(3, np.float32)}, "only as the bias of a MatMul"),
    (
        [node("Reshape", ["x", "s"])],
        [2, 3],
        {"s": np.array([-1, 3], np.int64)},
        r"cannot reshape \(N, 2, 3\) to \(N, 3\)",
    ),
    ([node("Reshape", ["x", "s"])], [2, 3], {"s": np.array([3, -1], np.int64)}, "does not keep the batch dimension"),
    ([node("Reshape", ["x", "s"])], [2, 3], {"s": np.array([0, 4], np.int64)}, r"cannot reshape \(N, 2, 3\)"),
    ([node("LayerNormalization", ["x", "s"], axis=0)], [3], {"s": np.ones(3, np.float32)}, "over the batch axis"),
    ([node("BatchNormalization", ["x", "s", "s", "s", "s"])], [3, 2, 2, 2], {"s": np.ones(3, np.float32)}, "rank 5"),
    (
        [h.make_node("Concat", ["x", "c"], ["y"], name="cat", axis=1)],
        [2],
        {"c": np.zeros((1, 2), np.float32)},
        r"input 1 must be computed from the model's input",
    ),  # fmt: skip
    (
        [h.make_node("Dropout", ["x"], ["y", "mask"], name="drop"), h.make_node("Identity", ["mask"], ["m2"])],
        [3],
        {},
        r"extra output\(s\) \['mask'\] are used",
    ),  # fmt: skip
    ([h.make_node("Relu", ["x"], ["y"], name="custom", domain="com.example")], [3], {}, "domain 'com.example'"),
    ([h.make_node("Relu", ["nowhere"], ["y"], name="lost")], [3], {}, r"\['nowhere'\] are produced by no earlier"),
    (
        [h.make_node("ConstantOfShape", ["s"], ["y"], name="c")],
        [3],
        {"s": np.array([2], np.int64)},
        "ConstantOfShape on constants is not supported",
    ),  # fmt: skip
    (
        [h.make_node("Gather", ["s", "i"], ["g"], name="pick"), node("Reshape", ["x", "g"])],
        [3],
        {"s": np.array([1, 2], np.int64), "i": np.array(5, np.int64)},
        r"node 'pick' \(Gather\): could not evaluate it on its constant inputs",
    ),
    ([h.make_node("Relu", ["x"], ["y"])], [3], {"nothing": np.zeros(1)}, None),  # an unnamed node loads too
    ([node("Identity", ["x"])], [3], {}, None),  # the control: this one loads
]


@pytest.mark.parametrize(("nodes", "shape", "consts", "match"), REFUSALS, ids=[r[3] or "loads" for r in REFUSALS])
def test_what_does_not_load_is_named_with_its_node(nodes, shape, consts, match, tmp_path):
    opset = 11 if "opset 11" in (match or "") else 17
    path = save(tmp_path, nodes, shape, None, consts, opset=opset)
    if match is None:
        assert isinstance(mg.onnx.load(path)[0], (mg.Identity, mg.ReLU))
        return
    with pytest.raises(mg.ConversionError, match=match):
        mg.onnx.load(path)


def test_old_opsets_unsqueeze_attribute_softmax_and_dropout_ratio(tmp_path, rng):
    nodes = [
        h.make_node("Dropout", ["x"], ["d"], name="drop", ratio=0.3),
        h.make_node("Softmax", ["d"], ["y"], name="soft", axis=1),  # the last axis of (N, 5): the same in opset 11
    ]
    model = mg.onnx.load(save(tmp_path, nodes, [5], [5], opset=11))
    assert model[0].p == pytest.approx(0.3) and model[1].dim == 1
    x = rng.standard_normal((3, 5)).astype(np.float32)
    assert np.allclose(model.eval()(x), np.exp(x) / np.exp(x).sum(1, keepdims=True), atol=1e-6)


def test_reshape_module_gradcheck_errors_and_saving(tmp_path, rng):
    assert mg.gradcheck(Reshape((3, 4)), rng.standard_normal((2, 2, 6))).ok
    with pytest.raises(mg.ShapeError, match="values per example"):
        Reshape((3, 4))(np.zeros((2, 5)))
    with pytest.raises(mg.ShapeError, match="positive ints"):
        Reshape((0, 4))
    with pytest.raises(mg.GraphError, match="cannot reshape"):
        Reshape((3, 4))(mg.Input(5))
    net = mg.Sequential(mg.Linear(6, 12), Reshape((3, 4)))
    mg.save(net, tmp_path / "r.npz")
    back = mg.load(tmp_path / "r.npz")
    x = rng.standard_normal((2, 6)).astype(np.float32)
    assert repr(back[1]) == "Reshape(shape=(3, 4))" and np.array_equal(back(x), net(x))


def test_a_two_input_two_output_graph_round_trips(tmp_path, rng):
    a, b = mg.Input(4, name="left"), mg.Input(3, name="right")
    joined = mg.Concat()(mg.Tanh()(mg.Linear(4, 5)(a)), b)
    out1, out2 = mg.Linear(8, 2)(joined), mg.Sigmoid()(joined)
    graph = mg.Graph([a, b], [out1, out2])
    mg.onnx.export(graph, tmp_path / "g.onnx")
    back = mg.onnx.load(tmp_path / "g.onnx")
    assert isinstance(back, mg.Graph) and [n.name for n in back.inputs] == ["left", "right"]
    assert list(back.state_dict()) == list(graph.state_dict())
    xs = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 3)).astype(np.float32)
    for ours, theirs in zip(back(*xs), graph(*xs)):
        assert np.abs(ours - theirs).max() < 1e-6


def test_a_float64_model_exports_as_float32(tmp_path, rng, float64_default):
    model = mg.Sequential(mg.Linear(5, 3), mg.Tanh())
    assert model[0].weight.dtype == np.float64
    mg.onnx.export(model, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((4, 5))
    assert np.abs(session.run(None, {"input": x.astype(np.float32)})[0] - model(x)).max() < 1e-5


def test_bias_first_or_as_a_row_after_matmul_and_in_gemm(tmp_path, rng):
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal((1, 3)).astype(np.float32)
    for i, nodes in enumerate(
        (
            [h.make_node("MatMul", ["x", "w"], ["xw"], name="mm"), h.make_node("Add", ["b", "xw"], ["y"], name="add")],
            [h.make_node("Gemm", ["x", "w", "b"], ["y"], name="gemm")],  # transB=0: B is (in, out)
        )
    ):
        model = mg.onnx.load(save(tmp_path, nodes, [4], [3], {"w": w, "b": b}, name=f"{i}.onnx"))
        assert len(model) == 1 and model[0].bias is not None
        x = rng.standard_normal((5, 4)).astype(np.float32)
        assert np.abs(model(x) - (x @ w + b)).max() < 1e-5
    bad = [h.make_node("Gemm", ["x", "w", "c"], ["y"], name="gemm")]
    with pytest.raises(mg.ConversionError, match=r"C of shape \(2, 3\) is not one bias per output"):
        mg.onnx.load(save(tmp_path, bad, [4], [3], {"w": w, "c": np.zeros((2, 3), np.float32)}))
