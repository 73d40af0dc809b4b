"""Li, Xu, Taylor, Studer, Goldstein (NeurIPS 2018): the loss landscape around trained weights.

The loss is measured at θ + a·d1 (1-D) or θ + a·d1 + b·d2 (2-D) for a, b on a grid in [-span, span],
where d1, d2 are random Gaussian directions with *filter-wise normalisation*: each output filter of a
conv or fc weight is rescaled to the norm of the same filter of θ,

    d_ij <- d_ij / ||d_ij|| * ||θ_ij||,

so that a step of 1 changes every filter by as much as the filter itself, whatever the scale BN made it.
Biases and BN parameters get a zero direction (the paper's choice), and BN running statistics are never
touched: the model stays in eval mode. Shortcuts make ResNet-56's surface smooth and nearly convex; its
plain counterpart's is chaotic (the paper's Fig. 1 and 5).

The weights are changed in place and always restored (``try``/``finally``), also on error or cancel.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import limits, study_limits
from .errors import UserInputError
from .studies import EvalSet, Measurement, ProgressFn, check_cancel, measure, report

Direction = dict[str, torch.Tensor]  # parameter name -> a tensor of the parameter's shape


def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> Direction:
    """A Gaussian direction in weight space, normalised filter by filter (Li et al. 2018, section 4).

    Conv and fc weights: each output filter (row of dim 0) is rescaled to the norm of the same filter of
    the model's weights; every other parameter (biases, BN weight and bias) gets zeros. ``generator`` is a
    CPU generator, so the same seed gives the same direction on any device.
    """
    normalised = {f"{name}.weight" if name else "weight"
                  for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))}
    direction = {}
    for name, p in model.named_parameters():
        if name not in normalised:
            direction[name] = torch.zeros_like(p)
            continue
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.device, p.dtype)
        scale = _filter_norms(p.detach()) / _filter_norms(d).clamp_min(1e-12)
        direction[name] = d * scale.view(-1, *([1] * (p.dim() - 1)))
    return direction


def _filter_norms(t: torch.Tensor) -> torch.Tensor:
    """The norm of each output filter (each slice along dim 0)."""
    norms: torch.Tensor = torch.linalg.vector_norm(t.flatten(1), dim=1)
    return norms


class WeightShift:
    """Sets a model's weights to θ + Σ c_i·d_i in place; :meth:`restore` puts θ back exactly."""

    def __init__(self, model: nn.Module, directions: list[Direction]) -> None:
        # Only parameters that some direction moves; the rest (biases, BN) are never written.
        self.params = {name: p for name, p in model.named_parameters()
                       if any(bool(d[name].any()) for d in directions)}
        self.theta = {name: p.detach().clone() for name, p in self.params.items()}
        self.directions = directions

    @torch.no_grad()
    def move_to(self, coords: tuple[float, ...]) -> None:
        """θ + coords[0]·d1 (+ coords[1]·d2); at the origin that is θ itself, bit for bit."""
        for name, p in self.params.items():
            shifted = self.theta[name].clone()
            for c, d in zip(coords, self.directions, strict=True):
                shifted.add_(d[name], alpha=float(c))
            p.copy_(shifted)

    @torch.no_grad()
    def restore(self) -> None:
        """Put the original weights back."""
        for name, p in self.params.items():
            p.copy_(self.theta[name])


@dataclass
class Landscape:
    """Loss and error on a grid: ``loss[i]`` (1-D) or ``loss[i, j]`` at (coords[i], coords[j]) (2-D)."""

    model_id: str
    arch: str
    dataset: str
    split: str
    n: int
    dims: int
    grid: int
    span: float
    seed: int
    coords: np.ndarray  # (grid,) steps along each direction, from -span to span
    loss: np.ndarray  # (grid,) or (grid, grid); axis 0 is direction 1, axis 1 direction 2
    error: np.ndarray

    def settings(self) -> dict[str, Any]:
        """What produced the surface (saved with it)."""
        return {"model": self.model_id, "arch": self.arch, "dataset": self.dataset, "split": self.split,
                "n": self.n, "dims": self.dims, "grid": self.grid, "span": self.span, "seed": self.seed,
                "normalisation": "filter", "ignore": "biases and BN parameters (zero direction)"}

    def centre(self) -> Measurement | None:
        """Loss and error at the trained weights, when the grid has the origin (an odd grid)."""
        if self.grid % 2 == 0:
            return None
        mid = (self.grid // 2,) * self.dims
        return Measurement(float(self.loss[mid]), float(self.error[mid]))

    def to_dict(self) -> dict[str, Any]:
        """Settings plus ``coords``, ``loss`` and ``error`` as (nested) lists; a non-finite loss is None."""
        return {**self.settings(), "coords": self.coords.tolist(), "loss": _json_array(self.loss),
                "error": _json_array(self.error)}

    def save(self, path: str | Path) -> Path:
        """Write ``.npz`` (arrays + ``settings`` as a JSON string) or ``.json``, chosen by the suffix."""
        from .checkpoint import atomic_write_bytes, atomic_write_json

        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".json":
            return atomic_write_json(path, self.to_dict())
        if suffix != ".npz":
            raise UserInputError(f"{path}: save the landscape as .npz or .json")
        buffer = io.BytesIO()
        np.savez(buffer, coords=self.coords, loss=self.loss, error=self.error,
                 settings=np.array(json.dumps(self.settings())))
        return atomic_write_bytes(path, buffer.getvalue())


def _json_array(a: np.ndarray) -> Any:
    """Nested lists, with NaN and infinities (a diverged loss far from θ) as None: JSON has neither."""
    # np.where takes None (an object array results); numpy's stubs accept only array-likes there.
    return np.where(np.isfinite(a), a, None).tolist()  # type: ignore[call-overload]


def grid_coords(grid: int, span: float) -> np.ndarray:
    """``grid`` evenly spaced steps from -span to span; the middle one of an odd grid is exactly 0."""
    return span * (2.0 * np.arange(grid) - (grid - 1)) / (grid - 1)


def loss_landscape(target: EvalSet, *, dims: int = 1, grid: int = 31, span: float = 1.0, seed: int = 0,
                   batch_size: int = 500, progress: ProgressFn | None = None,
                   cancel: threading.Event | None = None) -> Landscape:
    """Loss and error of ``target`` along ``dims`` seeded filter-normalised random directions.

    ``grid`` points per axis from -span to span (``grid`` or ``grid**2`` passes over the images, in batches
    under ``inference_mode``, model in eval mode). ``progress(done, total)`` after each point; setting
    ``cancel`` raises ``StudyCancelled``. The original weights are restored in every case.
    """
    _check_options(dims, grid, span, seed)
    model = target.model
    generator = torch.Generator().manual_seed(seed)
    directions = [filter_normalized_direction(model, generator) for _ in range(dims)]
    coords = grid_coords(grid, span)
    points = [(a,) for a in coords] if dims == 1 else [(a, b) for a in coords for b in coords]
    shift = WeightShift(model, directions)
    results = []
    try:
        for done, point in enumerate(points, 1):
            check_cancel(cancel)
            shift.move_to(point)
            results.append(measure(target, batch_size, cancel))
            report(progress, done, len(points))
    finally:
        shift.restore()
    shape = (grid,) * dims
    loss = np.array([m.loss for m in results], dtype=np.float64).reshape(shape)
    error = np.array([m.error for m in results], dtype=np.float64).reshape(shape)
    return Landscape(target.model_id, target.arch, target.dataset, target.split, target.n, dims, grid,
                     float(span), seed, coords, loss, error)


def _check_options(dims: int, grid: int, span: float, seed: int) -> None:
    if dims not in study_limits.LANDSCAPE_DIMS:
        raise UserInputError(f"--dims must be 1 or 2 (got {limits.show_value(dims)})")
    study_limits.check("--grid", study_limits.GRID, grid)
    study_limits.check("--span", study_limits.SPAN, span)
    study_limits.check("--seed", limits.SEED, seed)
