"""mg.onnx.load of what torch.onnx.export writes: same predictions, further training, pictures; clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minigrad as mg

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

TOL = 1e-5


def torch_export(model, example, path, **kwargs) -> None:
    """The TorchScript exporter (``dynamo=False``: the new one needs onnxscript), batch dynamic, opset 17."""
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notices; the suite turns warnings into errors
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "N"}, "y": {0: "N"}},
            opset_version=17,
            **kwargs,
        )


class SmallCNN(torch.nn.Module):
    """Conv, BatchNorm, ReLU, MaxPool, AvgPool, ``x.view(x.size(0), -1)``, Dropout, Linear: torch's usual shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.pool = torch.nn.MaxPool2d(2)
        self.avg = torch.nn.AvgPool2d(2)
        self.drop = torch.nn.Dropout(0.25)
        self.fc = torch.nn.Linear(4 * 3 * 3, 5)

    def forward(self, x):
        x = self.avg(self.pool(torch.relu(self.bn(self.conv(x)))))
        return self.fc(self.drop(x.view(x.size(0), -1)))


def small_cnn() -> SmallCNN:
    torch.manual_seed(0)
    net = SmallCNN()
    with torch.no_grad():
        net.bn.running_mean.normal_()
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.normal_()
    return net


@pytest.mark.parametrize("folding", [True, False], ids=["constants-folded", "as-written"])
def test_a_torch_cnn_loads_and_predicts_the_same(folding, tmp_path, rng):
    net = small_cnn()
    torch_export(net, torch.zeros(2, 1, 12, 12), tmp_path / "cnn.onnx", do_constant_folding=folding)
    model = mg.onnx.load(tmp_path / "cnn.onnx").eval()
    kinds = [type(m).__name__ for m in model]
    assert kinds[0] == "Conv2d" and "MaxPool2d" in kinds and "AvgPool2d" in kinds and kinds[-1] == "Linear"
    assert ("BatchNorm2d" in kinds) is not folding  # folding merges BatchNorm into the convolution
    for n in (1, 4, 9):
        x = rng.standard_normal((n, 1, 12, 12)).astype(np.float32)
        with torch.no_grad():
            theirs = net(torch.from_numpy(x)).numpy()
        assert np.abs(model(x) - theirs).max() < TOL


def test_a_torch_mlp_loads_as_gemm_layers(tmp_path, rng):
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Softmax(1))
    torch_export(net, torch.zeros(2, 784), tmp_path / "mlp.onnx")
    model = mg.onnx.load(tmp_path / "mlp.onnx")
    assert [type(m).__name__ for m in model] == ["Linear", "Sigmoid", "Linear", "Softmax"]
    assert np.array_equal(model[0].weight.data, net[0].weight.detach().numpy())
    x = rng.standard_normal((6, 784)).astype(np.float32)
    assert np.abs(model(x) - net(torch.from_numpy(x)).detach().numpy()).max() < TOL


def test_a_loaded_torch_model_trains_further_and_draws_both_ways(tmp_path, rng):
    torch_export(small_cnn(), torch.zeros(2, 1, 12, 12), tmp_path / "cnn.onnx", do_constant_folding=False)
    model = mg.onnx.load(tmp_path / "cnn.onnx").train()
    x = rng.standard_normal((32, 1, 12, 12)).astype(np.float32)
    y = rng.integers(0, 5, 32)
    loss, opt = mg.SoftmaxCrossEntropy(), mg.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        losses.append(loss(model(x), y))
        model.backward(loss.backward())
        opt.step()
    assert losses[-1] < 0.5 * losses[0]
    forward = mg.draw(model).source
    assert "Conv2d" in forward and "BatchNorm2d" in forward and "(N, 1, 12, 12)" in forward
    model.retain_grad()
    model.zero_grad()
    loss(model(x), y)
    model.backward(loss.backward())
    backward = mg.draw(model, loss=loss, gradients=True).source
    assert backward != forward and "legend" in backward


def _model_proto(nodes, initializers, in_shape, out_shape):
    h = onnx.helper
    graph = h.make_graph(
        nodes,
        "handmade",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", *in_shape])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", *out_shape])],
        [onnx.numpy_helper.from_array(v, k) for k, v in initializers.items()],
    )
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=8)


def test_matmul_plus_add_loads_as_one_linear(tmp_path, rng):
    w = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [
        onnx.helper.make_node("MatMul", ["x", "W"], ["xw"], name="/fc/MatMul"),
        onnx.helper.make_node("Add", ["xw", "b"], ["y"], name="/fc/Add"),
    ]
    onnx.save(_model_proto(nodes, {"W": w, "b": b}, [5], [3]), tmp_path / "mm.onnx")
    model = mg.onnx.load(tmp_path / "mm.onnx")
    assert len(model) == 1 and isinstance(model[0], mg.Linear) and model[0].bias is not None
    x = rng.standard_normal((4, 5)).astype(np.float32)
    assert np.abs(model(x) - (x @ w + b)).max() < TOL


def test_a_branching_file_loads_as_a_graph(tmp_path, rng):
    w = rng.standard_normal((4, 4)).astype(np.float32)
    nodes = [
        onnx.helper.make_node("Gemm", ["x", "W"], ["h"], name="/fc/Gemm", transB=1),
        onnx.helper.make_node("Relu", ["h"], ["r"], name="/act/Relu"),
        onnx.helper.make_node("Add", ["x", "r"], ["y"], name="/skip/Add"),
    ]
    onnx.save(_model_proto(nodes, {"W": w}, [4], [4]), tmp_path / "res.onnx")
    model = mg.onnx.load(tmp_path / "res.onnx")
    assert isinstance(model, mg.Graph) and [n.name for n in model.nodes] == ["fc_Gemm", "act_Relu", "skip_Add"]
    x = rng.standard_normal((3, 4)).astype(np.float32)
    assert np.abs(model(x) - (x + np.maximum(x @ w.T, 0))).max() < TOL


def test_an_unsupported_operator_is_named_with_its_node(tmp_path):
    class Odd(torch.nn.Module):
        def forward(self, x):
            return torch.abs(x) + 1

    torch_export(Odd(), torch.zeros(2, 3), tmp_path / "abs.onnx")
    with pytest.raises(mg.ConversionError, match=r"node '/Abs' \(Abs\): operator Abs is not supported"):
        mg.onnx.load(tmp_path / "abs.onnx")


def test_files_that_are_not_onnx_are_clear_errors(tmp_path):
    with pytest.raises(mg.ConversionError, match="no such file"):
        mg.onnx.load(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\x00not a protobuf at all\xff" * 3)
    with pytest.raises(mg.ConversionError, match="not a readable ONNX file"):
        mg.onnx.load(tmp_path / "junk.onnx")


def test_a_file_traced_with_a_fixed_batch_loads_for_any_batch(tmp_path, rng):
    net = small_cnn().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros(2, 1, 12, 12),), str(tmp_path / "fixed.onnx"), dynamo=False)
    model = mg.onnx.load(tmp_path / "fixed.onnx").eval()  # its Reshape's target is the constant [2, -1]
    x = rng.standard_normal((7, 1, 12, 12)).astype(np.float32)
    with torch.no_grad():
        assert np.abs(model(x) - net(torch.from_numpy(x)).numpy()).max() < TOL


def test_inputs_without_a_static_shape_are_refused(tmp_path):
    h = onnx.helper
    graph = h.make_graph(
        [h.make_node("Relu", ["x"], ["y"], name="relu")],
        "dynamic",
        [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", "features"])],
        [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", "features"])],
    )
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=8), tmp_path / "d.onnx")
    with pytest.raises(mg.ConversionError, match=r"input 'x' needs a shape \(N, \.\.\.\) static after the batch"):
        mg.onnx.load(tmp_path / "d.onnx")


class Branchy(torch.nn.Module):
    """A residual add, a concatenation, global pooling, LayerNorm, LeakyReLU, Tanh and Softmax: loads as a Graph."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.side = torch.nn.Conv2d(3, 2, 1)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.norm = torch.nn.LayerNorm(5)
        self.fc = torch.nn.Linear(5, 4)

    def forward(self, x):
        h = x + torch.nn.functional.leaky_relu(self.conv(x), 0.2)  # residual
        h = torch.cat([h, torch.tanh(self.side(h))], dim=1)  # (N, 5, H, W)
        h = torch.flatten(self.pool(h), 1)
        return torch.softmax(self.fc(self.norm(h)), dim=1)


def test_a_branching_torch_model_loads_as_a_graph(tmp_path, rng):
    torch.manual_seed(0)
    net = Branchy().eval()
    torch_export(net, torch.zeros(2, 3, 6, 6), tmp_path / "branchy.onnx")
    model = mg.onnx.load(tmp_path / "branchy.onnx")
    assert isinstance(model, mg.Graph)
    kinds = {type(n.module).__name__ for n in model.nodes}
    assert {"Add", "Concat", "AdaptiveAvgPool2d", "LayerNorm", "LeakyReLU", "Tanh", "Softmax"} <= kinds
    x = rng.standard_normal((5, 3, 6, 6)).astype(np.float32)
    with torch.no_grad():
        assert np.abs(model(x) - net(torch.from_numpy(x)).numpy()).max() < TOL
