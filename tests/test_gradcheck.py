"""gradcheck must catch the classic backward bugs, and say which tensor is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


class Affine(mg.Module):
    """y = x * w + b with configurable bugs in its backward."""

    def __init__(self, bug: str | None = None) -> None:
        super().__init__()
        self.w = mg.Parameter(np.array([0.5, -1.5, 2.0]))
        self.b = mg.Parameter(np.array([0.1, 0.2, 0.3]))
        self.bug = bug

    def forward(self, x):
        self.x = x
        return x * self.w.data + self.b.data

    def backward(self, g):
        gw = (g * self.x).sum(axis=0)
        if self.bug == "factor":
            gw = 2 * gw
        if self.bug == "overwrite":
            self.w.grad[...] = gw
        elif self.bug != "skip":
            self.w.grad += gw
        if self.bug != "flag" or self.needs_input_grad:  # "flag": the bias gradient lost when dL/dx is not wanted
            self.b.grad += g.sum(axis=0)
        if self.bug == "flag" and not self.needs_input_grad:
            return None
        gx = g * self.w.data
        if self.bug == "inplace":
            g *= 0
        return 0.5 * gx if self.bug == "input" else gx


X = np.random.default_rng(0).standard_normal((4, 3))


def test_correct_module_passes_and_report_prints():
    report = mg.gradcheck(Affine(), X)
    assert report.ok
    text = str(report)
    assert "gradcheck of Affine(): ok" in text and "max rel err" in text and "w " in text


@pytest.mark.parametrize(
    "bug,bad",
    [
        ("factor", "w"),
        ("skip", "w"),
        ("overwrite", "w"),
        ("input", "input"),
        ("inplace", "modified"),
        ("flag", "needs_input_grad is False"),
    ],
)
def test_bugs_are_caught_and_named(bug, bad):
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(Affine(bug), X)
    assert info.value.report is not None and not info.value.report.ok
    failing = [c.name for c in info.value.report.checks if not c.ok] + info.value.report.problems
    assert any(bad in f for f in failing), failing
    assert mg.gradcheck(Affine(bug), X, raise_on_failure=False).ok is False


def test_max_checks_samples_elements():
    report = mg.gradcheck(mg.Linear(30, 20, rng=0), np.ones((2, 30)), max_checks=7)
    assert [c.checked for c in report.checks] == [7, 7, 7]
