"""Class activation maps: where in the image a network found the evidence for a class.

One function per method, each the paper's formula and little else. The gradient methods take the
activation ``A`` of one image at a layer, (K, h, w), and the gradient ``g = dS/dA`` of the class score
``S`` (the logit) with respect to it, and return an unnormalised (h, w) map; :func:`probe.analyze`
records both in one forward and one backward pass. The gradient-free methods take the model and the
normalised input instead and run batched forward passes:

* :func:`grad_cam` (Selvaraju et al. 2017): channel weights = spatial mean of ``g``;
* :func:`grad_cam_plus_plus` (Chattopadhyay et al. 2018): weights from the positive gradients, each
  weighted by the second/third-order term alpha;
* :func:`layer_cam` (Jiang et al. 2021): element-wise ``ReLU(g) * A``, summed over channels;
* :func:`score_cam` (Wang et al. 2020): each channel, upsampled and min-max normalised, masks the
  input; the softmax score of the class for that masked input is the channel's weight;
* :func:`occlusion` (Zeiler & Fergus 2014): a patch of zeros (the normalised input's mean, i.e. the
  dataset's mean colour) slides over the input; the drop of the class probability is the map.

:func:`to_display` brings any of them to the input's size in [0, 1], as the views show them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

# Re-exported (the "X as X" form tells type checkers and linters so): callers write cams.METHODS.
from .cam_limits import GRADIENT_METHODS as GRADIENT_METHODS
from .cam_limits import INPUT_METHODS as INPUT_METHODS
from .cam_limits import METHODS as METHODS

# Progress and cancellation as the explanation studies do them: a cancelled map raises StudyCancelled.
from .studies import ProgressFn as ProgressFn
from .studies import check_cancel, report

Model = Callable[[torch.Tensor], torch.Tensor]  # (N, C, H, W) -> logits (N, classes)


# ----- gradient methods: (K, h, w) activation and gradient -> (h, w) --------------------------------
def grad_cam(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. 2017: ``ReLU(sum_k w_k A_k)`` with ``w_k`` the spatial mean of ``dS/dA_k``."""
    weights = grad.mean(dim=(1, 2), keepdim=True)
    return F.relu((weights * act).sum(dim=0))


def grad_cam_plus_plus(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Chattopadhyay et al. 2018, with the exponential of the score as the class output ``Y = exp(S)``.

    For a piecewise-linear network (ReLU, max-pool) ``S`` has zero second derivatives, so the derivatives
    of ``Y`` are ``exp(S) g``, ``exp(S) g^2`` and ``exp(S) g^3``; in the paper's
    ``alpha = d2Y / (2 d2Y + sum_ab A_ab d3Y)`` the ``exp(S)`` cancels, leaving
    ``alpha_kij = g^2 / (2 g^2 + sum_ab A_kab g^3)``. The weight is
    ``w_k = sum_ij alpha_kij ReLU(dY/dA_kij)``; its ``exp(S)`` factor is the same for every channel and
    is dropped (maps are normalised anyway).
    """
    g2 = grad.pow(2)
    denom = 2 * g2 + act.sum(dim=(1, 2), keepdim=True) * g2 * grad
    # Only positive gradients count (ReLU(g) below); where g > 0 and A >= 0 the denominator is positive.
    # Elsewhere alpha is irrelevant, and set to 0 rather than risk 0/0.
    positive = grad > 0
    alpha = torch.where(positive, g2 / torch.where(positive, denom, torch.ones_like(denom)),
                        torch.zeros_like(g2))
    weights = (alpha * F.relu(grad)).sum(dim=(1, 2), keepdim=True)
    return F.relu((weights * act).sum(dim=0))


def layer_cam(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Jiang et al. 2021: ``ReLU(sum_k ReLU(g_k) * A_k)``: a weight per location, so shallow layers work."""
    return F.relu((F.relu(grad) * act).sum(dim=0))


# ----- Score-CAM --------------------------------------------------------------------------------------
def _normalised_masks(act: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, h, w) activations -> (B, 1, H, W) masks, each upsampled and min-max scaled to [0, 1].

    A constant map has no shape to mask with and becomes all zeros (the input fully masked).
    """
    up = F.interpolate(act[:, None].float(), size=size, mode="bilinear", align_corners=False)
    lo = up.amin(dim=(2, 3), keepdim=True)
    span = up.amax(dim=(2, 3), keepdim=True) - lo
    return torch.where(span > 0, (up - lo) / span.clamp_min(1e-12), torch.zeros_like(up))


@torch.inference_mode()
def score_cam_weights(model: Model, x: torch.Tensor, act: torch.Tensor, cls: int, *, batch_size: int = 32,
                      progress: ProgressFn | None = None, cancel: threading.Event | None = None,
                      fill: torch.Tensor | float = 0.0) -> torch.Tensor:
    """Wang et al. 2020: the softmax probability of ``cls`` for ``x`` masked by each channel of ``act``.

    ``x``: one normalised input (1, C, H, W); ``act``: its activation (K, h, w) at the chosen layer.
    Masked pixels become ``fill`` (default 0, the normalised input's mean; see :func:`background_fill`).
    Returns the K weights; ``progress(done, K)`` after
    each batch of ``batch_size`` forward passes, ``cancel`` checked before each batch.
    """
    k = act.shape[0]
    weights = torch.empty(k, device=act.device)
    for start in range(0, k, batch_size):
        check_cancel(cancel)
        masks = _normalised_masks(act[start:start + batch_size], (x.shape[-2], x.shape[-1]))
        masks = masks.to(x.dtype)
        logits = model(x * masks + fill * (1 - masks))
        weights[start:start + masks.shape[0]] = F.softmax(logits.float(), dim=1)[:, cls]
        report(progress, min(start + batch_size, k), k)
    return weights


def score_cam(model: Model, x: torch.Tensor, act: torch.Tensor, cls: int, *, batch_size: int = 32,
              progress: ProgressFn | None = None, cancel: threading.Event | None = None,
              fill: torch.Tensor | float = 0.0) -> torch.Tensor:
    """``ReLU(sum_k w_k A_k)`` with the weights of :func:`score_cam_weights`; (h, w), gradient-free.

    The paper's weight is the score's increase over a baseline input; the baseline's score is the same
    for every channel, so the masked input's score alone ranks the channels identically (as the
    authors' code does). Channels that are zero everywhere add nothing whatever their weight, so they
    cost no forward pass (after a ReLU there are many; ``progress`` counts the others).
    """
    with torch.inference_mode():
        live = act.flatten(1).abs().amax(dim=1) > 0
        act = act[live]
    weights = score_cam_weights(model, x, act, cls, batch_size=batch_size, progress=progress, cancel=cancel,
                                fill=fill)
    with torch.inference_mode():
        return F.relu((weights[:, None, None] * act.float()).sum(dim=0))


# ----- occlusion --------------------------------------------------------------------------------------
class OcclusionGrid(NamedTuple):
    """The probability drop at each patch position: ``drops[i, j]`` for the patch at (rows[i], cols[j])."""

    drops: torch.Tensor  # (len(rows), len(cols))
    rows: list[int]
    cols: list[int]
    patch: int
    base: float  # the class probability of the unoccluded input


def occlusion_defaults(side: int) -> tuple[int, int]:
    """(patch, stride) for an input of ``side`` pixels: a seventh of the side, half-overlapping.

    About 13 x 13 positions at any input size: 224 px -> 32 px patches every 16 px; 28 px -> 4 every 2.
    """
    patch = max(1, round(side / 7))
    return patch, max(1, patch // 2)


def _positions(side: int, patch: int, stride: int) -> list[int]:
    """Patch origins every ``stride`` pixels; the last one flush with the edge, so every pixel is covered."""
    last = max(side - patch, 0)
    starts = list(range(0, last + 1, stride))
    return starts if starts[-1] == last else [*starts, last]


@torch.inference_mode()
def occlusion_drops(model: Model, x: torch.Tensor, cls: int, *, patch: int | None = None,
                    stride: int | None = None, batch_size: int = 32, progress: ProgressFn | None = None,
                    cancel: threading.Event | None = None, fill: torch.Tensor | float = 0.0) -> OcclusionGrid:
    """Zeiler & Fergus 2014: ``p(cls | x) - p(cls | x with a patch set to 0)`` at every patch position.

    ``x``: one normalised input (1, C, H, W); the patch is set to ``fill``: by default 0, the mean colour
    of the data the model was normalised with (the grey square of the paper); :func:`background_fill`
    gives the training pictures' background instead. ``patch`` and ``stride`` default to
    :func:`occlusion_defaults`.
    """
    side_h, side_w = x.shape[-2:]
    default_patch, default_stride = occlusion_defaults(min(side_h, side_w))
    patch = patch or default_patch
    stride = stride or (default_stride if patch == default_patch else max(1, patch // 2))
    rows, cols = _positions(side_h, patch, stride), _positions(side_w, patch, stride)
    spots = [(r, c) for r in rows for c in cols]
    base = float(F.softmax(model(x).float(), dim=1)[0, cls])
    probs = torch.empty(len(spots), device=x.device)
    for start in range(0, len(spots), batch_size):
        check_cancel(cancel)
        chunk = spots[start:start + batch_size]
        batch = x.expand(len(chunk), -1, -1, -1).clone()
        patch_value = torch.as_tensor(fill, dtype=x.dtype, device=x.device).reshape(-1, 1, 1)
        for i, (r, c) in enumerate(chunk):
            batch[i, :, r:r + patch, c:c + patch] = patch_value
        probs[start:start + len(chunk)] = F.softmax(model(batch).float(), dim=1)[:, cls]
        report(progress, start + len(chunk), len(spots))
    return OcclusionGrid((base - probs).view(len(rows), len(cols)), rows, cols, patch, base)


def occlusion(model: Model, x: torch.Tensor, cls: int, *, patch: int | None = None, stride: int | None = None,
              batch_size: int = 32, progress: ProgressFn | None = None,
              cancel: threading.Event | None = None, fill: torch.Tensor | float = 0.0) -> torch.Tensor:
    """The (H, W) sensitivity map: each pixel's mean probability drop over the patches that cover it.

    Drops can be negative (hiding a patch made the class more likely); :func:`to_display` clips them.
    """
    grid = occlusion_drops(model, x, cls, patch=patch, stride=stride, batch_size=batch_size,
                           progress=progress, cancel=cancel, fill=fill)
    total = torch.zeros(x.shape[-2:], device=x.device)
    count = torch.zeros_like(total)
    p = grid.patch
    for i, r in enumerate(grid.rows):
        for j, c in enumerate(grid.cols):
            total[r:r + p, c:c + p] += grid.drops[i, j]
            count[r:r + p, c:c + p] += 1
    return total / count.clamp_min(1)


def background_fill(mean: tuple[float, ...], std: tuple[float, ...],
                    background: tuple[int, int, int] | None) -> torch.Tensor | float:
    """What "nothing here" is for a model, in its normalised input space (1, C, 1, 1), for occlusion and
    Score-CAM: black for models trained on objects on black (Fashion-MNIST, MNIST: a grey patch on their
    black background is itself evidence, and lit the background up), else 0, the data's mean colour (the
    paper's grey: photos have no common background; white is only where their transparency goes)."""
    if background is None or any(background):
        return 0.0
    black = torch.zeros(len(mean))  # 0 in every channel, the input's own channel count (mean's length)
    return ((black - torch.tensor(mean)) / torch.tensor(std)).view(1, -1, 1, 1)


# ----- display ----------------------------------------------------------------------------------------
def to_display(cam: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """An (h, w) map -> (H, W) in [0, 1]: bilinear upsampling, negatives clipped, divided by the peak.

    A map with no positive value (no evidence for the class) stays all zeros rather than dividing by 0.
    """
    cam = cam.float()
    if tuple(cam.shape) != tuple(size):
        cam = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    cam = cam.clamp_min(0)
    peak = cam.max()
    return torch.where(peak > 0, cam / peak.clamp_min(1e-12), torch.zeros_like(cam))
