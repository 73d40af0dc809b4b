"""The Train tab's settings: which networks, on which data, for how long.

What can be chosen comes from the core (:data:`resnet_explorer.core.resnet.ARCHS` for the networks, their
family, depth and shortcuts, :data:`~resnet_explorer.core.resnet.SHORTCUT_OPTIONS`,
:data:`resnet_explorer.core.data.DATASET_NAMES`); the form only adds the words shown for them. Those
modules import torch, which the window must not wait for (the device probe imports it in the background),
so the core's lists are read the first time the form is shown or used, not when it is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_explorer.gui.device_picker import accelerators
from resnet_explorer.gui.i18n import tr
from resnet_explorer.gui.workers import training_thread_budget

from .texts import Texts

if TYPE_CHECKING:
    from resnet_explorer.core.engine import TrainConfig
    from resnet_explorer.core.resnet import ArchSpec

# The words for the core's keys, in the order the form lists them.
FAMILY_LABELS = (
    ("cifar", "CIFAR-style (6n+2 layers, small images)"),
    ("imagenet", "ImageNet-style (18 to 152 layers)"),
)
KIND_LABELS = ((True, "Residual (with shortcuts)"), (False, "Plain (no shortcuts)"))  # key: ArchSpec.residual
SHORTCUT_LABELS = (
    ("A", "A: zero-padding identity (no parameters)"),
    ("B", "B: 1x1 projection where the shape changes"),
    ("C", "C: 1x1 projection on every block"),
)
DATASET_LABELS = (
    ("synthetic", "Synthetic patterns (quick test, no download)"),
    ("fashion-mnist", "Fashion-MNIST"),
    ("mnist", "MNIST"),
    ("cifar10", "CIFAR-10"),
    ("cifar100", "CIFAR-100"),
    ("imagefolder", "Image folder (one sub-folder per class)"),
)
PAPER_SHORTCUT = {"cifar": "A", "imagenet": "B"}  # the option the paper uses in each family


@dataclass(frozen=True)
class Preset:
    """A ready-made comparison: what the form is filled with."""

    archs: tuple[str, ...]
    dataset: str
    subset: int
    epochs: int
    batch_size: int
    lr: float
    zero_init_residual: bool = False


# Fig. 6 in miniature, within 4 minutes on 2 CPU cores (measured idle with scripts/measure_demo.py: 223 s on
# an AMD EPYC, 162-163 s on an Intel Xeon): 2,000 Fashion-MNIST images, 3 epochs. plain56 ends far above
# plain20 in *training* error (86% vs 44%); at this budget resnet56 still trails resnet20 (47% vs 31%): the
# recorded full-budget curves drawn behind the live ones show where they go.
# Batch 64 with lr 0.05 is the paper's 128 / 0.1 scaled linearly: twice the steps per epoch.
DEGRADATION_DEMO = Preset(("plain20", "plain56", "resnet20", "resnet56"), "fashion-mnist", 2000, 3, 64, 0.05)


@dataclass(frozen=True)
class Catalogue:
    """What the core offers to train: architectures, shortcut options and dataset keys."""

    archs: Mapping[str, ArchSpec]
    shortcuts: tuple[str, ...]
    datasets: tuple[str, ...]

    @classmethod
    def from_core(cls) -> Catalogue:
        """The core's lists (imports torch: call it when the form is needed, not at start-up)."""
        from resnet_explorer.core.data import DATASET_NAMES
        from resnet_explorer.core.resnet import ARCHS, SHORTCUT_OPTIONS

        # "imagefolder:PATH" is one choice; the form asks for the PATH in a field of its own.
        return cls(ARCHS, tuple(SHORTCUT_OPTIONS), tuple(n.partition(":")[0] for n in DATASET_NAMES))

    def families(self) -> list[str]:
        """Every family, in the core's order."""
        return list(dict.fromkeys(spec.family for spec in self.archs.values()))

    def depths(self, family: str) -> list[int]:
        """The depths of ``family``, shallowest first."""
        return sorted({spec.depth for spec in self.archs.values() if spec.family == family})

    def arch(self, family: str, residual: bool, depth: int) -> str | None:
        """The name of the network of ``family`` with (or without) shortcuts and ``depth`` layers."""
        for name, spec in self.archs.items():
            if (spec.family, spec.residual, spec.depth) == (family, residual, depth):
                return name
        return None


class TrainForm(QWidget):
    """Model, data and schedule settings; :meth:`values` says them in the engine's vocabulary."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._t = Texts()
        self._catalogue: Catalogue | None = None
        self._running = False
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 6, 0)
        column.addWidget(self._build_model_box())
        column.addWidget(self._build_data_box())
        column.addWidget(self._build_schedule_box())
        column.addStretch(1)
        self.natural_width = self.sizeHint().width()  # before the pickers may shrink
        for combo in self.findChildren(QComboBox):
            # Long choices ("A: zero-padding identity (no parameters)") must not set the tab's minimum
            # width: at 1024x768 with the presentation zoom the window would outgrow the screen. They elide.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(10)
        self._update_mode()

    # -- layout --------------------------------------------------------------------------------------

    def _build_model_box(self) -> QGroupBox:
        box = QGroupBox()
        self._t(box.setTitle, "Model")
        layout = QFormLayout(box)
        self.mode = self._t.combo((("single", "One network"), ("compare", "Compare several networks")))
        self.family = self._t.combo(FAMILY_LABELS)
        self.kind = self._t.combo(KIND_LABELS)
        self.depth_combo = QComboBox()  # not `depth`: that would hide QWidget.depth() (QPaintDevice)
        self.shortcut = self._t.combo(SHORTCUT_LABELS)
        self.compare_box = QWidget()
        self.compare_grid = QGridLayout(self.compare_box)
        self.compare_grid.setContentsMargins(0, 0, 0, 0)
        self._compare_checks: dict[str, QCheckBox] = {}
        self.demo_button = QPushButton()
        self._t(self.demo_button.setText, "Degradation demo (Fig. 6)")
        self._t(self.demo_button.setToolTip, "Fill the form with plain20, plain56, resnet20 and resnet56 "
                "on a Fashion-MNIST subset: the paper's Fig. 6 in about 4 minutes on 2 CPU cores.")
        self.compare_label = self._t.label("Networks")
        for text, widget in (("Mode", self.mode), ("Family", self.family), ("Network", self.kind),
                             ("Depth", self.depth_combo), ("Shortcut", self.shortcut)):
            layout.addRow(self._t.label(text), widget)
        layout.addRow(self.compare_label, self.compare_box)
        layout.addRow(self.demo_button)
        self._model_form = layout
        self.mode.currentIndexChanged.connect(self._update_mode)
        self.family.currentIndexChanged.connect(self._apply_family)
        self.kind.currentIndexChanged.connect(self._update_shortcut)
        self.demo_button.clicked.connect(self.apply_degradation_demo)
        return box

    def _build_data_box(self) -> QGroupBox:
        box = QGroupBox()
        self._t(box.setTitle, "Data")
        layout = QFormLayout(box)
        self.dataset = self._t.combo(DATASET_LABELS)
        self.folder = QLineEdit()
        self._t(self.folder.setPlaceholderText, "folder with one sub-folder per class")
        self.browse = QToolButton()
        self.browse.setText("…")
        self._t(self.browse.setToolTip, "Choose the image folder")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        self.folder_label = self._t.label("Folder")
        self.subset = QSpinBox()
        self.subset.setRange(0, 10_000_000)
        self.subset.setSingleStep(1000)
        self._t(self.subset.setSpecialValueText, "all images")
        self._t(self.subset.setToolTip, "Train on this many images only (0 = the whole training set).")
        layout.addRow(self._t.label("Dataset"), self.dataset)
        layout.addRow(self.folder_label, folder_row)
        layout.addRow(self._t.label("Subset"), self.subset)
        self._data_form = layout
        self.dataset.currentIndexChanged.connect(self._update_folder)
        self.browse.clicked.connect(self._choose_folder)
        self._update_folder()
        return box

    def _build_schedule_box(self) -> QGroupBox:
        box = QGroupBox()
        self._t(box.setTitle, "Training")
        layout = QFormLayout(box)
        self.epochs = _spin_box(1, 1000, 5)
        self.batch = _spin_box(2, 4096, 128)  # BatchNorm needs two images
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(4)
        self.lr.setRange(0.0001, 10.0)
        self.lr.setSingleStep(0.01)
        self.lr.setValue(0.1)
        self._t(self.lr.setToolTip, "Learning rate of SGD with momentum 0.9 (the paper starts at 0.1).")
        self.zero_init = QCheckBox()
        self._t(self.zero_init.setText, "Residual branches start at zero")
        self._t(self.zero_init.setToolTip, "Each residual block starts as an identity: the last BN of every "
                "branch is initialised to zero (Goyal et al. 2017). At lr 0.1 this kept resnet56's loss on "
                "Fashion-MNIST from rising above chance in its first epoch (README). Plain nets have no "
                "branch and start as before.")
        self.device = QComboBox()
        self._fill_devices()
        accelerators().changed.connect(self._fill_devices)
        self.out_dir = PathField(str(_default_runs_dir()))
        self._t(self.out_dir.set_explanation, "Each run gets a time-stamped folder here, with one sub-folder "
                "per network: model.safetensors and metrics.csv.")
        self._t(self.out_dir.set_dialog_title, "Save runs in")
        rows = (("Epochs", self.epochs), ("Batch size", self.batch), ("Learning rate", self.lr),
                ("Initialisation", self.zero_init), ("Device", self.device), ("Save runs in", self.out_dir))
        for text, widget in rows:
            layout.addRow(self._t.label(text), widget)
        return box

    def retranslate(self) -> None:
        """Every text in the current language."""
        self._t.apply()

    def set_running(self, running: bool) -> None:
        """Lock the settings while a run uses them."""
        self._running = running
        for widget in (self.mode, self.family, self.kind, self.depth_combo, self.compare_box,
                       self.demo_button, self.dataset, self.folder, self.browse, self.subset, self.epochs,
                       self.batch, self.lr, self.zero_init, self.device, self.out_dir):
            widget.setEnabled(not running)
        self._update_shortcut()

    # -- the core's lists ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        self._ensure_catalogue()  # before the first paint: the form never shows without its networks
        super().showEvent(event)

    def _ensure_catalogue(self) -> Catalogue:
        if self._catalogue is None:
            self._catalogue = catalogue = Catalogue.from_core()
            _offer(self.family, catalogue.families())
            _offer(self.shortcut, catalogue.shortcuts)
            _offer(self.dataset, catalogue.datasets)
            self._apply_family()
        return self._catalogue

    def _apply_family(self) -> None:
        """Fill the depth combo and the compare list with the current family's networks."""
        catalogue, family = self._ensure_catalogue(), self.family.currentData()
        depths = catalogue.depths(family)
        with QSignalBlocker(self.depth_combo):
            self.depth_combo.clear()
            for depth in depths:
                self.depth_combo.addItem(str(depth), depth)
            self.depth_combo.setCurrentIndex(0)
        checked = set(self.compare_archs())
        for box in self._compare_checks.values():
            self.compare_grid.removeWidget(box)
            box.deleteLater()
        self._compare_checks = {}
        for col, residual in enumerate((False, True)):  # plain nets left, ResNets right, as in Fig. 6
            for row, depth in enumerate(depths):
                name = catalogue.arch(family, residual, depth)
                if name is not None:
                    box = QCheckBox(name)
                    box.setChecked(name in checked)
                    self.compare_grid.addWidget(box, row, col)
                    self._compare_checks[name] = box
        with QSignalBlocker(self.shortcut):
            self.shortcut.setCurrentIndex(max(0, self.shortcut.findData(PAPER_SHORTCUT.get(family))))
        self._update_mode()

    # -- form logic ----------------------------------------------------------------------------------

    def _update_mode(self) -> None:
        compare = self.mode.currentData() == "compare"
        for widget in (self.kind, self.depth_combo):
            self._model_form.setRowVisible(widget, not compare)
        self._model_form.setRowVisible(self.compare_box, compare)
        self._update_shortcut()

    def _update_shortcut(self) -> None:
        """A single plain net has no shortcut to choose."""
        plain = self.mode.currentData() == "single" and self.kind.currentData() is False
        self.shortcut.setEnabled(not plain and not self._running)

    def _update_folder(self) -> None:
        self._data_form.setRowVisible(self.folder_label, self.dataset.currentData() == "imagefolder")

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, tr("Choose the image folder"), self.folder.text())
        if path:
            self.folder.setText(path)

    def _fill_devices(self) -> None:
        """(Re)fill the device list, keeping the choice (accelerators arrive after the window shows)."""
        current = self.device.currentData() or "auto"
        with QSignalBlocker(self.device):
            self.device.clear()
            for key in _devices():
                self.device.addItem(key, key)
            self.device.setCurrentIndex(max(0, self.device.findData(current)))

    def compare_archs(self) -> list[str]:
        """The architectures ticked in the compare list, in list order."""
        return [name for name, box in self._compare_checks.items() if box.isChecked()]

    def selected_archs(self) -> list[str]:
        """What Start trains: the ticked networks in compare mode, else the one chosen."""
        catalogue = self._ensure_catalogue()
        if self.mode.currentData() == "compare":
            return self.compare_archs()
        arch = catalogue.arch(self.family.currentData(), self.kind.currentData(),
                              self.depth_combo.currentData())
        return [arch] if arch is not None else []

    def apply_degradation_demo(self, preset: Preset | None = None) -> None:
        """Fill the form with the degradation demo (plain20/56 vs resnet20/56), or with ``preset``."""
        # clicked(bool) would pass its flag here: anything but a Preset means the demo.
        preset = preset if isinstance(preset, Preset) else DEGRADATION_DEMO
        self._select_archs(list(preset.archs), compare=True)
        self.configure(dataset=preset.dataset, subset=preset.subset, epochs=preset.epochs,
                       batch_size=preset.batch_size, lr=preset.lr,
                       zero_init_residual=preset.zero_init_residual)
        self.shortcut.setCurrentIndex(self.shortcut.findData(PAPER_SHORTCUT["cifar"]))

    def configure(self, *, archs: list[str] | None = None, dataset: str | None = None,
                  subset: int | None = None, epochs: int | None = None, batch_size: int | None = None,
                  lr: float | None = None, device: str | None = None, out_dir: str | None = None,
                  zero_init_residual: bool | None = None) -> None:
        """Fill the form from code (scripts, tests, the CLI's ``gui`` command); ``None`` keeps a field."""
        self._ensure_catalogue()
        if archs:
            self._select_archs(archs, compare=len(archs) > 1)
        if dataset is not None:
            key, _, folder = dataset.partition(":")
            self.dataset.setCurrentIndex(self.dataset.findData(key))
            if folder:
                self.folder.setText(folder)
        for widget, value in ((self.subset, subset), (self.epochs, epochs), (self.batch, batch_size)):
            if value is not None:
                widget.setValue(value)
        if lr is not None:
            self.lr.setValue(lr)
        if zero_init_residual is not None:
            self.zero_init.setChecked(zero_init_residual)
        if device is not None and self.device.findData(device) >= 0:
            self.device.setCurrentIndex(self.device.findData(device))
        if out_dir is not None:
            self.out_dir.setText(str(out_dir))

    def _select_archs(self, archs: list[str], *, compare: bool) -> None:
        """Single mode on one arch, or compare mode with ``archs`` ticked (all of the first one's family)."""
        specs = self._ensure_catalogue().archs
        unknown = [a for a in archs if a not in specs]
        if unknown:
            raise ValueError(f"unknown architecture {unknown[0]!r}; valid: {', '.join(specs)}")
        spec = specs[archs[0]]
        self.family.setCurrentIndex(self.family.findData(spec.family))
        self.mode.setCurrentIndex(self.mode.findData("compare" if compare else "single"))
        if not compare:
            self.kind.setCurrentIndex(self.kind.findData(spec.residual))
            self.depth_combo.setCurrentIndex(self.depth_combo.findData(spec.depth))
            return
        for name, box in self._compare_checks.items():
            box.setChecked(name in archs)

    def dataset_name(self) -> str:
        """The engine's dataset name (``imagefolder:PATH`` for a folder)."""
        key = self.dataset.currentData()
        return f"imagefolder:{self.folder.text().strip()}" if key == "imagefolder" else key

    def values(self) -> dict[str, Any]:
        """Everything the form says, in the engine's vocabulary."""
        return {
            "archs": self.selected_archs(),
            "dataset": self.dataset_name(),
            "subset": self.subset.value() or None,
            "epochs": self.epochs.value(),
            "batch_size": self.batch.value(),
            "lr": self.lr.value(),
            "zero_init_residual": self.zero_init.isChecked(),
            "device": self.device.currentData(),
            "shortcut": self.shortcut.currentData() if self.shortcut.isEnabled() else None,
            "out": str(Path(self.out_dir.text()).expanduser() / datetime.now().strftime("%Y%m%d-%H%M%S")),
        }


class PathField(QWidget):
    """A folder, elided in the middle so its start and its last folders both show in a narrow column
    (the full path is in the tooltip), and a button that changes it with a folder chooser."""

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._path = path
        self._explanation = ""
        self._title = ""
        self.label = QLabel()
        self.label.setFrameShape(QLabel.Shape.StyledPanel)
        self.label.setMinimumWidth(60)  # never the column's minimum: the text elides instead
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.button = QToolButton()
        self.button.setText("…")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        row.addWidget(self.button)
        self.button.clicked.connect(self._choose)
        self._show()

    def text(self) -> str:
        """The full path."""
        return self._path

    def setText(self, path: str) -> None:  # noqa: N802 - the QLineEdit name it replaces
        """Show ``path``."""
        self._path = path
        self._show()

    def set_explanation(self, text: str) -> None:
        """What the folder is for (below the full path in the tooltip)."""
        self._explanation = text
        self._show()

    def set_dialog_title(self, text: str) -> None:
        """The folder chooser's title."""
        self._title = text

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._show()

    def _show(self) -> None:
        width = max(20, self.label.contentsRect().width() - 4)
        elided = self.label.fontMetrics().elidedText(self._path, Qt.TextElideMode.ElideMiddle, width)
        self.label.setText(elided)
        tip = "\n".join(t for t in (self._path, self._explanation) if t)
        self.setToolTip(tip)
        self.label.setToolTip(tip)

    def _choose(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self._title, str(Path(self._path).expanduser()))
        if path:
            self.setText(path)


def make_config(values: dict[str, Any]) -> TrainConfig:
    """The engine's ``TrainConfig`` for the form's values (compare mode when several archs)."""
    from resnet_explorer.core.engine import TrainConfig

    archs = list(values["archs"])
    return TrainConfig(
        arch=",".join(archs), dataset=values["dataset"], archs=archs, epochs=values["epochs"],
        batch_size=values["batch_size"], lr=values["lr"], subset=values["subset"],
        shortcut=values["shortcut"], device=values["device"], out=values["out"],
        zero_init_residual=bool(values.get("zero_init_residual", False)),
        threads=training_thread_budget(),  # every core: the training process runs niced
        command="resnet-explorer gui (Train tab)",
    )


def _offer(combo: QComboBox, keys: Iterable[object]) -> None:
    """Keep the labelled items the core offers, in the form's order; add any it has no words for."""
    keys = list(keys)
    with QSignalBlocker(combo):
        for index in reversed(range(combo.count())):
            if combo.itemData(index) not in keys:
                combo.removeItem(index)
        for key in keys:
            if combo.findData(key) < 0:
                combo.addItem(str(key), key)


def _spin_box(low: int, high: int, value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    return box


def _devices() -> list[str]:
    """Training devices: auto, cpu, and the accelerators found so far (one "cuda" for all GPUs)."""
    devices = ["auto", "cpu"]
    for value, _ in accelerators().found:
        kind = value.split(":")[0]
        if kind not in devices:
            devices.append(kind)
    return devices


def _default_runs_dir() -> Path:
    from platformdirs import user_data_dir  # a dependency, imported when the form is built

    return Path(user_data_dir("resnet-explorer")) / "runs"
