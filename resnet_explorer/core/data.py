"""Datasets for training and evaluation, held in memory as ``uint8`` tensors.

Every dataset this project trains on fits in memory (Fashion-MNIST is 47 MB as ``uint8``, CIFAR-10
150 MB), so a dataset is loaded once as ``uint8`` tensors ``(N, C, H, W)`` and the engine cuts, augments
and normalises whole batches as tensors: no per-sample PIL transforms, no DataLoader worker processes.

Names accepted by :func:`load_dataset`:

* ``fashion-mnist``, ``mnist``: the four IDX gzip files, looked up in ``data_dir`` (default: the per-user
  data directory, see :func:`default_data_dir`), then where Debian's ``dataset-fashion-mnist`` puts them
  (``/usr/share/datasets/fashion-mnist``); downloaded through torchvision when absent and allowed.
* ``cifar10``, ``cifar100``: through torchvision, downloaded into ``data_dir`` on first use.
* ``imagefolder:PATH``: one sub-folder per class (or ``train/`` and ``test/`` each holding them); without
  a ``test/`` folder a seeded, stratified ``val_fraction`` of each class is held out.
* ``synthetic``: generated class patterns plus noise; small and learnable within an epoch.

Normalisation statistics are the per-channel mean and standard deviation of the *training* split (before
``subset``), in units of ``pixel / 255``; the test split is normalised with the same numbers.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .class_names import FASHION_MNIST_CLASSES
from .errors import ExplorerError, UserInputError
from .files import format_bytes, open_regular_file
from .images import open_image
from .suffixes import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

DATASET_NAMES = ("fashion-mnist", "mnist", "cifar10", "cifar100", "imagefolder:PATH", "synthetic")
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IDX_EXPECTED = "an IDX file of unsigned bytes (as distributed with MNIST / Fashion-MNIST)"
# The data an IDX header may declare (Fashion-MNIST's training images: 47 MB; EMNIST's largest: 0.55 GB),
# checked before the tensor is allocated. Also the most a file itself may hold.
MAX_IDX_BYTES = 2**30


@dataclass
class Split:
    """One split: ``images`` uint8 ``(N, C, H, W)`` and ``labels`` int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def take(self, index: torch.Tensor) -> Split:
        """The samples at ``index`` (a new split)."""
        return Split(self.images[index], self.labels[index])

    def to(self, device: torch.device | str) -> Split:
        """The split on ``device`` (the engine keeps the whole dataset on the GPU when it has one)."""
        return Split(self.images.to(device), self.labels.to(device))


@dataclass
class DatasetBundle:
    """A loaded dataset: both splits, class names, normalisation and where it came from."""

    name: str
    train: Split
    test: Split
    class_names: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    source: str = ""
    # Horizontal flips keep the label of clothes and photos, not of digits.
    hflip_ok: bool = True
    # Set for imagefolder data: how a new photo must be resized / cropped to match the training images.
    resize: int | None = None
    crop: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        c, h, w = self.train.images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def preprocessing(self) -> dict[str, Any]:
        """The model card's ``preprocessing`` entry for a model trained on this data."""
        return {"input_size": list(self.input_size), "mean": list(self.mean), "std": list(self.std),
                "resize": self.resize, "crop": self.crop, "grayscale": self.input_size[0] == 1}


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/resnet-explorer/datasets`` on Linux)."""
    env = os.environ.get("RESNET_EXPLORER_DATA_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_data_dir("resnet-explorer", appauthor=False)) / "datasets"


def load_dataset(name: str, *, data_dir: str | os.PathLike[str] | None = None, download: bool = True,
                 image_size: int | None = None, subset: int | None = None, seed: int = 0,
                 val_fraction: float = 0.2) -> DatasetBundle:
    """Load dataset ``name`` (see the module docstring) into memory.

    ``subset`` keeps a fixed, seeded random ``subset`` of the training images and at most as many test
    images (quick demos); ``image_size`` sets the side of imagefolder and synthetic images. Raises
    :class:`UserInputError` naming the path and what was expected for missing, corrupt or empty data.
    """
    key = name.strip()
    root = Path(data_dir) if data_dir else default_data_dir()
    lower = key.lower()
    if lower in ("fashion-mnist", "fashion_mnist", "fashionmnist"):
        bundle = _load_mnist_like("fashion-mnist", root, download)
    elif lower == "mnist":
        bundle = _load_mnist_like("mnist", root, download)
    elif lower in ("cifar10", "cifar100"):
        bundle = _load_cifar(lower, root, download)
    elif lower.startswith("imagefolder:"):
        bundle = load_image_folder(Path(key.split(":", 1)[1]).expanduser(), image_size or 32,
                                   seed=seed, val_fraction=val_fraction)
    elif lower == "synthetic":
        bundle = make_synthetic(size=image_size or 16)
    else:
        raise UserInputError(f"unknown dataset {name!r}; valid: {', '.join(DATASET_NAMES)}")
    return apply_subset(bundle, subset, seed) if subset else bundle


def apply_subset(bundle: DatasetBundle, subset: int, seed: int) -> DatasetBundle:
    """Keep a seeded random ``subset`` of the training split and at most ``subset`` test images."""
    if subset < 1:
        raise UserInputError(f"--subset must be at least 1, got {subset}")
    g = torch.Generator().manual_seed(seed)
    train_idx = torch.randperm(len(bundle.train), generator=g)[:subset]
    test_idx = torch.randperm(len(bundle.test), generator=g)[:subset]
    bundle.train = bundle.train.take(train_idx)
    bundle.test = bundle.test.take(test_idx)
    bundle.notes.append(f"subset: {len(bundle.train)} training and {len(bundle.test)} test images")
    return bundle


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 ``images`` in ``[0, 1]`` units (in chunks)."""
    c = images.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, images.shape[0], chunk):
        x = images[start:start + chunk].to(torch.float64) / 255.0
        total += x.sum(dim=(0, 2, 3))
        total_sq += (x * x).sum(dim=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(round(float(v), 4) for v in mean), tuple(round(max(float(v), 1e-3), 4) for v in std)


def _bundle(name: str, train: Split, test: Split, classes: list[str], source: str,
            **kw: object) -> DatasetBundle:
    for split_name, split in (("training", train), ("test", test)):
        if len(split) == 0:
            raise UserInputError(f"{source}: the {split_name} split of {name} is empty")
    mean, std = channel_stats(train.images)
    return DatasetBundle(name, train, test, classes, mean, std, source=source, **kw)  # type: ignore[arg-type]


# ----- IDX files (MNIST, Fashion-MNIST) ---------------------------------------------------------------
def read_idx(path: str | os.PathLike[str]) -> torch.Tensor:
    """An IDX file (gzip-compressed or not) of unsigned bytes as a uint8 tensor of its shape.

    Only a regular file is opened. The dimensions in its header are checked against ``MAX_IDX_BYTES``
    (and, uncompressed, against the file's size) before the tensor is allocated, and a gzip file is
    decompressed as a stream straight into that tensor: a gzip bomb stops one byte past the declared size.
    """
    path = Path(path)
    with open_regular_file(path, MAX_IDX_BYTES, noun="an IDX file") as (f, size):
        gz = path.suffix == ".gz"
        try:
            stream = gzip.GzipFile(fileobj=f, mode="rb") if gz else f
            return _read_idx_stream(stream, None if gz else size, path)
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise UserInputError(f"{path}: cannot be read or decompressed ({exc}); "
                                 f"expected {IDX_EXPECTED}") from None


def _read_idx_stream(stream: io.BufferedIOBase, file_size: int | None, path: Path) -> torch.Tensor:
    """The IDX data in ``stream``; ``file_size`` is the file's size when it is not compressed."""
    head = stream.read(4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08 or not 1 <= head[3] <= 4:
        raise UserInputError(f"{path}: not {IDX_EXPECTED} (bad magic number)")
    ndim = head[3]
    raw_dims = stream.read(4 * ndim)
    dims = [int.from_bytes(raw_dims[4 * i: 4 + 4 * i], "big") for i in range(len(raw_dims) // 4)]
    n = math.prod(dims)
    if len(dims) != ndim or n > MAX_IDX_BYTES:
        raise UserInputError(f"{path}: not {IDX_EXPECTED} (its header declares {dims}: "
                             f"{format_bytes(n)}, at most {format_bytes(MAX_IDX_BYTES)} accepted)")
    if file_size is not None and file_size != 4 + 4 * ndim + n:
        raise UserInputError(_idx_truncated(path, dims, file_size - 4 - 4 * ndim))
    data = torch.empty(n, dtype=torch.uint8)
    view, done = data.numpy().data, 0
    while done < n:
        got = stream.readinto(view[done:])
        if not got:
            raise UserInputError(_idx_truncated(path, dims, done))
        done += got
    if stream.read(1):
        raise UserInputError(_idx_truncated(path, dims, f"more than {n}"))
    return data.reshape(dims)


def _idx_truncated(path: Path, dims: list[int], held: int | str) -> str:
    return (f"{path}: truncated or corrupt: the header promises {dims} bytes of data, the file holds "
            f"{held}; expected {IDX_EXPECTED}")


def _idx_path(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / f"{stem}.gz", directory / stem):
        if candidate.exists():  # not is_file(): a pipe or device there is reported by read_idx, not skipped
            return candidate
    return None


def _idx_dirs(name: str, root: Path) -> list[Path]:
    torchvision_name = "FashionMNIST" if name == "fashion-mnist" else "MNIST"
    dirs = [root / name, root, root / torchvision_name / "raw"]
    if name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION_MNIST)
    return dirs


def _find_idx_files(name: str, root: Path) -> dict[str, Path] | None:
    """The first directory holding all four files; an error if one holds only some of them."""
    for directory in _idx_dirs(name, root):
        found = {k: _idx_path(directory, stem) for k, stem in IDX_FILES.items()}
        if all(found.values()):
            return found  # type: ignore[return-value]
        present = [k for k, v in found.items() if v]
        if present:
            missing = ", ".join(IDX_FILES[k] + ".gz" for k, v in found.items() if not v)
            raise UserInputError(f"{directory} holds only part of {name}: missing {missing}")
    return None


def _download_idx(name: str, root: Path) -> None:
    try:
        import torchvision.datasets as tvd

        cls = tvd.FashionMNIST if name == "fashion-mnist" else tvd.MNIST
        cls(str(root), train=True, download=True)
    except Exception as exc:  # network errors come in many types (URLError, HTTPError, socket, ...)
        log.debug("download of %s failed: %r", name, exc)


def _load_mnist_like(name: str, root: Path, download: bool) -> DatasetBundle:
    files = _find_idx_files(name, root)
    if files is None and download:
        _download_idx(name, root)
        files = _find_idx_files(name, root)
    if files is None:
        searched = ", ".join(str(d) for d in _idx_dirs(name, root))
        hint = " (Debian: apt install dataset-fashion-mnist)" if name == "fashion-mnist" else ""
        raise UserInputError(
            f"{name} not found: expected {', '.join(s + '.gz' for s in IDX_FILES.values())} in one of "
            f"{searched}; put them there or pass --data-dir{hint}; the download "
            f"{'failed (offline?)' if download else 'was not allowed'}")
    splits = {}
    for split in ("train", "test"):
        images = read_idx(files[f"{split}_images"])
        labels = read_idx(files[f"{split}_labels"]).long()
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise UserInputError(f"{files[f'{split}_images'].parent}: {split} images {list(images.shape)} "
                                 f"and labels {list(labels.shape)} do not match; expected N x 28 x 28 and N")
        splits[split] = Split(images.unsqueeze(1).contiguous(), labels)
    classes = FASHION_MNIST_CLASSES if name == "fashion-mnist" else [str(i) for i in range(10)]
    _check_labels(splits["train"], len(classes), files["train_labels"])
    _check_labels(splits["test"], len(classes), files["test_labels"])
    return _bundle(name, splits["train"], splits["test"], list(classes),
                   str(files["train_images"].parent), hflip_ok=name != "mnist")


def _check_labels(split: Split, num_classes: int, path: Path) -> None:
    if len(split) and (int(split.labels.min()) < 0 or int(split.labels.max()) >= num_classes):
        raise UserInputError(f"{path}: labels outside 0..{num_classes - 1}; corrupt file?")


# ----- CIFAR (torchvision) ----------------------------------------------------------------------------
def _load_cifar(name: str, root: Path, download: bool) -> DatasetBundle:
    import torchvision.datasets as tvd

    cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
    splits = {}
    try:
        for split in ("train", "test"):
            ds = cls(str(root), train=split == "train", download=download)
            images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
            splits[split] = Split(images, torch.as_tensor(ds.targets, dtype=torch.long))
    except Exception as exc:  # torchvision raises RuntimeError when absent, URLError & co when offline
        archive = "cifar-10-python.tar.gz" if name == "cifar10" else "cifar-100-python.tar.gz"
        raise UserInputError(
            f"{name} is not in {root} and could not be {'downloaded' if download else 'loaded'} "
            f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); it downloads on first use "
            f"when online (about 170 MB), or put {archive} into {root}") from None
    return _bundle(name, splits["train"], splits["test"], list(ds.classes), str(root))


# ----- image folders ----------------------------------------------------------------------------------
def _open_rgb(path: Path) -> torch.Tensor | None:
    """An image as a uint8 (3, H, W) tensor, or ``None`` (logged) when it cannot be decoded safely."""
    try:
        image = open_image(path)
    except ExplorerError as exc:
        log.warning("skipping %s: %s", path, exc)
        return None
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


def _resize_center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the shorter side to ``size`` (antialiased), then crop the centre ``size`` x ``size``."""
    _, h, w = image.shape
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(image[None].float(), size=(nh, nw), mode="bilinear", antialias=True,
                      align_corners=False)[0]
    top, left = (nh - size) // 2, (nw - size) // 2
    return x[:, top:top + size, left:left + size].round().clamp(0, 255).to(torch.uint8)


def _class_dirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _load_class_images(directory: Path, size: int) -> list[torch.Tensor]:
    images = [_open_rgb(p) for p in _image_files(directory)]
    return [_resize_center_crop(im, size) for im in images if im is not None]


def _read_tree(root: Path, classes: Sequence[str], size: int) -> tuple[list[torch.Tensor], list[int]]:
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for label, cls in enumerate(classes):
        loaded = _load_class_images(root / cls, size) if (root / cls).is_dir() else []
        images += loaded
        labels += [label] * len(loaded)
    return images, labels


def _stack(images: list[torch.Tensor], labels: list[int]) -> Split:
    return Split(torch.stack(images), torch.tensor(labels, dtype=torch.long))


def load_image_folder(path: Path, size: int = 32, *, seed: int = 0,
                      val_fraction: float = 0.2) -> DatasetBundle:
    """Photos in ``path/<class>/*.jpg`` (or ``path/train/<class>``, ``path/test/<class>``) as a dataset.

    Each image is decoded safely, converted to RGB, its shorter side resized to ``size`` and its centre
    cropped to ``size`` x ``size``. Without a ``test`` folder, ``val_fraction`` of every class (at least
    one image, where the class has two) is held out, chosen by ``seed``. Unreadable images are skipped
    with a warning; a folder with no class or an empty class is an error.
    """
    if not path.is_dir():
        raise UserInputError(f"{path}: no such folder; expected one sub-folder of images per class")
    split_root = path / "train" if (path / "train").is_dir() and (path / "test").is_dir() else None
    classes = [d.name for d in _class_dirs(split_root or path)]
    if len(classes) < 2:
        raise UserInputError(f"{split_root or path}: expected at least two class folders (one per class, "
                             f"each holding .jpg/.png images), found {len(classes)}")
    if split_root is not None:
        train = _stack(*_read_tree(split_root, classes, size))
        test_images, test_labels = _read_tree(path / "test", classes, size)
        if not test_images:
            raise UserInputError(f"{path / 'test'}: no readable images in its class folders")
        test = _stack(test_images, test_labels)
    else:
        train, test = _hold_out(path, classes, size, seed, val_fraction)
    counts = torch.bincount(train.labels, minlength=len(classes))
    empty = [c for c, n in zip(classes, counts.tolist(), strict=True) if n == 0]
    if empty:
        raise UserInputError(f"{split_root or path}: no readable images for class(es) {', '.join(empty)}")
    return _bundle(f"imagefolder:{path}", train, test, classes, str(path), resize=size, crop=size)


def _hold_out(path: Path, classes: list[str], size: int, seed: int,
              val_fraction: float) -> tuple[Split, Split]:
    g = torch.Generator().manual_seed(seed)
    parts: dict[str, tuple[list[torch.Tensor], list[int]]] = {"train": ([], []), "test": ([], [])}
    for label, cls in enumerate(classes):
        images = _load_class_images(path / cls, size)
        n_test = min(len(images) - 1, max(1, round(len(images) * val_fraction))) if len(images) > 1 else 0
        order = torch.randperm(len(images), generator=g).tolist()
        for rank, i in enumerate(order):
            part = parts["test" if rank < n_test else "train"]
            part[0].append(images[i])
            part[1].append(label)
    if not parts["train"][0]:
        raise UserInputError(f"{path}: no readable images (.jpg, .png, ...) in its class folders")
    if not parts["test"][0]:
        raise UserInputError(f"{path}: too few images to hold any out for testing; add a few per class")
    return _stack(*parts["train"]), _stack(*parts["test"])


# ----- synthetic ----------------------------------------------------------------------------------------
def make_synthetic(n_train: int = 2048, n_test: int = 512, num_classes: int = 10, size: int = 16,
                   channels: int = 3, seed: int = 0) -> DatasetBundle:
    """Class-dependent smooth patterns plus noise and random brightness: learnable within an epoch.

    The data depend on ``seed`` only (not on the training seed), so it is the same dataset every time.
    """
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(num_classes, channels, 4, 4, generator=g)
    templates = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)

    def split(n: int) -> Split:
        labels = torch.arange(n) % num_classes
        labels = labels[torch.randperm(n, generator=g)]
        noise = torch.randn(n, channels, size, size, generator=g)
        brightness = 0.2 * torch.randn(n, 1, 1, 1, generator=g)
        x = 1.5 * templates[labels] + 0.6 * noise + brightness
        return Split((128 + 40 * x).round().clamp(0, 255).to(torch.uint8), labels)

    train, test = split(n_train), split(n_test)
    return _bundle("synthetic", train, test, [f"pattern {i}" for i in range(num_classes)], "generated")


# ----- batches and augmentation -------------------------------------------------------------------------
def mix_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from several integers (seed, epoch, step, rank ...)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(2, np.uint64)[0]
               >> np.uint64(1))


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> torch.Tensor:
    """This rank's sample order for ``epoch``: a seeded permutation, sharded like DistributedSampler.

    The permutation depends only on ``(seed, epoch)``; it is padded by wrapping around to a multiple of
    ``world_size`` and rank ``r`` takes every ``world_size``-th index starting at ``r``.
    """
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(mix_seed(seed, epoch, 17)))
    if world_size > 1:
        padded = math.ceil(n / world_size) * world_size
        perm = torch.cat([perm, perm[: padded - n]])[rank::world_size]
    return perm


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Training steps per epoch: the last partial batch is dropped (a batch of one breaks BatchNorm)."""
    return max(1, n // batch_size)


def random_crop_flip(x: torch.Tensor, pad: int, flip: bool, generator: torch.Generator) -> torch.Tensor:
    """The paper's CIFAR augmentation on a batch: zero-pad by ``pad``, random crop back, random h-flip."""
    b, _, h, w = x.shape
    if pad > 0:
        padded = F.pad(x, (pad, pad, pad, pad))
        dev = x.device
        oy = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=dev)
        ox = torch.randint(0, 2 * pad + 1, (b, 1), generator=generator, device=dev)
        rows = (oy + torch.arange(h, device=dev)).view(b, 1, h, 1)
        cols = (ox + torch.arange(w, device=dev)).view(b, 1, 1, w)
        # One gather per axis: every sample gets its own window of the padded image.
        x = padded.gather(2, rows.expand(b, x.shape[1], h, padded.shape[3]))
        x = x.gather(3, cols.expand(b, x.shape[1], h, w))
    if flip:
        x = _random_hflip(x, generator)
    return x


def _random_hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    mask = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def random_resized_crop_flip(x: torch.Tensor, flip: bool, generator: torch.Generator,
                             scale: tuple[float, float] = (0.25, 1.0),
                             ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """ImageNet-style augmentation on a float batch: a random area/aspect crop resized back, random flip.

    The smallest area is 25% rather than ImageNet's 8%: the images here are tiny (28 to 64 px).
    """
    from torchvision.ops import roi_align

    b, _, h, w = x.shape
    dev = x.device
    area = torch.empty(b, device=dev).uniform_(*scale, generator=generator) * h * w
    log_r = torch.empty(b, device=dev).uniform_(math.log(ratio[0]), math.log(ratio[1]), generator=generator)
    aspect = log_r.exp()
    cw = (area * aspect).sqrt().clamp(max=w)
    ch = (area / aspect).sqrt().clamp(max=h)
    x0 = torch.rand(b, generator=generator, device=dev) * (w - cw)
    y0 = torch.rand(b, generator=generator, device=dev) * (h - ch)
    boxes = torch.stack([torch.arange(b, device=dev, dtype=x.dtype), x0, y0, x0 + cw, y0 + ch], 1)
    out = roi_align(x, boxes.to(x.dtype), output_size=(h, w), spatial_scale=1.0, sampling_ratio=2,
                    aligned=True)
    return _random_hflip(out, generator) if flip else out


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 (or float in 0..255) images to float: ``(x / 255 - mean) / std``; mean/std shaped (1,C,1,1)."""
    return (x.float() / 255.0 - mean) / std
