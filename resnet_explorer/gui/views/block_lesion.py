"""The Residuals tab's block-lesion panel: tick blocks to switch them off, see the damaged network's top-5.

Veit et al. (2016): a ResNet survives losing a block, because its shortcut still carries the input; a plain
network has nothing to fall back on. The panel only edits the explorer's lesion (``Explorer.set_lesion``);
the explorer re-runs the analysis, and every view draws the damaged network.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..controller import Explorer
from ..i18n import class_label, notifier, tr
from ..jobs import ModelInfo
from ..widgets.top_bars import TopBars
from .features import stage_title


class BlockLesionPanel(QGroupBox):
    """The block tree with a check box per block, "Switch all blocks back on", and the resulting top-5."""

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self._updating_tree = False  # set while the tree is filled from the explorer, not clicked
        self.lesion_help = QLabel()
        self.lesion_help.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.itemChanged.connect(self._tree_changed)
        self.restore = QPushButton()
        self.restore.clicked.connect(lambda: self.explorer.set_lesion(()))
        self.top_caption = QLabel()
        self.top_caption.setStyleSheet("font-weight: 600;")
        self.top = TopBars()
        lay = QVBoxLayout(self)
        lay.addWidget(self.lesion_help)
        lay.addWidget(self.tree, 1)
        lay.addWidget(self.restore)
        lay.addWidget(self.top_caption)
        lay.addWidget(self.top)
        explorer.analysis_ready.connect(self.redraw_top)
        explorer.intact_ready.connect(self.redraw_top)
        explorer.model_loaded.connect(self._model_loaded)
        explorer.lesion_changed.connect(self._lesion_changed)
        explorer.image_selected.connect(lambda _image: self.top.set_rows([]))
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    # ----- the tree -----------------------------------------------------------------------------------
    def _model_loaded(self, info: ModelInfo | None) -> None:
        if info is None:
            return
        self._updating_tree = True
        self.tree.clear()
        stages: dict[str, QTreeWidgetItem] = {}
        for b in info.blocks:
            parent = stages.get(b.stage)
            if parent is None:
                parent = QTreeWidgetItem(self.tree, [stage_title(b.stage)])
                parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
                stages[b.stage] = parent
            item = QTreeWidgetItem(parent, [f"{b.name}  {b.spec}"])
            item.setData(0, Qt.ItemDataRole.UserRole, b.name)
            flags = Qt.ItemFlag.ItemIsUserCheckable | (Qt.ItemFlag.ItemIsEnabled if b.can_lesion else
                                                       Qt.ItemFlag.NoItemFlags)
            item.setFlags(flags)
            off = b.name in self.explorer.lesion  # kept across a device change
            item.setCheckState(0, Qt.CheckState.Checked if off else Qt.CheckState.Unchecked)
            if not b.can_lesion:
                item.setToolTip(0, tr("This plain block changes the shape of its input: without a "
                                      "shortcut, nothing could take its place."))
        self.tree.expandAll()
        self._updating_tree = False

    def block_items(self) -> dict[str, QTreeWidgetItem]:
        """The checkable item of every block, by block name."""
        out: dict[str, QTreeWidgetItem] = {}
        for i in range(self.tree.topLevelItemCount()):
            stage = self.tree.topLevelItem(i)
            assert stage is not None  # i < topLevelItemCount()
            for j in range(stage.childCount()):
                item = stage.child(j)
                assert item is not None  # j < childCount()
                out[item.data(0, Qt.ItemDataRole.UserRole)] = item
        return out

    def set_block_off(self, name: str, off: bool = True) -> None:
        """Tick (switch off) or untick one block, as a click would."""
        self.block_items()[name].setCheckState(0, Qt.CheckState.Checked if off else Qt.CheckState.Unchecked)

    def _tree_changed(self, _item: QTreeWidgetItem, _column: int) -> None:
        if self._updating_tree:
            return
        off = tuple(n for n, it in self.block_items().items() if it.checkState(0) == Qt.CheckState.Checked)
        self.explorer.set_lesion(off)

    def _lesion_changed(self, blocks: tuple) -> None:
        self._updating_tree = True
        for name, item in self.block_items().items():
            item.setCheckState(0, Qt.CheckState.Checked if name in blocks else Qt.CheckState.Unchecked)
        self._updating_tree = False
        self.restore.setEnabled(bool(blocks))
        self.top.set_rows([])

    # ----- the damaged network's top-5 ----------------------------------------------------------------
    def redraw_top(self, *_args: object) -> None:
        """The top-5 of the network as it is now, with the intact network's probabilities marked."""
        main, intact = self.explorer.analysis, self.explorer.intact
        if main is None:
            self.top.set_rows([])
            return
        reference = None
        if (main.lesioned and intact is not None and intact.image_key == main.image_key
                and intact.convert_asked == main.convert_asked):
            reference = {i: float(intact.probs[i]) for i, _, _ in main.top_k}
        self.top.reference_label = tr("intact network")
        self.top.set_rows([(i, class_label(name), p) for i, name, p in main.top_k], reference=reference)
        n = len(main.lesioned)
        if n == 0:
            self.top_caption.setText(tr("Top-5 of the intact network"))
        elif n == 1:
            self.top_caption.setText(tr("Top-5 with 1 block switched off"))
        else:
            self.top_caption.setText(tr("Top-5 with {n} blocks switched off").format(n=n))

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.tree.setToolTip(tr("Tick a block to remove it: its output becomes its shortcut alone."))
        self.setTitle(tr("Block lesion: switch residual blocks off"))
        self.lesion_help.setText(tr("A ResNet survives losing a block (Veit et al. 2016): only the "
                                    "shortcut remains. A plain network has no shortcut to fall back on."))
        self.restore.setText(tr("Switch all blocks back on"))
        self.top.placeholder = tr("Drop an image to see its predictions.")
        self.top.setToolTip(tr("The top-5 of the network with the ticked blocks removed; red marks show "
                               "the intact network's probabilities."))
        self.redraw_top()
