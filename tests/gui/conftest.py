"""Fixtures for the GUI tests: small real models saved as model files, images, and a started window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer.core.checkpoint import save_model
from resnet_explorer.core.resnet import build_model

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def _card(model: torch.nn.Module) -> dict:
    return {"model": model.config, "class_names": CLASSES, "dataset": "fashion-mnist",
            "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353], "resize": None,
                              "crop": None, "grayscale": True}}


def make_model_file(path: Path, arch: str, seed: int = 0) -> Path:
    """A randomly initialised CIFAR-family net for 1x28x28 inputs, saved with a full card."""
    torch.manual_seed(seed)
    model = build_model(arch, in_chans=1)
    # Random BN statistics so that every block (and its removal) changes the output visibly.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    save_model(path, model, _card(model))
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """resnet20.safetensors and plain20.safetensors (1 input channel, 10 classes)."""
    d = tmp_path_factory.mktemp("models")
    make_model_file(d / "resnet20.safetensors", "resnet20", seed=0)
    make_model_file(d / "plain20.safetensors", "plain20", seed=1)
    return d


@pytest.fixture(scope="session")
def resnet20(model_dir: Path) -> str:
    return str(model_dir / "resnet20.safetensors")


@pytest.fixture(scope="session")
def plain20(model_dir: Path) -> str:
    return str(model_dir / "plain20.safetensors")


@pytest.fixture(scope="session")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Two small photos-like images, a text file, a broken PNG and a folder."""
    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    out = {}
    for name in ("shoe.png", "bag.jpg"):
        pixels = (rng.random((40, 36, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(d / name)
        out[name.split(".")[0]] = str(d / name)
    (d / "notes.txt").write_text("not an image at all\n")
    out["text"] = str(d / "notes.txt")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out["broken"] = str(d / "broken.png")
    (d / "folder").mkdir()
    out["folder"] = str(d / "folder")
    return out


@pytest.fixture
def window(qtbot, resnet20: str):
    """A started main window with resnet20 loaded, that does not touch the user's settings."""
    from resnet_explorer.gui import i18n
    from resnet_explorer.gui.main_window import MainWindow

    i18n.set_language("en")
    win = MainWindow(persist=False)
    qtbot.addWidget(win)
    win.show()
    win.start(resnet20)
    qtbot.waitUntil(lambda: win.explorer.info is not None, timeout=30000)
    yield win
    win.close()
