"""One error policy: every error a user can act on is a MinigradError and the built-in type expected."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import errors

X, Y = np.ones((4, 2), np.float32), np.array([0, 1, 0, 1])


def fit_with(**kwargs):
    net = mg.Sequential(mg.Linear(2, 2, rng=0))
    opts = {"epochs": 1, "batch_size": 2, "progress": False, "verbose": False, **kwargs}
    return mg.fit(net, mg.SoftmaxCrossEntropy(), mg.SGD(net.parameters(), lr=0.1), X, Y, **opts)


CASES = [
    (lambda: mg.Dropout(1.5), errors.HyperParameterError, ValueError, "Dropout: p"),
    (lambda: mg.Dropout("0.5"), errors.HyperParameterError, ValueError, "Dropout: p"),
    (lambda: mg.SGD(mg.Linear(2, 2).parameters(), lr=float("nan")), errors.HyperParameterError, ValueError, "lr"),
    (lambda: mg.Adam(mg.Linear(2, 2).parameters(), eps=-1), errors.HyperParameterError, ValueError, "eps"),
    (lambda: mg.Linear(2, 2).to("int32"), errors.ConfigError, ValueError, "floating dtype"),
    (lambda: mg.Linear(2, 2).to("no such dtype"), errors.ConfigError, ValueError, "not a NumPy dtype"),
    (lambda: mg.Linear(2, 2, init="nope"), errors.ConfigError, ValueError, "unknown initialiser"),
    (lambda: mg.Linear(2, 2, dtype="int8"), errors.ConfigError, ValueError, "floating dtype"),
    (lambda: mg.SoftmaxCrossEntropy("avg"), errors.ConfigError, ValueError, "reduction"),
    (lambda: mg.Sequential(mg.Identity())["0"], errors.ArgumentTypeError, TypeError, "indices"),
    (lambda: mg.Linear(2, 2, rng="seed"), errors.ArgumentTypeError, TypeError, "rng"),
    (lambda: mg.Sequential().add_module("a", [1]), errors.ArgumentTypeError, TypeError, "expected a Module"),
    (lambda: list(mg.batches(X, Y, 0)), errors.HyperParameterError, ValueError, "batch_size"),
    (lambda: fit_with(epochs="3"), errors.HyperParameterError, ValueError, "epochs"),
    (lambda: fit_with(metrics=("f1",)), errors.ConfigError, ValueError, "unknown metric"),
]


@pytest.mark.parametrize("call,kind,builtin,words", CASES)
def test_each_bad_argument_gets_its_own_type_and_says_what(call, kind, builtin, words):
    with pytest.raises(kind, match=words) as info:
        call()
    assert isinstance(info.value, mg.MinigradError) and isinstance(info.value, builtin)


def test_every_error_type_subclasses_minigrad_error_and_a_builtin():
    kinds = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)]
    for kind in kinds:
        if kind is errors.MinigradError:
            continue
        assert issubclass(kind, errors.MinigradError), kind
        assert issubclass(kind, (ValueError, TypeError, RuntimeError, AssertionError)), kind
