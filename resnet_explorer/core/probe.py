"""Looking inside a ResNet on one image: every probe in a single forward pass (plus one backward).

:func:`analyze` attaches forward hooks for the duration of one call (an ``ExitStack`` removes every
handle, also on error) and records:

* top-k predictions (softmax; averaged over the ten crops with ``ten_crop``);
* feature maps of the stem and of every stage (the GUI's grids);
* per residual block, ||F(x)|| / ||x||: the residual branch against the block's input;
* per 3x3 conv, the std of its BN output before the addition / ReLU (the paper's Fig. 7);
* a class activation map for a class at the stem, a stage or a block: Grad-CAM, Grad-CAM++, LayerCAM,
  Score-CAM or occlusion (the formulas live in :mod:`cams`; this module records what they need);
* block lesion (Veit et al. 2016): chosen blocks output their shortcut only, during this call.

Reductions are computed on the device inside the hooks and kept as 0-d tensors; they are stacked and
copied to the host once at the end, so a CUDA run does not stall on a ``.item()`` per hook.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import cams
from .errors import UserInputError
from .images import open_image
from .resnet import ResNet
from .zoo import TEN_CROP_CENTER, LoadedModel


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes."""

    index: int
    name: str
    prob: float


@dataclass
class Analysis:
    """Everything :func:`analyze` measured on one image, as plain numbers and numpy arrays."""

    top_k: list[Prediction]
    probs: np.ndarray
    feature_maps: dict[str, np.ndarray] = field(default_factory=dict)
    residual_ratio: dict[str, float] = field(default_factory=dict)
    response_std: list[tuple[str, float]] = field(default_factory=list)
    # The class activation map of whichever method ``cam_method`` names (the ``gradcam`` names predate
    # the other methods; ``cam``, ``cam_class`` and ``cam_stage`` read the same fields).
    gradcam: np.ndarray | None = None
    gradcam_class: int | None = None
    gradcam_stage: str | None = None
    lesioned: tuple[str, ...] = ()
    display_image: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.uint8))
    ten_crop: bool = False
    elapsed_s: float = 0.0
    cam_method: str | None = None
    # Where the map was computed: "stem" (the stem's output, after its ReLU and max-pool), "layerS.I" (that
    # block's output, after the addition and ReLU; a stage means its last block) or "input" (occlusion).
    cam_layer: str | None = None

    @property
    def cam(self) -> np.ndarray | None:
        """The class activation map (H, W) in [0, 1] at the displayed input's size."""
        return self.gradcam

    @property
    def cam_class(self) -> int | None:
        return self.gradcam_class

    @property
    def cam_stage(self) -> str | None:
        return self.gradcam_stage


# ----- lesion ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def lesioned_blocks(model: ResNet, names: Iterable[str]) -> Iterator[tuple[str, ...]]:
    """Within the block, the named blocks output only their shortcut (F(x) removed); always restored."""
    chosen = tuple(dict.fromkeys(names))  # keep order, drop repeats
    blocks = [_lesionable(model, n) for n in chosen]
    before = [(b.lesioned, b.relu.inplace) for b in blocks]
    try:
        for b in blocks:
            b.lesioned = True
            # A lesioned block applies its ReLU to the shortcut, which may be its input itself; in place,
            # that would overwrite a tensor autograd saved (Grad-CAM at an earlier stage).
            b.relu.inplace = False
        yield chosen
    finally:
        for b, (flag, inplace) in zip(blocks, before, strict=True):
            b.lesioned, b.relu.inplace = flag, inplace


def _lesionable(model: ResNet, name: str) -> Any:
    try:
        block = model.block(name)
    except (KeyError, AttributeError):
        valid = ", ".join(n for n, _ in model.blocks())
        raise UserInputError(f"no block {name!r} to lesion; blocks are {valid}") from None
    if not block.can_lesion:
        raise UserInputError(f"{name} changes the feature map's shape and has no shortcut; removing it "
                             "would break the network")
    return block


# ----- hooks -----------------------------------------------------------------------------------------
class _Recorder:
    """Forward hooks that record the probes; every handle goes onto the caller's ExitStack."""

    def __init__(self, model: ResNet, ref: int, *, feature_maps: bool, measures: bool) -> None:
        self.model, self.ref = model, ref
        self.maps: dict[str, torch.Tensor] = {}
        self.branch_norm: dict[str, torch.Tensor] = {}
        self.input_norm: dict[str, torch.Tensor] = {}
        self.stds: list[tuple[str, torch.Tensor]] = []
        self.want_maps, self.want_measures = feature_maps, measures

    def attach(self, stack: contextlib.ExitStack) -> None:
        if self.want_maps:
            self._hook(stack, self.model.maxpool, self._keep_map("stem"))
            for name, stage in self.model.stages.items():
                # On the stage's last block, not the stage: a CAM split runs the blocks one by one.
                self._hook(stack, stage[-1], self._keep_map(name))
        if self.want_measures:
            for name, block in self.model.blocks():
                handle = block.register_forward_pre_hook(self._norm_of_input(name))
                stack.callback(handle.remove)
                self._hook(stack, block.branch_out, self._norm_of_branch(name))
                for bn_name, bn in block.bn_after_3x3():
                    self._hook(stack, bn, self._std_of(f"{name}.{bn_name}"))

    @staticmethod
    def _hook(stack: contextlib.ExitStack, module: torch.nn.Module, fn: Any) -> None:
        stack.callback(module.register_forward_hook(fn).remove)

    def _keep_map(self, name: str) -> Any:
        def hook(_m: torch.nn.Module, _inp: Any, out: torch.Tensor) -> None:
            # A reference, not a copy: nothing later modifies a stage output in place.
            self.maps[name] = out[self.ref].detach()
        return hook

    def _norm_of_input(self, name: str) -> Any:
        def hook(_m: torch.nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
            self.input_norm[name] = torch.linalg.vector_norm(inp[0][self.ref].detach())
        return hook

    def _norm_of_branch(self, name: str) -> Any:
        def hook(_m: torch.nn.Module, _inp: Any, out: torch.Tensor) -> None:
            self.branch_norm[name] = torch.linalg.vector_norm(out[self.ref].detach())
        return hook

    def _std_of(self, name: str) -> Any:
        def hook(_m: torch.nn.Module, _inp: Any, out: torch.Tensor) -> None:
            # Now, not later: the ReLU that follows this BN works in place.
            self.stds.append((name, _population_std(out[self.ref].detach())))
        return hook


def _population_std(t: torch.Tensor) -> torch.Tensor:
    """std over all elements; ||x - mean|| / sqrt(n) is ~3x faster than torch.std on CPU, and as exact."""
    flat = t.reshape(-1)
    std: torch.Tensor = torch.linalg.vector_norm(flat - flat.mean()) / math.sqrt(flat.numel())
    return std


# ----- the forward pass ------------------------------------------------------------------------------
def cam_layer(model: ResNet, stage: str) -> str:
    """The tensor a CAM at ``stage`` is computed on: "stem", or a block name (a stage's last block)."""
    if stage == "stem":
        return "stem"
    if stage in model.stages:
        return f"{stage}.{len(model.stages[stage]) - 1}"
    if stage in {name for name, _ in model.blocks()}:
        return stage
    raise UserInputError(f"no stage {stage!r} for a class activation map; choose stem, "
                         f"{', '.join(model.stages)} or a block such as {_example_block(model)}")


def _example_block(model: ResNet) -> str:
    names = [name for name, _ in model.blocks()]
    return names[min(1, len(names) - 1)]


def _units(model: ResNet) -> list[tuple[str, Callable[[torch.Tensor], torch.Tensor]]]:
    """The network up to its head as named steps: the stem, then every block in order."""
    return [("stem", model.forward_stem), *model.blocks()]


def _forward(model: ResNet, x: torch.Tensor, layer: str | None,
             track: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits, and the activation after ``layer`` ("stem" or a block name) when one is asked for.

    Without a layer it all runs under ``inference_mode``; so it does with ``track=False`` (Score-CAM
    needs the activation, not its gradient). With ``track``, the network up to ``layer`` runs under
    ``no_grad`` and only the rest records a graph from a grad-tracking leaf, so the one backward pass
    goes from the logits to that layer and no further (no parameter gradients are ever computed).
    """
    if layer is None:
        with torch.inference_mode():
            return model(x), None
    units = _units(model)
    if not track:
        with torch.inference_mode():
            h, act = x, None
            for name, unit in units:
                h = unit(h)
                act = h if name == layer else act
            return model.forward_head(h), act
    split = next(i for i, (name, _) in enumerate(units) if name == layer) + 1
    with torch.no_grad():
        h = x
        for _, unit in units[:split]:
            h = unit(h)
    with torch.enable_grad():
        act = h.detach().requires_grad_(True)
        h = act
        for _, unit in units[split:]:
            h = unit(h)
        return model.forward_head(h), act


_GRADIENT_CAMS = {"gradcam": cams.grad_cam, "gradcam++": cams.grad_cam_plus_plus, "layercam": cams.layer_cam}


def _class_map(method: str, model: ResNet, batch: torch.Tensor, logits: torch.Tensor,
               act: torch.Tensor | None, ref: int, cls: int, progress: cams.ProgressFn | None,
               cancel: threading.Event | None, fill: torch.Tensor | float) -> torch.Tensor:
    """The unnormalised map of ``method`` for image ``ref`` of ``batch`` (see :mod:`cams`)."""
    if method in _GRADIENT_CAMS:
        assert act is not None
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(logits[ref, cls], act)
        with torch.no_grad():
            return _GRADIENT_CAMS[method](act[ref].detach(), grad[ref])
    x = batch[ref:ref + 1]
    if method == "scorecam":
        assert act is not None
        return cams.score_cam(model, x, act[ref], cls, progress=progress, cancel=cancel, fill=fill)
    return cams.occlusion(model, x, cls, progress=progress, cancel=cancel, fill=fill)


# ----- inputs ----------------------------------------------------------------------------------------
def _prepare(loaded: LoadedModel, image: Any, ten_crop: bool) -> tuple[torch.Tensor, np.ndarray]:
    """(N,C,H,W) on the model's device, and the picture the network sees (HxWx3 uint8)."""
    pre = loaded.preprocessing
    if isinstance(image, (str, os.PathLike, bytes)):
        image = open_image(image, keep_alpha=True)  # the preprocessing knows the model's background
    if isinstance(image, Image.Image):
        if ten_crop:
            batch, shown = pre.ten_crop(image)
        else:
            geometry = pre.geometry(image)
            batch, shown = pre.to_tensor(geometry)[None], np.asarray(geometry.convert("RGB")).copy()
    elif isinstance(image, torch.Tensor):
        batch, shown = _tensor_input(loaded, image, ten_crop)
    else:
        raise UserInputError(f"cannot analyse a {type(image).__name__}: give a PIL image, a path or a tensor")
    return batch.to(loaded.device, non_blocking=True), shown


def _tensor_input(loaded: LoadedModel, image: torch.Tensor,
                  ten_crop: bool) -> tuple[torch.Tensor, np.ndarray]:
    if ten_crop:
        raise UserInputError("ten-crop needs the image itself, not a preprocessed tensor")
    batch = image[None] if image.dim() == 3 else image
    chans = loaded.preprocessing.input_size[0]
    if batch.dim() != 4 or batch.shape[0] != 1 or batch.shape[1] != chans:
        raise UserInputError(f"expected a preprocessed tensor of shape ({chans}, H, W), got "
                             f"{tuple(image.shape)}")
    batch = batch.float()
    return batch, loaded.preprocessing.unnormalise(batch[0])


def _check_options(loaded: LoadedModel, top_k: int, gradcam_class: int | None, stage: str | None,
                   method: str | None) -> None:
    n = len(loaded.class_names)
    if top_k < 1:
        raise UserInputError(f"top-k must be at least 1, got {top_k}")
    if gradcam_class is not None and not 0 <= gradcam_class < n:
        raise UserInputError(f"CAM class {gradcam_class} is out of range (the model has {n} classes)")
    if method is not None and method not in cams.METHODS:
        raise UserInputError(f"unknown CAM method {method!r}; choose {', '.join(cams.METHODS)}")
    if stage is not None:
        cam_layer(loaded.model, stage)  # raises for an unknown stage or block


def _one_of(new: Any, old: Any, name: str) -> Any:
    """``cam_stage`` / ``cam_class`` and their older ``gradcam_`` names: either, not two different values."""
    if new is not None and old is not None and new != old:
        raise UserInputError(f"cam_{name}={new!r} and gradcam_{name}={old!r} disagree; give one")
    return new if new is not None else old


# ----- the one public entry --------------------------------------------------------------------------
def analyze(loaded: LoadedModel, image: Any, *, top_k: int = 5, gradcam: bool = True,
            gradcam_class: int | None = None, gradcam_stage: str | None = None,
            lesion: Iterable[str] = (), feature_maps: bool = True, measures: bool = True,
            ten_crop: bool = False, cam: str | None = None, cam_class: int | None = None,
            cam_stage: str | None = None, progress: cams.ProgressFn | None = None,
            cancel: threading.Event | None = None) -> Analysis:
    """Classify ``image`` and look inside ``loaded``'s network while doing it (see the module docstring).

    ``image``: a PIL image, a path / encoded bytes, or a preprocessed (C,H,W) tensor. ``cam``: the class
    activation map's method, one of :data:`cams.METHODS` ("gradcam", "gradcam++", "layercam",
    "scorecam", "occlusion"); without it, ``gradcam`` (default True) asks for Grad-CAM.
    ``cam_class`` (or ``gradcam_class``) defaults to the top-1 class; ``cam_stage`` (or ``gradcam_stage``)
    to the last stage: "stem", a stage ("layer3": its last block's output) or a block ("layer2.1": its
    output after the addition and ReLU); occlusion perturbs the input and has no stage.
    Score-CAM and occlusion run many forward passes: ``progress(done, total)`` after each batch,
    ``cancel`` (a ``threading.Event``) checked between batches. ``lesion`` names blocks (``"layer2.1"``)
    whose F(x) is removed for this call; every result then describes the lesioned net.
    ``measures=False`` skips the residual ratios and response stds. With ``ten_crop`` the probabilities
    are the mean softmax of the ten crops; the maps and measures are the centre crop's.
    """
    start = time.perf_counter()
    model = loaded.model
    method = cam if cam is not None else ("gradcam" if gradcam else None)
    cls_asked = _one_of(cam_class, gradcam_class, "class")
    stage_asked = _one_of(cam_stage, gradcam_stage, "stage")
    _check_options(loaded, top_k, cls_asked, stage_asked, method)
    batch, shown = _prepare(loaded, image, ten_crop)
    ref = TEN_CROP_CENTER if ten_crop else 0
    stage = None if method is None else "input" if method in cams.INPUT_METHODS else (
        stage_asked or model.stage_names[-1])
    layer = None if stage in (None, "input") else cam_layer(model, stage)
    recorder = _Recorder(model, ref, feature_maps=feature_maps, measures=measures)
    with lesioned_blocks(model, lesion) as chosen:
        with contextlib.ExitStack() as hooks:
            recorder.attach(hooks)
            logits, act = _forward(model, batch, layer, track=method in cams.GRADIENT_METHODS)
        probs = F.softmax(logits.detach().float(), dim=1).mean(dim=0)
        k = min(top_k, probs.numel())
        top_p, top_i = probs.topk(k)
        scalars = _gather(recorder, model, chosen, top_p, top_i)  # the one device -> host copy of numbers
        result = Analysis(
            top_k=[Prediction(int(i), loaded.class_names[int(i)], float(p))
                   for i, p in zip(scalars["top_i"], scalars["top_p"], strict=True)],
            probs=probs.cpu().numpy(),
            feature_maps={n: t.float().cpu().numpy() for n, t in recorder.maps.items()},
            residual_ratio=scalars["ratio"], response_std=scalars["std"], lesioned=chosen,
            display_image=shown, ten_crop=ten_crop,
        )
        if method is not None:
            # Still inside the lesion: Score-CAM and occlusion run the (lesioned) network again.
            cls = int(scalars["top_i"][0]) if cls_asked is None else cls_asked
            pre = loaded.preprocessing
            fill = cams.background_fill(tuple(pre.mean), tuple(pre.std), pre.background)
            if isinstance(fill, torch.Tensor):
                fill = fill.to(batch.device, batch.dtype)
            raw = _class_map(method, model, batch, logits, act, ref, cls, progress, cancel, fill)
            result.gradcam = cams.to_display(raw, shown.shape[:2]).cpu().numpy()
            result.gradcam_class, result.gradcam_stage = cls, stage
            result.cam_method, result.cam_layer = method, layer or "input"
    result.elapsed_s = time.perf_counter() - start
    return result


def _gather(rec: _Recorder, model: ResNet, lesioned: tuple[str, ...], top_p: torch.Tensor,
            top_i: torch.Tensor) -> dict[str, Any]:
    """Stack every recorded scalar, copy once, and split the numbers back into their names."""
    names = [n for n, _ in model.blocks() if n in rec.branch_norm]
    ratios = (torch.stack([rec.branch_norm[n] for n in names])
              / torch.stack([rec.input_norm[n] for n in names]).clamp_min(1e-12)) if names else None
    stds = torch.stack([s for _, s in rec.stds]) if rec.stds else None
    parts = [top_p.float(), top_i.float()] + [t.float() for t in (ratios, stds) if t is not None]
    flat = torch.cat(parts).cpu().tolist()
    k = top_p.numel()
    ratio_values = flat[2 * k: 2 * k + len(names)]
    std_values = flat[2 * k + len(names):]
    ratio = dict(zip(names, ratio_values, strict=True))
    if rec.want_measures:
        # A lesioned block's F(x) is removed: its contribution is exactly zero.
        ratio = {n: (0.0 if n in lesioned else ratio[n])
                 for n, _ in model.blocks() if n in ratio or n in lesioned}
    return {"top_p": flat[:k], "top_i": [int(i) for i in flat[k:2 * k]], "ratio": ratio,
            "std": [(n, v) for (n, _), v in zip(rec.stds, std_values, strict=True)]}
