"""The work done in background threads, as plain functions returning plain data.

Nothing here touches a widget. What goes back to the GUI thread is detached: numpy arrays copied off
the device, floats, strings and small dataclasses. The one exception is the loaded model itself, which
the GUI holds as an opaque handle and only ever hands back to these functions.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_explorer.core.training_budget import budget_of  # plain Python: no torch import

THUMB_SIDE = 96  # thumbnails in the image strip and the sample gallery
PREVIEW_SIDE = 768  # "your image" as shown beside what the network sees


@dataclass(frozen=True)
class BlockInfo:
    """One residual (or plain) block, described for the views."""

    name: str  # "layer1.0"
    stage: str  # "layer1"
    index: int  # position in its stage
    spec: str  # "[3x3,16; 3x3,16]"
    residual: bool
    shortcut: str  # "identity" | "projection" | "zero-pad" | "none" (plain nets)
    can_lesion: bool
    stride: int
    in_planes: int
    out_planes: int
    bn3x3: tuple[str, ...] = ()  # the BNs after its 3x3 convs ("layer1.0.bn1"): the paper's Fig. 7 layers


@dataclass(frozen=True)
class ModelInfo:
    """What the GUI needs to know about the loaded model, without touching it."""

    model_id: str  # what was asked for (an id or a file path): reloading it gives the same model
    arch: str
    family: str
    residual: bool
    num_params: int
    device: str
    class_names: tuple[str, ...]
    input_size: tuple[int, int, int]
    grayscale: bool
    blocks: tuple[BlockInfo, ...]
    stages: tuple[str, ...]
    config: dict = field(default_factory=dict)
    dataset: str = ""
    name: str = ""  # the zoo's short name (a file's stem)
    budget: dict | None = None  # how it was trained (core.training_budget), None when the card is silent
    domain: Any = None  # core.domain.Domain: what its training pictures were like

    @property
    def layers_3x3(self) -> list[str]:
        """Every 3x3 layer's BN in forward order (the x axis of the paper's Fig. 7)."""
        return [bn for b in self.blocks for bn in b.bn3x3]

    @property
    def title(self) -> str:
        """Short name for the status bar and legends."""
        return file_title(self.model_id) if self.name in ("", "model") else self.name


def file_title(path: str) -> str:
    """A model file's short name: its stem, or its folder's name for a run's ``model.safetensors``."""
    p = Path(path)
    return p.parent.name if p.stem == "model" and p.parent.name else p.stem


@dataclass(eq=False)  # identity: comparing fields would compare numpy arrays (an ambiguous truth value)
class OpenedImage:
    """A decoded image with its small renderings; ``error`` is set instead when it could not be read."""

    label: str  # file name or "clipboard"
    source: str  # path, or "" for pasted images
    image: Any = None  # PIL.Image.Image, handed to analyze() later
    thumb: np.ndarray | None = None  # HxWx3 uint8, HxWx4 when the picture has transparency
    preview: np.ndarray | None = None  # HxWx3 uint8; HxWx4 (alpha kept) for a transparent image
    size: tuple[int, int] = (0, 0)
    error: str = ""
    key: int = field(default_factory=lambda: next(_image_keys))


_image_keys: Iterator[int] = itertools.count(1)


@dataclass
class AnalysisResult:
    """One analysis of one image by one model, detached from torch."""

    model_id: str
    top_k: list[tuple[int, str, float]]  # (class index, name, probability)
    probs: np.ndarray
    feature_maps: dict[str, np.ndarray]
    residual_ratio: dict[str, float]
    response_std: list[tuple[str, float]]
    gradcam: np.ndarray | None
    gradcam_class: int | None
    display_image: np.ndarray
    lesioned: tuple[str, ...]
    elapsed_s: float
    image_key: int = 0  # which image it answers (id of the OpenedImage)
    # The image against the model's domain (core.domain): why it is unlike the training pictures
    # (Message tuples, about the original), whether conversion was asked for and whether it was applied.
    domain: Any = None
    domain_reasons: tuple = ()
    convert_asked: bool = False
    converted: bool = False
    # The class activation map's method ("gradcam", "gradcam++", "layercam", "scorecam", "occlusion"), the
    # stage asked for ("stem", "layer3", a block "layer2.1"; "input" for occlusion), the tensor it was
    # computed on (core ``Analysis.cam_layer``) and that tensor's (h, w); None without a map.
    cam_method: str | None = None
    cam_stage: str | None = None
    cam_layer: str | None = None
    cam_size: tuple[int, int] | None = None


def _describe_block(name: str, block: Any) -> BlockInfo:
    from resnet_explorer.core.resnet import ZeroPadShortcut

    ds = block.downsample
    if not block.residual:
        shortcut = "none"
    elif ds is None:
        shortcut = "identity"
    elif isinstance(ds, ZeroPadShortcut):
        shortcut = "zero-pad"
    else:
        shortcut = "projection"
    stage, index = name.split(".")
    return BlockInfo(name, stage, int(index), block.spec(), bool(block.residual), shortcut,
                     bool(block.can_lesion), int(block.stride), int(block.in_planes), int(block.out_planes),
                     tuple(f"{name}.{bn}" for bn, _ in block.bn_after_3x3()))


def describe_model(loaded: Any, model_id: str | None = None) -> ModelInfo:
    """A ``ModelInfo`` for a ``LoadedModel`` (reads attributes only; runs nothing)."""
    model = loaded.model
    pre = loaded.preprocessing
    channels, height, width = pre.input_size  # (C, H, W): zoo.Preprocessing.input_size
    return ModelInfo(
        model_id=str(model_id or loaded.model_id), name=str(loaded.model_id), arch=str(loaded.arch),
        family=str(model.family),
        residual=bool(model.residual), num_params=int(loaded.num_params), device=str(loaded.device),
        class_names=tuple(str(c) for c in loaded.class_names),
        input_size=(int(channels), int(height), int(width)), grayscale=bool(pre.grayscale),
        blocks=tuple(_describe_block(n, b) for n, b in model.blocks()),
        stages=tuple(model.stage_names), config=dict(model.config),
        dataset=str((loaded.card or {}).get("dataset", "")),
        budget=budget_of(loaded.card),
        domain=getattr(loaded, "domain", None),
    )


def load_model_job(model_id: str, device: str, *, progress: Callable[[int, int], None] | None = None,
                   cancel: threading.Event | None = None) -> tuple[Any, ModelInfo]:
    """Load (downloading if needed) ``model_id`` on ``device``; returns the handle and its description."""
    from resnet_explorer.core.zoo import load_model

    loaded = load_model(model_id, device=device, progress=progress, cancel=cancel)
    return loaded, describe_model(loaded, model_id)


def _rgb_array(image: Any, side: int, *, keep_alpha: bool = False) -> np.ndarray:
    from PIL import Image

    from resnet_explorer.core.images import to_rgb_or_l

    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    if keep_alpha and small.mode in ("RGBA", "LA"):  # the view composites it over the model's background
        return np.asarray(small.convert("RGBA"), dtype=np.uint8).copy()
    # Shown over white, as viewers show transparency; the model composites over its own background.
    return np.asarray(to_rgb_or_l(small).convert("RGB"), dtype=np.uint8).copy()


def open_image_job(source: str | bytes, label: str) -> OpenedImage:
    """Decode one image (path or encoded bytes); a bad one comes back with ``error`` set."""
    from resnet_explorer.core.errors import ExplorerError
    from resnet_explorer.core.images import open_image

    path = source if isinstance(source, str) else ""
    try:
        # The file's name reads better in a banner than its path. Alpha is kept: each model composites
        # transparency over its own training pictures' background.
        image = open_image(source, name=label, keep_alpha=True)
    except ExplorerError as exc:
        return OpenedImage(label, path, error=str(exc))
    except (OSError, ValueError) as exc:
        return OpenedImage(label, path, error=f"{label}: {exc}")
    preview = _rgb_array(image, PREVIEW_SIDE, keep_alpha=True)
    thumb = _rgb_array(image, THUMB_SIDE, keep_alpha=True)  # the strip composites it like the preview
    return OpenedImage(label, path, image, thumb, preview, image.size)


def open_images_job(sources: list[tuple[str | bytes, str]]) -> list[OpenedImage]:
    """Decode several images; each keeps its own error."""
    return [open_image_job(src, label) for src, label in sources]


def _np(value: Any) -> np.ndarray:
    """A detached CPU float32/uint8 copy of a tensor or array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def analyze_job(loaded: Any, opened: OpenedImage, *, model_key: str = "", gradcam_class: int | None = None,
                lesion: tuple[str, ...] = (), feature_maps: bool = True, gradcam: bool = True,
                top_k: int = 5, convert: bool = False, cam: str = "gradcam", cam_stage: str | None = None,
                cancel: threading.Event | None = None,
                progress: Callable[[int, int], None] | None = None) -> AnalysisResult:
    """Run the core's ``analyze`` on one image and detach everything the views show.

    ``model_key`` names the model as the GUI asked for it (so a result can be matched to its model).
    ``convert``: analyse the image made like the model's training pictures (``Domain.convert``), where
    the model's domain has such a conversion (Fashion-MNIST, MNIST); the original otherwise.
    ``cam``/``cam_stage``: the class activation map's method and stage (``gradcam=False``: no map);
    ``cancel`` stops Score-CAM and occlusion between batches (``StudyCancelled``); ``progress(done, total)``
    reports their batches (the other methods are one backward pass and report nothing).
    """
    from resnet_explorer.core.probe import analyze

    start = time.perf_counter()
    domain = loaded.domain
    reasons = tuple(domain.check(opened.image))
    converted = bool(convert and domain.convertible)
    image = domain.convert(opened.image) if converted else opened.image
    method = cam if gradcam else None
    a = analyze(loaded, image, top_k=top_k, gradcam=gradcam, cam=method, gradcam_class=gradcam_class,
                cam_stage=None if method is None or method == "occlusion" else cam_stage,
                lesion=tuple(lesion), feature_maps=feature_maps, cancel=cancel, progress=progress)
    layer = getattr(a, "cam_layer", None)
    elapsed = float(getattr(a, "elapsed_s", 0.0) or (time.perf_counter() - start))
    return AnalysisResult(
        model_id=model_key or str(loaded.model_id),
        top_k=[(int(p.index), str(p.name), float(p.prob)) for p in a.top_k],
        probs=_np(a.probs).astype(np.float32),
        feature_maps={k: _np(v).astype(np.float32) for k, v in (a.feature_maps or {}).items()},
        residual_ratio={str(k): float(v) for k, v in (a.residual_ratio or {}).items()},
        response_std=[(str(k), float(v)) for k, v in (a.response_std or [])],
        gradcam=None if a.gradcam is None else _np(a.gradcam).astype(np.float32),
        gradcam_class=None if a.gradcam_class is None else int(a.gradcam_class),
        display_image=_np(a.display_image).astype(np.uint8),
        lesioned=tuple(a.lesioned or ()),
        elapsed_s=elapsed,
        image_key=opened.key,
        domain=domain,
        domain_reasons=reasons,
        convert_asked=bool(convert),
        converted=converted,
        cam_method=getattr(a, "cam_method", None),
        cam_stage=getattr(a, "gradcam_stage", None),
        cam_layer=layer,
        cam_size=_map_size(a.feature_maps or {}, layer),
    )


def _map_size(maps: dict[str, Any], layer: str | None) -> tuple[int, int] | None:
    """(h, w) of the tensor ``layer`` names: a block has its stage's size (stages downsample first)."""
    if not layer or layer == "input":
        return None
    fmap = maps.get(layer.split(".")[0])
    return None if fmap is None else (int(fmap.shape[-2]), int(fmap.shape[-1]))


def summary_job(loaded: Any) -> Any:
    """Table 1 for the loaded model at its input size (a ``ModelSummary`` of plain numbers)."""
    from resnet_explorer.core.summary import summarize

    return summarize(loaded.model, tuple(loaded.preprocessing.input_size))


def list_models_job() -> list[Any]:
    """The model zoo's entries (bundled, cached, downloadable)."""
    from resnet_explorer.core.zoo import list_models

    return list(list_models())
