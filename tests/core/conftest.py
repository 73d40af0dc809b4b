"""Shared fixtures of the core's model-file tests."""

from __future__ import annotations

import pytest
import torch

from resnet_explorer import build_model

# The smallest card a resnet20 model file needs (the bundled default's preprocessing).
RESNET20_CARD = {"model": {"arch": "resnet20", "num_classes": 10, "in_chans": 1},
                 "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353]}}


@pytest.fixture(scope="module")
def state() -> dict[str, torch.Tensor]:
    """A seeded resnet20 state dict (grey input), built once per test module."""
    torch.manual_seed(0)
    return build_model("resnet20", in_chans=1).state_dict()
