"""The paper's Fig. 7 over a set of images: the std of every 3x3 layer's response, per layer.

He et al. (2015, Sec. 4.2, Fig. 7) measure "the outputs of each 3x3 layer, after BN and before other
nonlinearity (ReLU/addition)" on the test set, and find that ResNets respond less than their plain
counterparts, and deeper ResNets less than shallower ones: the residual functions are closer to zero.

:func:`layer_response_stds` streams the images through the model in batches and keeps, per layer, the
float64 sums of the responses and of their squares, so the std is the population std of every element of
that layer's output over all images (not an average of per-image stds), at constant memory.
:func:`response_summary` is the one number per model that the README and the tests compare: the mean of
the layer stds.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from .resnet import ResNet


@dataclass(frozen=True)
class LayerResponse:
    """One 3x3 layer's response: its name (``layer1.0.bn2``), its std over the images, its place."""

    name: str
    std: float
    index: int  # 0-based position among the network's 3x3 layers, in forward order


class _Moments:
    """Running float64 sum, sum of squares and count of everything one layer has output."""

    def __init__(self) -> None:
        self.total = torch.zeros((), dtype=torch.float64)
        self.squares = torch.zeros((), dtype=torch.float64)
        self.count = 0

    def add(self, out: torch.Tensor) -> None:
        values = out.detach().to(torch.float64)
        self.total += values.sum().cpu()
        self.squares += values.square().sum().cpu()
        self.count += values.numel()

    def std(self) -> float:
        mean = float(self.total) / self.count
        variance = max(float(self.squares) / self.count - mean * mean, 0.0)  # rounding may dip below 0
        return math.sqrt(variance)


@torch.inference_mode()
def layer_response_stds(model: ResNet, images: torch.Tensor, batch_size: int = 250) -> list[LayerResponse]:
    """Std of the response of every 3x3 layer (its BN output) over ``images`` (normalised, NCHW).

    The model is put in eval mode (BN uses its running statistics, as at test time in the paper).
    """
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty NCHW batch of images, got shape {tuple(images.shape)}")
    model.eval()
    moments: dict[str, _Moments] = {}
    with contextlib.ExitStack() as stack:
        for block_name, block in model.blocks():
            for bn_name, bn in block.bn_after_3x3():
                layer = moments.setdefault(f"{block_name}.{bn_name}", _Moments())
                # The hook reads the output before the in-place ReLU that follows this BN overwrites it.
                handle = bn.register_forward_hook(lambda _m, _i, out, layer=layer: layer.add(out))
                stack.callback(handle.remove)
        device = next(model.parameters()).device
        for start in range(0, len(images), batch_size):
            model(images[start:start + batch_size].to(device))
    return [LayerResponse(name, m.std(), i) for i, (name, m) in enumerate(moments.items())]


def response_summary(responses: list[LayerResponse]) -> float:
    """The mean of the layer stds: one number per model, lower = residual functions closer to zero."""
    if not responses:
        raise ValueError("no layer responses to summarise")
    return sum(r.std for r in responses) / len(responses)
