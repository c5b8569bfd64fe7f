"""Shared fixtures: float64 by default inside gradient tests, a seeded generator."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def float64_default():
    """Create parameters in float64 for the duration of a test."""
    old = mg.get_default_dtype()
    mg.set_default_dtype(np.float64)
    yield
    mg.set_default_dtype(old)
