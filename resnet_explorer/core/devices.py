"""Which torch device a user's ``--device`` choice means, and what the CPU is called."""

from __future__ import annotations

import platform
from pathlib import Path

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


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux), for model cards and benchmark tables."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
