"""Datasets: IDX files, image folders, synthetic data, subsets, batch augmentation and sharding."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer.core import data
from resnet_explorer.core.errors import UserInputError

REAL_FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file of unsigned bytes, gzip-compressed (the MNIST distribution format)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def make_idx_dataset(directory: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_idx(directory / f"{stem}.gz", array)
    return arrays


def test_idx_files_load_with_names_and_training_set_statistics(tmp_path):
    arrays = make_idx_dataset(tmp_path / "fashion-mnist")
    bundle = data.load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert bundle.train.images.shape == (40, 1, 28, 28) and bundle.test.images.shape == (20, 1, 28, 28)
    assert bundle.train.images.dtype == torch.uint8
    expected = torch.from_numpy(arrays["train-images-idx3-ubyte"]).to(torch.uint8)
    assert torch.equal(bundle.train.images[:, 0], expected)
    assert bundle.train.labels.tolist() == arrays["train-labels-idx1-ubyte"].tolist()
    assert bundle.class_names[0] == "T-shirt/top" and bundle.class_names[9] == "Ankle boot"
    train = arrays["train-images-idx3-ubyte"] / 255.0  # mean/std come from the training split only
    assert bundle.mean[0] == pytest.approx(train.mean(), abs=1e-4)
    assert bundle.std[0] == pytest.approx(train.std(), abs=1e-4)
    prep = bundle.preprocessing()
    assert prep["input_size"] == [1, 28, 28] and prep["grayscale"] is True and prep["resize"] is None


def test_mnist_digits_are_never_flipped(tmp_path):
    make_idx_dataset(tmp_path / "mnist")
    bundle = data.load_dataset("mnist", data_dir=tmp_path, download=False)
    assert bundle.class_names == [str(i) for i in range(10)]
    assert bundle.hflip_ok is False


def test_missing_dataset_names_the_files_and_places(tmp_path):
    with pytest.raises(UserInputError) as err:
        data.load_dataset("mnist", data_dir=tmp_path, download=False)
    message = str(err.value)
    assert "train-images-idx3-ubyte.gz" in message and str(tmp_path) in message


def test_partial_dataset_names_the_missing_file(tmp_path):
    make_idx_dataset(tmp_path / "mnist")
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserInputError, match="missing t10k-labels-idx1-ubyte.gz"):
        data.load_dataset("mnist", data_dir=tmp_path, download=False)


@pytest.mark.parametrize("damage", ["truncate", "not-gzip", "bad-magic"])
def test_corrupt_idx_file_is_a_clear_error_naming_it(tmp_path, damage):
    make_idx_dataset(tmp_path / "mnist")
    victim = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(victim.read_bytes())
    if damage == "truncate":
        victim.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    elif damage == "not-gzip":
        victim.write_bytes(b"<html>404 not found</html>")
    else:
        victim.write_bytes(gzip.compress(b"\x00\x00\x0d\x03" + raw[4:]))
    with pytest.raises(UserInputError) as err:
        data.load_dataset("mnist", data_dir=tmp_path, download=False)
    assert str(victim) in str(err.value) and "IDX" in str(err.value)


def test_empty_dataset_is_an_error(tmp_path):
    make_idx_dataset(tmp_path / "mnist", n_train=0)
    with pytest.raises(UserInputError, match="empty"):
        data.load_dataset("mnist", data_dir=tmp_path, download=False)


def test_cifar_absent_offline_says_what_is_missing_and_where(tmp_path):
    with pytest.raises(UserInputError) as err:
        data.load_dataset("cifar10", data_dir=tmp_path, download=False)
    assert str(tmp_path) in str(err.value) and "cifar-10-python.tar.gz" in str(err.value)


def test_the_default_data_directory_is_per_user():
    # conftest points XDG_DATA_HOME into a sandbox: the default must follow it (platformdirs).
    assert str(data.default_data_dir()).startswith(os.environ["XDG_DATA_HOME"])


def test_unknown_dataset_lists_the_valid_names():
    with pytest.raises(UserInputError, match="fashion-mnist.*synthetic"):
        data.load_dataset("imagenet22k")


def test_subset_is_fixed_by_the_seed(tmp_path):
    make_idx_dataset(tmp_path / "mnist", n_train=100, n_test=50)
    a = data.load_dataset("mnist", data_dir=tmp_path, download=False, subset=30, seed=1)
    b = data.load_dataset("mnist", data_dir=tmp_path, download=False, subset=30, seed=1)
    c = data.load_dataset("mnist", data_dir=tmp_path, download=False, subset=30, seed=2)
    assert len(a.train) == 30 and len(a.test) == 30
    assert torch.equal(a.train.images, b.train.images)
    assert not torch.equal(a.train.images, c.train.images)


def test_synthetic_data_is_the_same_every_time_and_class_dependent():
    a, b = (data.make_synthetic(n_train=200, n_test=50, size=8) for _ in range(2))
    assert torch.equal(a.train.images, b.train.images) and a.input_size == (3, 8, 8)
    means = torch.stack([a.train.images[a.train.labels == k].float().mean(0) for k in range(10)])
    # Class means differ far more than noise would make them: the patterns carry the label.
    assert (means[0] - means[1]).abs().mean() > 5


def _save_image(path: Path, size: tuple[int, int], mode: str, colour: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fill = colour if mode in ("L", "P") else (colour, 255 - colour, 60, 255)[: len(mode)]
    Image.new(mode, size, fill).save(path)


def test_image_folder_holds_out_a_split_per_class_and_skips_broken_files(tmp_path):
    for i in range(5):
        _save_image(tmp_path / "cats" / f"c{i}.png", (40 + i, 30), "RGBA", 200)
        _save_image(tmp_path / "dogs" / f"d{i}.jpg", (20, 50), "L", 30)
    (tmp_path / "dogs" / "broken.jpg").write_bytes(b"not a jpeg")
    bundle = data.load_dataset(f"imagefolder:{tmp_path}", image_size=16, val_fraction=0.2)
    assert bundle.class_names == ["cats", "dogs"]
    assert bundle.train.images.shape[1:] == (3, 16, 16) and len(bundle.train) + len(bundle.test) == 10
    assert sorted(bundle.test.labels.tolist()) == [0, 1]  # one of each class held out
    cats = bundle.train.images[bundle.train.labels == 0].float()
    assert cats[:, 0].mean() == pytest.approx(200, abs=2)  # RGBA converted, colour kept
    assert bundle.preprocessing()["resize"] == 16 and bundle.preprocessing()["crop"] == 16


def test_image_folder_with_train_and_test_folders_uses_them(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for cls in ("a", "b"):
            for i in range(n):
                _save_image(tmp_path / split / cls / f"{i}.png", (10, 10), "RGB", 100)
    bundle = data.load_dataset(f"imagefolder:{tmp_path}", image_size=8)
    assert len(bundle.train) == 6 and len(bundle.test) == 4


@pytest.mark.parametrize("layout", ["missing", "one-class", "empty-class"])
def test_image_folder_problems_are_clear_errors(tmp_path, layout):
    root = tmp_path / "photos"
    if layout != "missing":
        for i in range(3):
            _save_image(root / "only" / f"{i}.png", (8, 8), "RGB", 1)
    if layout == "empty-class":
        (root / "nothing-here").mkdir()
    with pytest.raises(UserInputError) as err:
        data.load_dataset(f"imagefolder:{root}")
    assert str(root) in str(err.value)


def test_random_crop_flip_takes_a_window_of_the_zero_padded_image():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    out = data.random_crop_flip(x, pad=2, flip=False, generator=g)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for b in range(2):
        windows = [padded[b, :, i:i + 6, j:j + 6] for i in range(5) for j in range(5)]
        assert any(torch.equal(out[b], w) for w in windows)
    assert torch.equal(data.random_crop_flip(x, pad=0, flip=False, generator=g), x)


def test_random_flip_flips_about_half_and_is_seeded():
    x = torch.arange(8, dtype=torch.uint8).view(1, 1, 1, 8).repeat(1000, 1, 1, 1)
    a = data.random_crop_flip(x, 0, True, torch.Generator().manual_seed(3))
    b = data.random_crop_flip(x, 0, True, torch.Generator().manual_seed(3))
    flipped = (a[:, 0, 0, 0] == 7).float().mean()
    assert torch.equal(a, b) and 0.4 < flipped < 0.6
    assert all(torch.equal(r, x[0]) or torch.equal(r, x[0].flip(-1)) for r in a[:20])


def test_random_resized_crop_keeps_the_shape():
    x = torch.randn(4, 3, 28, 28)
    out = data.random_resized_crop_flip(x, True, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.isfinite(out).all() and not torch.equal(out, x)


def test_epoch_order_is_seeded_and_shards_cover_the_data():
    n = 10
    order = data.epoch_order(n, seed=0, epoch=0)
    assert sorted(order.tolist()) == list(range(n))
    assert torch.equal(order, data.epoch_order(n, seed=0, epoch=0))
    assert not torch.equal(order, data.epoch_order(n, seed=0, epoch=1))
    shards = [data.epoch_order(n, 0, 0, rank, 2) for rank in range(2)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert sorted(torch.cat(shards).tolist()) == list(range(n))
    odd = [data.epoch_order(11, 0, 0, rank, 2) for rank in range(2)]
    assert len(odd[0]) == len(odd[1]) == 6  # padded by wrapping around, like DistributedSampler


@pytest.mark.dataset
@pytest.mark.skipif(not REAL_FASHION.exists(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_loads_from_the_debian_path(tmp_path):
    bundle = data.load_dataset("fashion-mnist", data_dir=tmp_path, download=False)
    assert len(bundle.train) == 60_000 and len(bundle.test) == 10_000
    assert bundle.mean[0] == pytest.approx(0.286, abs=1e-3)
    assert bundle.std[0] == pytest.approx(0.353, abs=1e-3)
