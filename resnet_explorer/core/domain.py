"""The domain a model was trained on, whether an image fits it, and converting one that does not.

A Fashion-MNIST network has only ever seen 28x28 grey pictures of one piece of clothing, light on a
pure black background and filling the frame. Shown a photo of a cat, or a sneaker on a grey floor, it
still answers, confidently and wrongly. This module

* says what a model's domain is, from its card (:func:`describe_domain`): "10 clothing classes, 28x28
  grey, white object on black";
* lists why an image falls outside a white-on-black domain (:meth:`Domain.check`): a light background, a
  colour picture, a grey background, an object that does not fill the frame, brightness far from the
  training data's;
* converts a photo the way Fashion-MNIST's pictures were made (:func:`convert_like_fashion_mnist`):
  grey, light background inverted, trimmed to the object, its longer side scaled to fit, centred on
  black, 28x28 (Xiao et al. 2017, "Fashion-MNIST", section 2: trim, resize the longest edge, centre,
  negate, grey).

Every description and reason is a :class:`Message`: an id and parameters the GUI translates, plus the
English text the CLI prints. Only PIL and numpy: no torch, no Qt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

from .images import BLACK, WHITE, to_rgb_or_l

# ----- what the check measures (fractions of full brightness unless said otherwise) -----------------
CHECK_SIDE = 128  # the check looks at a copy this size: enough for a border and a box, fast on 24 Mpx
BORDER_FRACTION = 0.03  # the border ring's width, as a fraction of the shorter side (at least 1 px)
LIGHT_BACKGROUND = 0.5  # border median above this: a light background (Fashion-MNIST's is exactly 0)
GREY_BACKGROUND = 0.1  # ... above this: a grey one, not black
CHROMA = 40 / 255  # max - min of R, G, B above this: a clearly coloured pixel (JPEG noise stays below)
COLOUR_FRACTION = 0.05  # more of the picture than this clearly coloured: a colour photo
OBJECT_LEVEL = 0.2  # after the background is made black, brighter than this is the object
SMALL_OBJECT = 0.5  # the object's box spans less than this of the picture's width and of its height
MEAN_SPAN = 1.25  # the picture's mean brightness further than this many stds from the training mean
LOW_CONTRAST = 0.25  # the picture's std below this fraction of the training std: hardly any contrast

# ----- the conversion -------------------------------------------------------------------------------
CONVERT_SIDE = 28
CONVERT_MARGIN = 1  # px of black around the object at 28 px (Fashion-MNIST's objects touch the edge)
MNIST_MARGIN = 4  # MNIST's digits fit a 20x20 box in the middle of 28x28 (LeCun et al. 1998)
WORK_SIDE = 256  # the conversion works on a copy no larger than this: the result has 28 px anyway
NOISE_STDS = 3.0  # the background's level is its median plus this many stds: its noise goes black too
MAD_TO_STD = 1.4826  # median absolute deviation -> std, for normally distributed noise
PEAK_PERCENTILE = 99  # the object's brightest (but not its specular highlights) becomes white

# The model to offer for photos a white-on-black model cannot take: torchvision's ResNet-50 (ImageNet).
PHOTO_MODEL = "resnet50-imagenet"
WHITE_ON_BLACK = "white-on-black"  # Fashion-MNIST, MNIST: a light object on pure black
PHOTO = "photo"  # ImageNet, CIFAR: colour photos
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                         "Sneaker", "Bag", "Ankle boot")

# The card's dataset -> (display name, what the classes are, what the pictures look like).
DATASETS: dict[str, tuple[str, str, str]] = {
    "fashion-mnist": ("Fashion-MNIST", "clothing", WHITE_ON_BLACK),
    "mnist": ("MNIST", "digits", WHITE_ON_BLACK),
    "imagenet-1k": ("ImageNet", "imagenet", PHOTO),
    "imagenet": ("ImageNet", "imagenet", PHOTO),
    "cifar10": ("CIFAR-10", "dataset", PHOTO),
    "cifar100": ("CIFAR-100", "dataset", PHOTO),
}

# Every message id and its English text; the GUI keeps a translated template for each id.
MESSAGES: dict[str, str] = {
    "classes.clothing": "{n} clothing classes",
    "classes.digits": "{n} handwritten digits",
    "classes.imagenet": "{n} ImageNet classes (animals, objects, scenes)",
    "classes.dataset": "{n} {dataset} classes",
    "classes.other": "{n} classes",
    "input.white-on-black": "{w}x{h} grey, white object on black",
    "input.grey-photo": "{w}x{h} grey photos",
    "input.colour-photo": "{w}x{h} colour photos",
    "input.grey": "{w}x{h} grey",
    "input.colour": "{w}x{h} colour",
    "light-background": "its background is light ({level}% brightness at the edges); {dataset} shows "
                        "light objects on black",
    "grey-background": "its background is grey ({level}% brightness at the edges), not black as in "
                       "{dataset}",
    "colour": "it is a colour picture ({percent}% of it clearly coloured); {dataset} is grey",
    "small-object": "the object fills only {percent}% of the picture; in {dataset} it fills the frame",
    "statistics": "its brightness (mean {mean}%, contrast {std}%) is far from {dataset}'s (mean "
                  "{ref_mean}%, contrast {ref_std}%)",
}


@dataclass(frozen=True)
class Message:
    """A sentence as an id plus its values (for translation) and its English ``text``."""

    id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return MESSAGES[self.id].format(**self.params)

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, **dict(self.params)}


@dataclass(frozen=True)
class Domain:
    """What a model's training pictures were like: classes, input size, colour, look."""

    dataset: str  # the card's dataset id ("fashion-mnist"), "" when it does not say
    name: str  # "Fashion-MNIST"; the dataset id itself for datasets this module does not know
    subject: str  # "clothing" | "digits" | "imagenet" | "dataset" | "other"
    num_classes: int
    input_size: tuple[int, int, int]  # (C, H, W)
    grey: bool
    look: str  # WHITE_ON_BLACK | PHOTO | ""
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    @property
    def background(self) -> tuple[int, int, int]:
        """What transparent pixels become: the training pictures' own background colour."""
        return BLACK if self.look == WHITE_ON_BLACK else WHITE

    @property
    def convertible(self) -> bool:
        """Whether :meth:`convert` applies (white-on-black domains: Fashion-MNIST, MNIST)."""
        return self.look == WHITE_ON_BLACK

    def parts(self) -> list[Message]:
        """The description as messages: the classes, then the pictures."""
        n = self.num_classes
        classes = (Message("classes.other", {"n": n}) if self.subject == "other"
                   else Message(f"classes.{self.subject}", {"n": n, "dataset": self.name}))
        _, h, w = self.input_size
        if self.look == WHITE_ON_BLACK:
            kind = "white-on-black"
        else:
            kind = ("grey" if self.grey else "colour") + ("-photo" if self.look == PHOTO else "")
        return [classes, Message(f"input.{kind}", {"w": w, "h": h})]

    def describe(self) -> str:
        """One line in English: "10 clothing classes, 28x28 grey, white object on black"."""
        return ", ".join(m.text for m in self.parts())

    def check(self, image: Image.Image) -> list[Message]:
        """Why ``image`` does not look like this domain's training pictures (empty: it does).

        Only white-on-black domains are checked: a photo model takes photos as they come.
        """
        if not self.convertible:
            return []
        stats = measure(to_rgb_or_l(shrunk(image, CHECK_SIDE), self.background))
        return self._reasons(stats)

    def _reasons(self, s: ImageStats) -> list[Message]:
        name = self.name
        out = []
        if s.colour_fraction > COLOUR_FRACTION:
            out.append(Message("colour", {"percent": _pct(s.colour_fraction), "dataset": name}))
        if s.border_level > LIGHT_BACKGROUND:
            out.append(Message("light-background", {"level": _pct(s.border_level), "dataset": name}))
        elif s.border_level > GREY_BACKGROUND:
            out.append(Message("grey-background", {"level": _pct(s.border_level), "dataset": name}))
        if s.object_fill < SMALL_OBJECT:
            out.append(Message("small-object", {"percent": _pct(s.object_fill), "dataset": name}))
        if not out and self._far_statistics(s):  # the catch-all, when nothing more telling was found
            out.append(Message("statistics", {"mean": _pct(s.mean), "std": _pct(s.std), "dataset": name,
                                              "ref_mean": _pct(self.mean[0]), "ref_std": _pct(self.std[0])}))
        return out

    def _far_statistics(self, s: ImageStats) -> bool:
        if not self.mean or not self.std:
            return False
        mean, std = float(np.mean(self.mean)), float(np.mean(self.std))
        return abs(s.mean - mean) > MEAN_SPAN * std or s.std < LOW_CONTRAST * std

    def convert(self, image: Image.Image) -> Image.Image:
        """``image`` made like this domain's pictures (:func:`convert_like_fashion_mnist` at its size)."""
        if not self.convertible:
            raise ValueError(f"{self.name or 'this model'}'s pictures are photos: there is nothing to "
                             "convert")
        side = min(self.input_size[1:])
        margin = round(MNIST_MARGIN * side / 28) if self.dataset == "mnist" else CONVERT_MARGIN
        return convert_like_fashion_mnist(image, side=side, margin=margin)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "name": self.name, "description": self.describe(),
                "look": self.look, "background": list(self.background), "convertible": self.convertible}


def _pct(fraction: float) -> int:
    return int(round(100 * fraction))


# ----- from a card ----------------------------------------------------------------------------------
def describe_domain(card: Mapping[str, Any] | None, *, class_names: Sequence[str] | None = None,
                    preprocessing: Mapping[str, Any] | None = None) -> Domain:
    """The domain of the model ``card`` describes (its dataset, class names and preprocessing).

    ``class_names`` / ``preprocessing`` stand in for what the card leaves out (a torchvision model's
    card has neither). A card without a dataset is recognised by its class names where it can be.
    """
    card = card or {}
    names = list(class_names if class_names is not None else card.get("class_names") or [])
    prep = preprocessing if preprocessing is not None else card.get("preprocessing") or {}
    size = _input_size(prep, card)
    dataset = str(card.get("dataset") or _guess_dataset(names, size)).lower()
    known = DATASETS.get(dataset)
    if known is not None:
        name, subject, look = known
    else:
        name, subject, look = dataset, "other", ""
    n = len(names) or int((card.get("model") or {}).get("num_classes") or 0)
    grey = bool(prep.get("grayscale", size[0] == 1)) or size[0] == 1
    mean = tuple(float(m) for m in prep.get("mean") or ())
    std = tuple(float(s) for s in prep.get("std") or ())
    return Domain(dataset, name, subject, n, size, grey, look, mean, std)


def _input_size(prep: Mapping[str, Any], card: Mapping[str, Any]) -> tuple[int, int, int]:
    size = prep.get("input_size")
    if isinstance(size, Sequence) and len(size) == 3:
        c, h, w = (int(s) for s in size)
        return c, h, w
    chans = int((card.get("model") or {}).get("in_chans") or 3)
    side = 224 if chans == 3 else 28
    return chans, side, side


def _guess_dataset(names: Sequence[str], size: tuple[int, int, int]) -> str:
    if tuple(names) == FASHION_MNIST_CLASSES:
        return "fashion-mnist"
    if len(names) == 10 and size == (1, 28, 28) and [str(n).split()[0] for n in names] == [
            str(i) for i in range(10)]:
        return "mnist"
    if len(names) == 1000 and size[0] == 3:
        return "imagenet-1k"
    return ""


# ----- measuring ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageStats:
    """What the check looks at, measured on a small grey copy (fractions of full brightness)."""

    border_level: float  # median brightness of the outer ring
    colour_fraction: float  # share of clearly coloured pixels
    object_fill: float  # the object's box: the larger of its width / the picture's and height / height
    mean: float
    std: float


def measure(image: Image.Image) -> ImageStats:
    """Measure an RGB or L image (transparency already flattened) for :meth:`Domain.check`."""
    small = shrunk(image, CHECK_SIDE)
    grey = _grey_array(small)
    border = _border(grey)
    box = object_box(_black_background(grey))
    height, width = grey.shape
    fill = 1.0 if box is None else max((box[2] - box[0]) / width, (box[3] - box[1]) / height)
    return ImageStats(float(np.median(border)), _colour_fraction(small), float(fill),
                      float(grey.mean()), float(grey.std()))


def shrunk(image: Image.Image, side: int = WORK_SIDE) -> Image.Image:
    """``image`` no larger than ``side`` x ``side`` (its own mode, alpha kept): what the check and the
    conversion work on. Area-averaged (no aliasing), integer-reduced first (fast on a 24-Mpx photo)."""
    width, height = image.size
    scale = side / max(width, height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def _grey_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def _colour_fraction(image: Image.Image) -> float:
    if image.mode != "RGB":
        return 0.0
    rgb = np.asarray(image, dtype=np.float32) / 255.0
    chroma = rgb.max(axis=2) - rgb.min(axis=2)
    return float((chroma > CHROMA).mean())


def _border(grey: np.ndarray) -> np.ndarray:
    """The outer ring of pixels: where a photo's background shows, whatever the object."""
    k = max(1, int(round(BORDER_FRACTION * min(grey.shape))))
    return np.concatenate([grey[:k].ravel(), grey[-k:].ravel(), grey[k:-k, :k].ravel(),
                           grey[k:-k, -k:].ravel()])


def _black_background(grey: np.ndarray) -> np.ndarray:
    """A light object on pure black: a light background inverted, the background's level (and its
    noise) taken off, the object's brightest part stretched to white."""
    if np.median(_border(grey)) > LIGHT_BACKGROUND:
        grey = 1.0 - grey
    floor = _background_floor(_border(grey))
    above = grey[grey > floor]
    peak = float(np.percentile(above, PEAK_PERCENTILE)) if above.size else 1.0
    if peak - floor < 1e-3:  # a flat picture: nothing stands out from the background
        return np.zeros_like(grey)
    return np.clip((grey - floor) / (peak - floor), 0.0, 1.0)


def _background_floor(border: np.ndarray) -> float:
    """The level below which a pixel is background: the border's median plus its noise (3 robust
    stds). Robust, not a high percentile: where the object touches the edge, part of the border is
    object, and must not lift the floor into it."""
    median = float(np.median(border))
    spread = float(np.median(np.abs(border - median))) * MAD_TO_STD
    return median + NOISE_STDS * spread


def object_box(levels: np.ndarray) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the pixels above :data:`OBJECT_LEVEL`, ignoring single specks;
    None when there is no object."""
    mask = Image.fromarray(((levels > OBJECT_LEVEL) * 255).astype(np.uint8), mode="L")
    mask = mask.filter(ImageFilter.MedianFilter(3))  # a lone noisy pixel must not stretch the box
    return mask.getbbox()


# ----- converting -----------------------------------------------------------------------------------
def convert_like_fashion_mnist(image: Image.Image, *, side: int = CONVERT_SIDE,
                               margin: int = CONVERT_MARGIN) -> Image.Image:
    """``image`` made the way Fashion-MNIST's pictures were: a ``side`` x ``side`` grey (L) image.

    Transparency over black; grey; a light background inverted; the background's level taken off so
    it is black; trimmed to the object's box; the longer side scaled to ``side - 2 * margin`` and
    centred on a black square.
    """
    work = to_rgb_or_l(shrunk(image, WORK_SIDE), BLACK)
    levels = _black_background(_grey_array(work))
    box = object_box(levels)
    if box is not None:
        left, top, right, bottom = box
        levels = levels[top:bottom, left:right]
    return _centred_square(levels, side, margin)


def _centred_square(levels: np.ndarray, side: int, margin: int) -> Image.Image:
    """``levels`` (H, W in [0, 1]) scaled so its longer side is ``side - 2 * margin`` px and pasted in the
    middle of a black ``side`` x ``side`` square. Scaled on its own, not with its black surround: the
    margin then stays exactly black (a resampling filter would spill the object into it)."""
    height, width = levels.shape
    inner = max(1, side - 2 * margin)
    scale = inner / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    pixels = Image.fromarray(np.round(levels * 255).astype(np.uint8), mode="L")
    canvas = Image.new("L", (side, side), 0)
    offset = ((side - size[0]) // 2, (side - size[1]) // 2)
    canvas.paste(pixels.resize(size, Image.Resampling.LANCZOS), offset)
    return canvas
