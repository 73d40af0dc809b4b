"""Export the sample images shipped in assets/samples (run: python scripts/export_samples.py).

* Two Fashion-MNIST *test* images per class (never seen in training), as 28x28 grey PNGs, named
  ``fmnist-<class index>-<class>-<test index>.png``, from Debian's dataset-fashion-mnist (or --data-dir).
* Made inputs that show how odd images are handled:
  - ``odd-grey-photo-sneaker.jpg``: a 320x240 grey JPEG, a test sneaker enlarged onto a textured,
    photo-like background (the model sees it resized to 28x28 grey);
  - ``odd-large-rgb-bag.png``: a 2000x1500 RGB image (a test bag in colour on a gradient), which the
    pipeline must shrink without choking;
  - ``odd-rgba-trouser.png``: a cut-out on a transparent background (RGBA), to show how the pipeline
    flattens transparency.

Deterministic: same inputs, same files.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from resnet_explorer.core.data import FASHION_MNIST_CLASSES, load_dataset

OUT = Path(__file__).resolve().parent.parent / "assets" / "samples"
PER_CLASS = 2


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _first_of_each_class(labels: np.ndarray, per_class: int) -> dict[int, list[int]]:
    picks: dict[int, list[int]] = {c: [] for c in range(10)}
    for i, label in enumerate(labels):
        if len(picks[int(label)]) < per_class:
            picks[int(label)].append(i)
    return picks


def export_test_images(images: np.ndarray, labels: np.ndarray, out: Path) -> list[Path]:
    """Save PER_CLASS test images of every class as grey PNGs."""
    written = []
    for cls, indices in _first_of_each_class(labels, PER_CLASS).items():
        for i in indices:
            path = out / f"fmnist-{cls}-{_slug(FASHION_MNIST_CLASSES[cls])}-{i:05d}.png"
            Image.fromarray(images[i], mode="L").save(path, optimize=True)
            written.append(path)
    return written


def grey_photo(item: np.ndarray, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A photo-like grey picture: the item enlarged on a dark, noisy, blurred background."""
    rng = np.random.default_rng(0)
    w, h = size
    background = (rng.normal(40, 18, (h, w))).clip(0, 255).astype(np.uint8)
    photo = Image.fromarray(background, mode="L").filter(ImageFilter.GaussianBlur(3))
    side = int(h * 0.8)
    big = Image.fromarray(item, mode="L").resize((side, side), Image.Resampling.BICUBIC)
    photo.paste(big, ((w - side) // 2, (h - side) // 2), mask=big)
    return photo


def large_rgb(item: np.ndarray, size: tuple[int, int] = (2000, 1500)) -> Image.Image:
    """A large RGB image: the item tinted orange on a dark blue gradient."""
    w, h = size
    ramp = np.linspace(10, 60, w, dtype=np.float32)[None, :].repeat(h, 0)
    canvas = np.stack([ramp * 0.3, ramp * 0.5, ramp], axis=-1).astype(np.uint8)
    img = Image.fromarray(canvas, mode="RGB")
    side = int(h * 0.9)
    mask = Image.fromarray(item, mode="L").resize((side, side), Image.Resampling.BICUBIC)
    tint = Image.new("RGB", (side, side), (255, 170, 60))
    img.paste(tint, ((w - side) // 2, (h - side) // 2), mask=mask)
    return img


def rgba_item(item: np.ndarray) -> Image.Image:
    """An RGBA PNG whose alpha is the item itself (a cut-out on a transparent background)."""
    big = Image.fromarray(item, mode="L").resize((112, 112), Image.Resampling.BICUBIC)
    rgba = Image.new("RGBA", big.size, (230, 230, 230, 0))
    rgba.putalpha(big)
    return rgba


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="where the Fashion-MNIST IDX files are")
    args = parser.parse_args()
    bundle = load_dataset("fashion-mnist", data_dir=args.data_dir, download=False)
    images = bundle.test.images[:, 0].numpy()
    labels = bundle.test.labels.numpy()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*"):
        if old.suffix in {".png", ".jpg"}:
            old.unlink()
    written = export_test_images(images, labels, OUT)
    picks = _first_of_each_class(labels, 3)
    grey_photo(images[picks[7][2]]).save(OUT / "odd-grey-photo-sneaker.jpg", quality=90)
    large_rgb(images[picks[8][2]]).save(OUT / "odd-large-rgb-bag.png", optimize=True)
    rgba_item(images[picks[1][2]]).save(OUT / "odd-rgba-trouser.png", optimize=True)
    print(f"wrote {len(written) + 3} files to {OUT}")


if __name__ == "__main__":
    main()
