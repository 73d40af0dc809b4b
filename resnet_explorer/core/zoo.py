"""The model zoo: model ids -> architecture, weights, preprocessing and class names.

Three kinds of model:

* bundled, trained by this project (``resnet20-fashion-mnist`` ...): ``assets/models/ID.safetensors``
  with an embedded card (see :mod:`core.model_file`), a sibling ``ID.json`` for humans;
* torchvision's published ImageNet weights (``resnet18-imagenet`` ... ``resnet152-imagenet``, and
  ``resnet50/101/152-imagenet-v2``), downloaded on first use (see :mod:`core.weights`);
* any local file: this project's model files, a plain ``.safetensors`` or a torchvision-style ``.pth``.

Whatever the source, :func:`load_model` returns a :class:`LoadedModel`: the network in eval mode on its
device, with the preprocessing it was trained with and its class names. Files are read by
:mod:`core.model_file` only; this module builds networks from what it returns (:func:`build_checked`).
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from . import cards, model_file
from . import weights as W
from .devices import resolve_device
from .domain import Domain, describe_domain
from .errors import UserInputError
from .files import format_bytes
from .images import BACKGROUND, to_rgb_or_l
from .resnet import ARCHS, ResNet, build_model
from .state_check import check_state
from .suffixes import MODEL_SUFFIXES, SAFETENSORS_SUFFIX

DEFAULT_MODEL = "resnet20-fashion-mnist"
# The same-budget Fig. 6 family, the default first, then by kind and depth (the model list's order).
BUNDLED_IDS = ("resnet20-fashion-mnist", "resnet32-fashion-mnist", "resnet44-fashion-mnist",
               "resnet56-fashion-mnist", "resnet110-fashion-mnist", "plain20-fashion-mnist",
               "plain32-fashion-mnist", "plain44-fashion-mnist", "plain56-fashion-mnist")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Guesses for bare CIFAR-family state dicts that come without a card (a card always wins).
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
TEN_CROP_CENTER = 4  # torchvision's ten_crop order: tl, tr, bl, br, center, then the flipped five
_BUILD_OPTIONS = ("num_classes", "in_chans", "shortcut", "variant")


# ----- preprocessing ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Preprocessing:
    """How a model's training images were prepared, applied to any new image.

    ``resize``: the shorter side is resized to this first (None: straight to the input size);
    ``crop``: then a centre crop of this side (None: the input size). Interpolation is bilinear with
    antialiasing, exactly as torchvision's ``ImageClassification`` transform, on PIL images.
    ``background``: what transparent pixels are composited over, the training pictures' own background
    (set from the model's domain when it is loaded; None: white, as viewers show them). It is derived
    from the card's dataset, so :meth:`to_dict` (the card's entry) leaves it out.
    """

    input_size: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resize: int | None = None
    crop: int | None = None
    grayscale: bool = False
    background: tuple[int, int, int] | None = None

    @classmethod
    def imagenet(cls, resize: int = 256, crop: int = 224) -> Preprocessing:
        """torchvision's ImageNet evaluation transform."""
        return cls((3, crop, crop), IMAGENET_MEAN, IMAGENET_STD, resize, crop, False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessing:
        """From a model card's ``preprocessing`` entry; :class:`UserInputError` if it breaks the schema."""
        cards.check_preprocessing(d)
        size = tuple(int(s) for s in d["input_size"])
        return cls(size, tuple(float(m) for m in d["mean"]), tuple(float(s) for s in d["std"]),  # type: ignore[arg-type]
                   _opt_int(d.get("resize")), _opt_int(d.get("crop")),
                   bool(d.get("grayscale", size[0] == 1)))

    def to_dict(self) -> dict[str, Any]:
        d = {**asdict(self), "input_size": list(self.input_size), "mean": list(self.mean),
             "std": list(self.std)}
        d.pop("background")
        return d

    @property
    def mode(self) -> str:
        """The PIL mode the network's input has: L for one channel, else RGB."""
        return "L" if self.input_size[0] == 1 else "RGB"

    def _convert(self, image: Image.Image) -> Image.Image:
        image = to_rgb_or_l(image, self.background or BACKGROUND)
        if self.grayscale and image.mode != "L":
            image = image.convert("L")  # trained on grey (ITU-R 601 luma), maybe repeated into 3 channels
        return image if image.mode == self.mode else image.convert(self.mode)

    def geometry(self, image: Image.Image) -> Image.Image:
        """Mode conversion, resize and centre crop: the picture the network sees, before normalising."""
        import torchvision.transforms.functional as TF

        image = self._convert(image)
        _, height, width = self.input_size
        side = self.resize or min(height, width)
        if min(image.size) != side:
            image = TF.resize(image, side, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        # torchvision has no type information: say what its functions return.
        cropped: Image.Image = TF.center_crop(image, [self.crop, self.crop] if self.crop else [height, width])
        return cropped

    def to_tensor(self, image: Image.Image) -> torch.Tensor:
        """A geometry-prepared PIL image -> normalised float (C,H,W), as torchvision does it."""
        import torchvision.transforms.functional as TF

        tensor = TF.convert_image_dtype(TF.pil_to_tensor(image), torch.float)
        normalised: torch.Tensor = TF.normalize(tensor, list(self.mean), list(self.std))
        return normalised

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.to_tensor(self.geometry(image))

    def display(self, image: Image.Image) -> np.ndarray:
        """What the network sees as HxWx3 uint8 (grey repeated), for drawing overlays on."""
        return as_rgb_array(self.geometry(image))

    def ten_crop(self, image: Image.Image) -> tuple[torch.Tensor, np.ndarray]:
        """The paper's 10-crop test: four corners, centre, and their mirror images (N=10, C, H, W).

        Returns the batch and the centre crop's display image. Models trained without a resize step
        (28 or 32 px datasets) are enlarged by 256/224 first, as ImageNet's 224-of-256 crops are.
        """
        import torchvision.transforms.functional as TF

        image = self._convert(image)
        _, height, width = self.input_size
        crop = (self.crop, self.crop) if self.crop else (height, width)
        side = self.resize or round(min(crop) * 256 / 224)
        image = TF.resize(image, side, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        crops = TF.ten_crop(image, list(crop))
        batch = torch.stack([self.to_tensor(c) for c in crops])
        return batch, as_rgb_array(crops[TEN_CROP_CENTER])

    def unnormalise(self, tensor: torch.Tensor) -> np.ndarray:
        """A normalised (C,H,W) tensor back to HxWx3 uint8 (for tensors given to ``analyze``)."""
        mean = torch.tensor(self.mean, device=tensor.device).view(-1, 1, 1)
        std = torch.tensor(self.std, device=tensor.device).view(-1, 1, 1)
        pixels = (tensor.detach().float() * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)
        array = pixels.cpu().permute(1, 2, 0).numpy()
        return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else np.ascontiguousarray(array)


def as_rgb_array(image: Image.Image) -> np.ndarray:
    """A PIL RGB or L image as HxWx3 uint8."""
    pixels: np.ndarray = np.asarray(image.convert("RGB"), dtype=np.uint8).copy()
    return pixels


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


# ----- the loaded model ------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    """A network ready to analyse images: eval mode, on ``device``, with preprocessing and classes."""

    model: ResNet
    model_id: str
    class_names: list[str]
    preprocessing: Preprocessing
    device: torch.device
    card: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # file path or URL the weights came from

    @property
    def arch(self) -> str:
        return str(self.model.config.get("arch", ""))

    @property
    def num_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    @property
    def domain(self) -> Domain:
        """What the training pictures were like (see :mod:`core.domain`), from the card."""
        return describe_domain(self.card, class_names=self.class_names,
                               preprocessing=self.preprocessing.to_dict())


def wrap_model(model: ResNet, *, model_id: str = "custom", class_names: Sequence[str] | None = None,
               preprocessing: Preprocessing | None = None, device: str | torch.device = "auto",
               card: dict[str, Any] | None = None, source: str = "") -> LoadedModel:
    """A :class:`LoadedModel` around an in-memory network (tests, notebooks, a freshly trained net)."""
    dev = resolve_device(device)
    n = int(model.config["num_classes"])
    names = list(class_names) if class_names is not None else _default_class_names(model)
    if len(names) != n:
        raise UserInputError(f"{model_id}: {len(names)} class names for {n} outputs")
    pre = preprocessing or _default_preprocessing(model)
    if pre.background is None:  # transparency goes over the training pictures' background
        pre = replace(pre, background=describe_domain(card, class_names=names,
                                                      preprocessing=pre.to_dict()).background)
    return LoadedModel(model.eval().to(dev), model_id, names, pre, dev, dict(card or {}), source)


def _default_class_names(model: ResNet) -> list[str]:
    n = int(model.config["num_classes"])
    if model.family == "imagenet" and n == 1000:
        return imagenet_class_names()
    return [f"class {i}" for i in range(n)]


def _default_preprocessing(model: ResNet) -> Preprocessing:
    chans = int(model.config["in_chans"])
    if model.family == "imagenet" and chans == 3:
        return Preprocessing.imagenet()
    if chans == 1:
        return Preprocessing((1, 28, 28), FASHION_MNIST_MEAN, FASHION_MNIST_STD, grayscale=True)
    side = 224 if model.family == "imagenet" else 32
    mean, std = (CIFAR10_MEAN, CIFAR10_STD) if chans == 3 else ((0.5,) * chans, (0.5,) * chans)
    return Preprocessing((chans, side, side), mean, std)


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names, from torchvision's weights metadata (available offline)."""
    from torchvision.models import ResNet50_Weights

    return list(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


# ----- the catalogue ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelEntry:
    """One row of ``resnet-explorer models``."""

    id: str
    arch: str
    source: str  # "bundled" | "torchvision"
    present: bool
    size_bytes: int | None
    description: str
    location: str  # file path (bundled / cache) or URL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bundled_dir() -> Path | None:
    """``assets/models``, or None when this installation has no assets at all."""
    from resnet_explorer.resources import asset

    try:
        return asset("models")
    except FileNotFoundError:
        return None


def _bundled_ids() -> list[str]:
    """The four ids the project promises, plus any other model file dropped into assets/models."""
    ids = list(BUNDLED_IDS)
    directory = bundled_dir()
    if directory is not None and directory.is_dir():
        ids += sorted(p.stem for p in directory.glob(f"*{SAFETENSORS_SUFFIX}") if p.stem not in ids)
    return ids


def _bundled_entry(model_id: str) -> ModelEntry:
    directory = bundled_dir()
    path = directory / f"{model_id}{SAFETENSORS_SUFFIX}" if directory is not None else Path(model_id)
    present = path.is_file()
    card = _listed_card(path)
    problems = cards.card_problems(card)
    if problems:  # listed all the same, saying why it will not load (loading it says so too)
        card = {"description": f"unusable model card: {problems[0]}"}
    arch = str((card.get("model") or {}).get("arch") or model_id.split("-", 1)[0])
    return ModelEntry(model_id, arch, "bundled", present, path.stat().st_size if present else None,
                      _describe_card(card, arch), str(path))


def _listed_card(path: Path) -> Any:
    """The card loading ``path`` would use (unvalidated), or ``{}`` when it has none or cannot be read.

    One unreadable file (a pipe named like a card, a broken header) must not stop the whole listing;
    loading that model then says what is wrong with it.
    """
    try:
        card = model_file.peek_card(path)
    except (UserInputError, OSError):  # OSError: an I/O error while the header is read
        return {}
    return {} if card is None else card


def _describe_card(card: Mapping[str, Any], arch: str) -> str:
    if card.get("description"):
        return str(card["description"])
    text = f"{arch} trained by this project on {card.get('dataset', 'Fashion-MNIST')}"
    accuracy = _find_accuracy(card)
    return text + (f", test top-1 {accuracy:.2f}%" if accuracy is not None else "")


def _find_accuracy(card: Mapping[str, Any]) -> float | None:
    for scope in (card, card.get("metrics") or {}, card.get("test") or {}):
        for key in ("test_top1", "top1", "test_accuracy", "accuracy"):
            value = scope.get(key) if isinstance(scope, Mapping) else None
            if isinstance(value, (int, float)):
                return float(value) * (100.0 if value <= 1.0 else 1.0)
    return None


def _torchvision_entry(remote: W.RemoteWeights) -> ModelEntry:
    version = remote.weights_name.rsplit("_", 1)[-1]
    description = f"torchvision ImageNet-1K weights {version}, top-1 {remote.top1:.2f}%"
    return ModelEntry(remote.model_id, remote.arch, "torchvision", remote.present, remote.size_bytes,
                      description, str(remote.cache_path) if remote.present else remote.url)


def list_models() -> list[ModelEntry]:
    """Every model id: bundled first (default first), then torchvision's; with presence and size."""
    return [_bundled_entry(i) for i in _bundled_ids()] + [
        _torchvision_entry(r) for r in W.torchvision_catalog().values()]


def availability_hint() -> str:
    """One line saying which models can be used right now and how else to get one."""
    entries = list_models()
    present = [e.id for e in entries if e.present]
    remote = [f"{e.id} ({format_bytes(e.size_bytes or None)})" for e in entries
              if e.source == "torchvision" and not e.present]
    parts = [f"available now: {', '.join(present)}" if present else "no model is installed yet"]
    if remote:
        parts.append(f"downloadable on first use: {', '.join(remote)}")
    parts.append("or pass a checkpoint with --weights PATH")
    return "; ".join(parts)


# ----- loading ---------------------------------------------------------------------------------------
def load_model(id_or_path: str | os.PathLike[str], device: str | torch.device = "auto", *,
               progress: W.ProgressFn | None = None, cancel: threading.Event | None = None,
               arch: str | None = None) -> LoadedModel:
    """Load a model id (bundled or torchvision, downloading if needed) or a weights file.

    ``progress(done, total)`` reports download bytes; ``cancel`` stops a download. ``arch`` names the
    architecture of a bare state dict whose keys cannot tell (e.g. resnet20 vs plain20).
    Raises :class:`UserInputError` / :class:`core.weights.DownloadError` with one clear line.
    """
    key = os.fspath(id_or_path)
    dev = resolve_device(device)
    catalog = W.torchvision_catalog()
    if key in catalog:
        return _load_torchvision(catalog[key], dev, progress, cancel)
    if key in _bundled_ids():
        return _load_bundled(key, dev)
    if _looks_like_path(key):
        return _load_file(Path(key), dev, arch=arch)
    raise UserInputError(_unknown_id_message(key))


def _looks_like_path(key: str) -> bool:
    # os.path.exists, not Path.exists: a name over 255 bytes raises OSError there instead of False.
    return (os.sep in key or "/" in key or os.path.exists(key)
            or Path(key).suffix.lower() in MODEL_SUFFIXES)


def _unknown_id_message(key: str) -> str:
    ids = [e.id for e in list_models()]
    close = difflib.get_close_matches(key, ids, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown model {key!r}{hint}; model ids: {', '.join(ids)}; or a path to a .safetensors/.pth file"


def _load_torchvision(remote: W.RemoteWeights, device: torch.device, progress: W.ProgressFn | None,
                      cancel: threading.Event | None) -> LoadedModel:
    path = W.fetch(remote, progress=progress, cancel=cancel)
    try:
        state = model_file.read_model(path).state
    except UserInputError as exc:
        raise UserInputError(f"{exc} (the cached download may be damaged: delete {path} to fetch it "
                             "again)") from None
    model = build_checked(remote.arch, {}, state, path)
    card = {"model": model.config, "dataset": "imagenet-1k", "top1": remote.top1,
            "weights": remote.weights_name}
    return wrap_model(model, model_id=remote.model_id,
                      class_names=remote.torchvision_weights().meta["categories"],
                      preprocessing=torchvision_preprocessing(remote), device=device, card=card,
                      source=str(path))


def torchvision_preprocessing(remote: W.RemoteWeights) -> Preprocessing:
    """The evaluation transform torchvision publishes with these weights (V2 resizes to 232, not 256)."""
    transform = remote.torchvision_weights().transforms()
    crop = int(transform.crop_size[0])
    return Preprocessing((3, crop, crop), tuple(transform.mean), tuple(transform.std),
                         int(transform.resize_size[0]), crop)


def _load_bundled(model_id: str, device: torch.device) -> LoadedModel:
    entry = _bundled_entry(model_id)
    if not entry.present:
        raise UserInputError(f"model {model_id} is not in this installation yet ({entry.location} is "
                             f"missing); {availability_hint()}")
    loaded = _load_file(Path(entry.location), device)
    loaded.model_id = model_id
    return loaded


def _load_file(path: Path, device: torch.device, *, arch: str | None = None) -> LoadedModel:
    state, card = model_file.read_model(path)
    card = card or {}
    config = dict(card.get("model") or {})
    if arch:
        config = {"arch": arch, **_shape_options(state)}
    elif not config.get("arch"):
        config = W.infer_config(state, path)
    model = build_checked(str(config["arch"]), config, state, path)
    pre = Preprocessing.from_dict(card["preprocessing"]) if card.get("preprocessing") else None
    names = card.get("class_names")
    return wrap_model(model, model_id=path.stem, class_names=names, preprocessing=pre, device=device,
                      card=card, source=str(path))


def _shape_options(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Classes and input channels from the shapes, for a user-given ``--arch``."""
    options: dict[str, Any] = {}
    # Only from tensors of the right rank: a 1-D conv1.weight is reported by check_state, not IndexError.
    if "fc.weight" in state and state["fc.weight"].dim() == 2:
        options["num_classes"] = int(state["fc.weight"].shape[0])
    if "conv1.weight" in state and state["conv1.weight"].dim() == 4:
        options["in_chans"] = int(state["conv1.weight"].shape[1])
    return options


def build_checked(arch: str, config: Mapping[str, Any], state: Mapping[str, torch.Tensor],
                  path: str | os.PathLike[str]) -> ResNet:
    """Build ``arch`` with ``config``'s options and load ``state`` strictly, explaining any mismatch.

    ``config``: a card's ``model`` entry (num_classes, in_chans, shortcut, variant; absent or None ones
    take ``build_model``'s defaults). Every way ``state`` does not fit is one :class:`UserInputError` line
    naming ``path``. Returns the network in eval mode, on the CPU.
    """
    if arch.lower() not in ARCHS:
        raise UserInputError(f"{path}: unknown architecture {arch!r}; valid: {', '.join(ARCHS)}")
    options = {k: config[k] for k in _BUILD_OPTIONS if config.get(k) is not None}
    try:
        model = build_model(arch, **options)
    except ValueError as exc:
        raise UserInputError(f"{path}: {exc}") from None
    check_state(model.state_dict(), state, path, arch)
    model.load_state_dict(state, strict=True)
    return model.eval()
