"""Which torch device a user's ``--device`` choice means."""

from __future__ import annotations

import torch

from .errors import UserInputError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` -> CUDA when available, else CPU; asking for an absent CUDA is a clear error."""
    name = str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError("--device cuda was asked for, but no CUDA GPU is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserInputError(f"unknown device {device!r}; use auto, cpu or cuda") from None
