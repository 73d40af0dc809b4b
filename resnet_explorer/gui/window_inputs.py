"""What the main window opens: image and weights files from dialogs, drops, the clipboard and the bundled
samples. The contents of a drop or paste are sorted by :mod:`resnet_explorer.gui.inputs`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QApplication, QFileDialog

from resnet_explorer.core.suffixes import IMAGE_SUFFIXES, MODEL_SUFFIXES

from .i18n import tr
from .inputs import DropContents, read_mime
from .jobs import OpenedImage

if TYPE_CHECKING:  # the window owns this object: no import at run time, no cycle
    from .main_window import MainWindow

IMAGE_FILTER = "Images ({patterns})"  # translated, then filled with IMAGE_SUFFIXES
WEIGHTS_FILTER = "Model files ({patterns})"  # ... with MODEL_SUFFIXES
MAX_SAMPLES = 48


def file_filter(label: str, suffixes: Iterable[str]) -> str:
    """A file dialog's filter, e.g. "Images (*.jpg *.png)", from the core's own list of suffixes."""
    return tr(label).format(patterns=" ".join(f"*{s}" for s in sorted(suffixes)))


def sample_label(stem: str) -> str:
    """``fmnist-0-t-shirt-top-00019`` -> ``T-shirt/top`` (the class as the dataset spells it);
    ``odd-rgba-trouser`` -> ``Trouser: RGBA`` (a class named in the file name first, then what is odd);
    any other file name: its words, without numbers."""
    from resnet_explorer.core.class_names import FASHION_MNIST_CLASSES  # plain Python: no torch

    pieces = stem.split("-")
    if len(pieces) > 2 and pieces[0] == "fmnist" and pieces[1].isdigit():
        index = int(pieces[1])
        if index < len(FASHION_MNIST_CLASSES):
            return FASHION_MNIST_CLASSES[index]
    parts = [p for p in stem.replace("_", "-").split("-") if p and not p.isdigit()]
    if len(parts) > 1:
        parts = parts[1:]  # the collection's prefix (fmnist, odd ...)
    classes = {name.lower(): name for name in FASHION_MNIST_CLASSES}
    named = [p for p in parts if p.lower() in classes]
    if named and len(parts) > 1:
        rest = [_ACRONYMS.get(p.lower(), p) for p in parts if p not in named]
        return f"{classes[named[-1].lower()]}: {' '.join(rest)}"
    return " ".join(parts) or stem


_ACRONYMS = {"rgb": "RGB", "rgba": "RGBA", "jpeg": "JPEG", "png": "PNG"}


class WindowInputs:
    """Opens images (and model files) for ``window``: its explorer opens them, its banner says what failed."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self.samples: list[OpenedImage] = []  # the bundled samples, once the explorer has read them

    def open_paths(self, paths: list[str]) -> None:
        """Open image files (or a model file) as a drop would."""
        from .inputs import classify_paths

        self.handle_contents(classify_paths(paths))

    def handle_drop(self, mime) -> None:
        """Open whatever ``mime`` (a QMimeData) holds; a wrong drop only shows a message."""
        self.handle_contents(read_mime(mime))

    def paste(self) -> None:
        """Edit > Paste: an image or image files from the clipboard."""
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            self._window.show_message("error", tr("The clipboard is empty."))
            return
        self.handle_contents(read_mime(mime))

    def handle_contents(self, contents: DropContents) -> None:
        """Open the images and/or model of a drop or paste; report what could not be used."""
        if contents.errors:
            self._window.show_message("error", " ".join(contents.errors[:3]))
        if contents.model:
            self._window.load_model(contents.model)
        if contents.images:
            self._window.explorer.open_sources(contents.images)

    def open_image_dialog(self) -> None:
        """File > Open image, starting in the folder of the most recent image."""
        recent = self._window.prefs.recent_images
        start = str(Path(recent[0]).parent) if recent else str(Path.home())
        paths, _ = QFileDialog.getOpenFileNames(self._window, tr("Open image"), start,
                                                file_filter(IMAGE_FILTER, IMAGE_SUFFIXES))
        if paths:
            self.open_paths(paths)

    def open_weights_dialog(self) -> None:
        """File > Open weights: load the model file the user picks."""
        path = self.ask_weights_file()
        if path:
            self._window.load_model(path)

    def ask_weights_file(self) -> str:
        """A .safetensors (or safe .pth) model file the user picks; "" when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self._window, tr("Open weights"), str(Path.home()),
                                              file_filter(WEIGHTS_FILTER, MODEL_SUFFIXES))
        return path

    # ----- samples ------------------------------------------------------------------------------------
    def load_samples(self) -> None:
        """Have the explorer read the bundled samples (in the background); see :meth:`samples_ready`."""
        from resnet_explorer.resources import asset

        try:
            folder = asset("samples")
            files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        except (FileNotFoundError, OSError):
            files = []
        files = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
        self._window.explorer.load_samples([(str(p), sample_label(p.stem)) for p in files[:MAX_SAMPLES]])

    def samples_ready(self, samples: list[OpenedImage]) -> None:
        """The samples are read: offer them in the Predict tab and the Samples menu."""
        self.samples = samples
        self._window.predict.set_samples([(s.label, s.thumb) for s in samples])
        self._window.menus.fill_samples_menu([s.label for s in samples])

    def open_sample(self, index: int) -> None:
        """Open bundled sample ``index``."""
        if 0 <= index < len(self.samples):
            self.open_paths([self.samples[index].source])
