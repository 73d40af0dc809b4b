"""Gradients at initialisation: why deep plain nets are hard to train and residual ones are not.

On one seeded batch, at He initialisation, as at the first training step (train mode, BN on batch
statistics), with the cross-entropy loss L:

* ``||dL/dW||`` for every conv layer's weights, in forward order;
* ``||dL/dh||`` at every block's output h. In a deep plain net these grow (or shrink) by orders of
  magnitude from the last block to the first; with shortcuts they stay within a small range
  (Balduzzi et al. 2017; the reason He et al.'s plain-56 trains worse than plain-20).

Plus Balduzzi et al.'s *shattered gradients* measure: the gradient of one logit with respect to the input,
at inputs on the straight line between two images; the mean correlation between the gradients at
neighbouring points is near 1 for a shallow net and for ResNets, and falls to about 0 (white noise) for
deep plain nets. There BN uses statistics of the seeded batch (eval mode), so each input's gradient is
its own.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from . import limits, study_limits
from .data import load_dataset, normalize
from .errors import UserInputError
from .studies import ProgressFn, check_cancel, report

if TYPE_CHECKING:
    from .resnet import ResNet


@dataclass(frozen=True)
class LayerGradient:
    """The norm of the loss gradient at one named layer (its weights, or a block's output)."""

    name: str
    norm: float


@dataclass
class ArchGradients:
    """The gradient measures of one network at initialisation."""

    arch: str
    residual: bool
    depth: int
    loss: float
    conv: list[LayerGradient]  # ||dL/dW|| of each conv layer's weights, forward order
    blocks: list[LayerGradient]  # ||dL/dh|| at each block's output h, forward order
    input_norm: float  # ||dL/dx|| at the input images
    shattered: float | None  # mean correlation of input gradients at neighbouring inputs; None: skipped

    @property
    def block_ratio(self) -> float:
        """First block's output-gradient norm over the last block's: >1 grows towards the input."""
        if not self.blocks or not self.blocks[-1].norm:
            return math.nan
        return self.blocks[0].norm / self.blocks[-1].norm

    @property
    def conv_spread(self) -> float:
        """log10(max / min) of the conv weight-gradient norms: how many decades they span."""
        norms = [g.norm for g in self.conv if g.norm > 0]
        return math.log10(max(norms) / min(norms)) if norms else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "residual": self.residual, "depth": self.depth, "loss": self.loss,
                "block_ratio": self.block_ratio, "conv_spread_decades": self.conv_spread,
                "input_gradient_norm": self.input_norm, "shattered_correlation": self.shattered,
                "blocks": [{"name": g.name, "norm": g.norm} for g in self.blocks],
                "conv": [{"name": g.name, "norm": g.norm} for g in self.conv]}


@dataclass
class GradientStudy:
    """:func:`gradient_study`'s result: one :class:`ArchGradients` per architecture, same batch for all."""

    dataset: str
    batch: int
    input_size: tuple[int, int, int]
    seed: int
    line_points: int
    archs: list[ArchGradients]

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "batch": self.batch, "input_size": list(self.input_size),
                "seed": self.seed, "line_points": self.line_points, "loss": "cross-entropy (mean)",
                "mode": "train (BN on batch statistics), He initialisation",
                "archs": [a.to_dict() for a in self.archs]}


def measure_gradients(model: ResNet, x: torch.Tensor, y: torch.Tensor, *,
                      line_points: int = 64) -> ArchGradients:
    """Gradient norms of ``model`` on the normalised batch ``x`` with labels ``y``; ``model`` is not changed.

    ``line_points`` inputs between ``x[0]`` and ``x[1]`` for the shattered-gradients correlation
    (0 skips it).
    """
    net = copy.deepcopy(model).train()  # a copy: train-mode BN would update the caller's statistics
    loss, conv, blocks, input_norm = _loss_gradients(net, x, y)
    shattered = _shattered(net, x, int(y[0]), line_points) if line_points >= 2 and len(x) >= 2 else None
    arch = str(getattr(model, "config", {}).get("arch", ""))
    depth = int(model.spec.depth) if hasattr(model, "spec") else 0
    return ArchGradients(arch, bool(getattr(model, "residual", True)), depth, loss, conv, blocks, input_norm,
                         shattered)


def _loss_gradients(net: ResNet, x: torch.Tensor,
                    y: torch.Tensor) -> tuple[float, list[LayerGradient], list[LayerGradient], float]:
    outputs: list[torch.Tensor] = []
    handles = [block.register_forward_hook(lambda _m, _i, out: outputs.append(out))
               for _, block in net.blocks()]
    try:
        x = x.detach().clone().requires_grad_(True)
        loss = F.cross_entropy(net(x), y)
    finally:
        for h in handles:
            h.remove()
    convs = [(name, m.weight) for name, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    # One backward pass for all of them; autograd.grad leaves no .grad behind on the parameters.
    grads = torch.autograd.grad(loss, [x, *outputs, *(w for _, w in convs)])
    norms = torch.stack([torch.linalg.vector_norm(g) for g in grads]).tolist()  # one host copy
    names = [n for n, _ in net.blocks()]
    block_norms = [LayerGradient(n, v) for n, v in zip(names, norms[1:1 + len(outputs)], strict=True)]
    conv_norms = [LayerGradient(n, v) for (n, _), v in zip(convs, norms[1 + len(outputs):], strict=True)]
    return float(loss.detach()), conv_norms, block_norms, norms[0]


def _shattered(net: nn.Module, x: torch.Tensor, label: int, points: int) -> float:
    """Mean correlation of d(logit[label])/d(input) between neighbouring inputs on the line x[0] -> x[1]."""
    _calibrate_bn(net, x)
    t = torch.linspace(0, 1, points, device=x.device).view(-1, 1, 1, 1)
    line = ((1 - t) * x[0:1] + t * x[1:2]).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(line)[:, label].sum(), line)
    g = grad.flatten(1)
    g = g - g.mean(dim=1, keepdim=True)
    g = g / torch.linalg.vector_norm(g, dim=1, keepdim=True).clamp_min(1e-30)
    return float((g[1:] * g[:-1]).sum(dim=1).mean())


@torch.no_grad()
def _calibrate_bn(net: nn.Module, x: torch.Tensor) -> None:
    """BN running statistics := the statistics of batch ``x``; then eval mode, so inputs don't interact."""
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: after one batch, exactly that batch's statistics
    net.train()
    net(x)
    net.eval()


def gradient_study(archs: list[str], *, dataset: str = "synthetic", batch: int = 64, seed: int = 0,
                   image_size: int | None = None, line_points: int = 64, data_dir: str | None = None,
                   download: bool = True, device: str = "auto", progress: ProgressFn | None = None,
                   cancel: threading.Event | None = None) -> GradientStudy:
    """:func:`measure_gradients` for each of ``archs`` at a seeded He initialisation, on one seeded batch
    of ``dataset``'s training images (all archs see the same batch and the same seed).

    ``image_size`` sets the side of synthetic and imagefolder images. ``progress(done, total)`` counts
    architectures; setting ``cancel`` raises ``StudyCancelled`` before the next one.
    """
    from .devices import resolve_device

    _check_options(archs, batch, seed, line_points)
    dev = resolve_device(device)
    bundle = load_dataset(dataset, data_dir=data_dir, download=download, image_size=image_size)
    x, y = _seeded_batch(bundle, batch, seed, dev)
    results = []
    for done, arch in enumerate(archs, 1):
        check_cancel(cancel)
        model = _init_model(arch, bundle.num_classes, x.shape[1], seed).to(dev)
        results.append(measure_gradients(model, x, y, line_points=line_points))
        report(progress, done, len(archs))
    c, h, w = (int(v) for v in x.shape[1:])
    return GradientStudy(bundle.name, len(x), (c, h, w), seed, line_points, results)


def _seeded_batch(bundle: Any, batch: int, seed: int, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    train = bundle.train
    if len(train) < 2:
        raise UserInputError(f"{bundle.name} has fewer than 2 training images")
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))[:batch]
    c = train.images.shape[1]
    mean = torch.tensor(bundle.mean, dtype=torch.float32).view(1, c, 1, 1)
    std = torch.tensor(bundle.std, dtype=torch.float32).view(1, c, 1, 1)
    return normalize(train.images[index], mean, std).to(dev), train.labels[index].to(dev)


def _init_model(arch: str, num_classes: int, in_chans: int, seed: int) -> ResNet:
    """``arch`` with He initialisation drawn from ``seed``, without touching torch's global generator."""
    from .resnet import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            return build_model(arch, num_classes=num_classes, in_chans=in_chans)
        except ValueError as exc:
            raise UserInputError(str(exc)) from None


def _check_options(archs: list[str], batch: int, seed: int, line_points: int) -> None:
    if not archs:
        raise UserInputError("give at least one --arch")
    if len(archs) > study_limits.MAX_ARCHS:
        raise UserInputError(f"at most {study_limits.MAX_ARCHS} --arch at once (got {len(archs)})")
    study_limits.check("--batch", study_limits.GRADIENT_BATCH, batch)
    study_limits.check("--seed", limits.SEED, seed)
    study_limits.check("--line-points", study_limits.LINE_POINTS, line_points)

