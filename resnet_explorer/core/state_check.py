"""Checking a state dict read from a file against the network it is meant to fill, before loading it.

``load_state_dict`` would silently cast int64 "weights" to float (every class then scores the same),
happily load NaN or infinite values (every probability prints ``nan%``), and raise a multi-line
``RuntimeError`` for shapes. Here each of those becomes one line naming the tensor.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from .cards import join_problems
from .errors import UserInputError


def state_problems(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> list[str]:
    """How ``given`` fails to fit ``expected`` (keys, shapes, dtypes), then what is wrong in its values."""
    fit = fit_problems(expected, given)
    return fit or value_problems(expected, given)


def fit_problems(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> list[str]:
    """Missing and unexpected keys, wrong shapes, and non-floating tensors where weights are floats."""
    missing = [k for k in expected if k not in given]
    extra = [k for k in given if k not in expected]
    common = [k for k in expected if k in given]
    shapes = [k for k in common if tuple(expected[k].shape) != tuple(given[k].shape)]
    # BatchNorm's num_batches_tracked is int64 by design; only float parameters and buffers must be float.
    dtypes = [k for k in common if expected[k].is_floating_point() and not given[k].is_floating_point()]
    out = [f"{len(keys)} {label} (e.g. {keys[0]})" for label, keys in
           (("missing", missing), ("unexpected", extra)) if keys]
    if shapes:
        k = shapes[0]
        out.append(f"{_count(shapes)}{k} has shape {_shape(given[k])}, expected {_shape(expected[k])}")
    if dtypes:
        k = dtypes[0]
        out.append(f"{_count(dtypes)}{k} holds {_dtype(given[k])} values, expected floating-point weights")
    return out


def value_problems(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> list[str]:
    """NaN or infinite weights, and negative BatchNorm variances (whose square root is NaN)."""
    floats = [k for k in expected if k in given and given[k].is_floating_point()]
    bad = [k for k in floats if not bool(torch.isfinite(given[k]).all())]
    negative = [k for k in floats
                if k.endswith("running_var") and k not in bad and bool((given[k] < 0).any())]
    out = []
    if bad:
        out.append(f"{_count(bad)}{bad[0]} holds NaN or infinite values")
    if negative:
        out.append(f"{_count(negative)}{negative[0]} holds negative variances")
    return out


def check_state(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor],
                path: str | os.PathLike[str], arch: str) -> None:
    """Raise :class:`UserInputError` (one line) unless ``given`` fits a net whose state is ``expected``."""
    fit = fit_problems(expected, given)
    if fit:
        raise UserInputError(f"the weights in {path} do not fit {arch}: {join_problems(fit)}")
    values = value_problems(expected, given)
    if values:
        raise UserInputError(f"the weights in {path} are broken: {join_problems(values)}")


def _count(keys: list[str]) -> str:
    return f"{len(keys)} tensors are wrong, e.g. " if len(keys) > 1 else ""


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")
