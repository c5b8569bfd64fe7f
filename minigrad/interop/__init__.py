"""Conversion to and from PyTorch: ``mg.interop.to_torch(model)`` and ``mg.interop.from_torch(module)``.

    net = mg.interop.to_torch(model)          # a torch.nn.Module with the same weights: go on in PyTorch
    model = mg.interop.from_torch(torch_net)  # a minigrad Module with torch_net's weights

Both directions build the matching module for each layer (``torch_out.TO_TORCH``, ``torch_in.FROM_TORCH``:
same class names, arguments and defaults), then copy every parameter and buffer through
``load_state_dict``, whose keys are the same on both sides. A ``Graph`` becomes a ``TorchGraph``
(``torch_graph``), which converts back. A module the other side has no form of raises
``ConversionError`` naming it. torch is imported only when these functions run.
"""

from __future__ import annotations

from .torch_in import from_torch
from .torch_out import require_torch, to_torch

__all__ = ["from_torch", "require_torch", "to_torch"]
