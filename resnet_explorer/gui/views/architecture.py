"""Architecture: the paper's Table 1 for the current model, and a drawing of its stacked blocks with
their shortcut paths (identity solid, projection dashed, zero-padding dotted, plain nets none)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsEllipseItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..controller import Explorer
from ..i18n import notifier, tr
from ..jobs import BlockInfo, ModelInfo
from .features import stage_title

if TYPE_CHECKING:
    from resnet_explorer.core.summary import ModelSummary  # torch at run time: the view gets it from a job

BLOCK_W, BLOCK_H = 132, 62
GAP_X = 44  # room for the arrow and the addition between two blocks
ROW_H = BLOCK_H + 78  # room above each row for the shortcut arcs and below for the connector
ARC_H = 30
LEFT = 150  # room for the stage label
MAX_PER_ROW = 8
STAGE_FILLS = ["#e3ecfa", "#e4f4e7", "#fbefdc", "#f3e5f5", "#e0f4f4"]
SHORTCUT_STYLE = {  # kind -> (colour, pen style)
    "identity": ("#37474f", Qt.PenStyle.SolidLine),
    "projection": ("#d35400", Qt.PenStyle.DashLine),
    "zero-pad": ("#7b3fa0", Qt.PenStyle.DotLine),
}
LINE = QColor("#455a64")


@dataclass
class Node:
    """One box of the drawing."""

    kind: str  # "input" | "stem" | "block" | "head"
    title: str
    detail: str
    stage: str = ""
    block: BlockInfo | None = None


class BlockItem(QGraphicsRectItem):
    """A clickable block: clicking it switches the block off or on."""

    def __init__(self, rect: QRectF, name: str, on_click: Callable[[str], None] | None) -> None:
        super().__init__(rect)
        self.name = name
        self._on_click = on_click
        if on_click is not None:
            self.setCursor(Qt.CursorShape.PointingHandCursor)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt API
        if self._on_click is not None:
            self._on_click(self.name)
        event.accept()


class ArchitectureScene(QGraphicsScene):
    """The drawing of one model: stem, one row per stage (wrapped), head."""

    def __init__(self, on_block_click: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.on_block_click = on_block_click
        self.block_items: dict[str, BlockItem] = {}

    def draw(self, info: ModelInfo, output_sizes: dict[str, str], lesioned: tuple[str, ...]) -> None:
        """Redraw for ``info``; ``output_sizes`` maps stage name to 'CxHxW'."""
        self.clear()
        self.block_items = {}
        rows = self._rows(info, output_sizes)
        y = 0.0
        prev_out: QPointF | None = None
        for stage, nodes in rows:
            for chunk_start in range(0, len(nodes), MAX_PER_ROW):
                chunk = nodes[chunk_start:chunk_start + MAX_PER_ROW]
                if chunk_start == 0:
                    self._stage_label(stage, output_sizes.get(stage, ""), y)
                prev_out = self._draw_row(chunk, y, prev_out, lesioned)
                y += ROW_H
        self._legend(y)
        self.setSceneRect(self.itemsBoundingRect().adjusted(-12, -12, 12, 12))

    @staticmethod
    def _rows(info: ModelInfo, sizes: dict[str, str]) -> list[tuple[str, list[Node]]]:
        c, h, w = info.input_size
        stem_detail = "7x7 conv /2\nmax pool /2" if info.family == "imagenet" else "3x3 conv"
        rows: list[tuple[str, list[Node]]] = [("stem", [
            Node("input", tr("input"), f"{c}x{h}x{w}"),
            Node("stem", "conv1", stem_detail, "stem"),
        ])]
        for stage in info.stages:
            blocks = [b for b in info.blocks if b.stage == stage]
            rows.append((stage, [Node("block", b.name, b.spec.strip("[]").replace("; ", "\n"), stage, b)
                                 for b in blocks]))
        classes = len(info.class_names)
        rows[-1][1].append(Node("head", tr("avg pool, fc"), tr("{n} classes").format(n=classes), "head"))
        return rows

    def _stage_label(self, stage: str, size: str, y: float) -> None:
        title = "conv1" if stage == "stem" else stage_title(stage).split(" ")[0]
        text = self.addText(title)
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() + 1)
        text.setFont(font)
        text.setPos(0, y + BLOCK_H / 2 - 22)
        if size:
            sub = self.addText(size)
            sub.setDefaultTextColor(QColor("#555555"))
            sub.setPos(0, y + BLOCK_H / 2)

    def _draw_row(self, nodes: list[Node], y: float, prev_out: QPointF | None,
                  lesioned: tuple[str, ...]) -> QPointF:
        pen = QPen(LINE, 1.6)
        for k, node in enumerate(nodes):
            x = LEFT + k * (BLOCK_W + GAP_X)
            left_mid = QPointF(x, y + BLOCK_H / 2)
            if prev_out is not None:
                self._connect(prev_out, left_mid, k == 0, pen)
            self._box(node, QRectF(x, y, BLOCK_W, BLOCK_H), lesioned)
            out = QPointF(x + BLOCK_W, y + BLOCK_H / 2)
            if node.block is not None and node.block.shortcut != "none":
                out = self._shortcut(node.block, x, y)
            prev_out = out
        return prev_out  # type: ignore[return-value]

    def _connect(self, a: QPointF, b: QPointF, new_row: bool, pen: QPen) -> None:
        path = QPainterPath(a)
        if new_row:
            # Down below the previous row, back to the left margin, then into the next row.
            mid_y = a.y() + BLOCK_H / 2 + 18
            path.lineTo(a.x() + 10, a.y())
            path.lineTo(a.x() + 10, mid_y)
            path.lineTo(b.x() - GAP_X / 2, mid_y)
            path.lineTo(b.x() - GAP_X / 2, b.y())
        path.lineTo(b)
        self.addPath(path, pen)
        self._arrow_head(b, pen)

    def _arrow_head(self, tip: QPointF, pen: QPen) -> None:
        head = QPainterPath(tip)
        head.lineTo(tip.x() - 8, tip.y() - 4.5)
        head.lineTo(tip.x() - 8, tip.y() + 4.5)
        head.closeSubpath()
        self.addPath(head, pen, QBrush(pen.color()))

    def _box(self, node: Node, rect: QRectF, lesioned: tuple[str, ...]) -> None:
        off = node.block is not None and node.block.name in lesioned
        stage_index = int(node.stage[5:]) if node.stage.startswith("layer") else 0
        fill = QColor("#eeeeee") if off else QColor(STAGE_FILLS[stage_index % len(STAGE_FILLS)])
        if node.kind in ("input", "head"):
            fill = QColor("#ffffff")
        clickable = node.block is not None and node.block.can_lesion
        item = BlockItem(rect, node.title, self.on_block_click if clickable else None)
        item.setBrush(QBrush(fill))
        item.setPen(QPen(QColor("#9e9e9e") if off else QColor("#607d8b"), 1.2,
                         Qt.PenStyle.DashLine if off else Qt.PenStyle.SolidLine))
        self.addItem(item)
        if node.block is not None:
            self.block_items[node.block.name] = item
            item.setToolTip(self._block_tip(node.block, off))
        title = self.addText(node.title)
        font = QFont()
        font.setBold(True)
        title.setFont(font)
        title.setPos(rect.left() + 4, rect.top() + 1)
        detail = self.addText(node.detail)
        small = QFont()
        small.setPointSizeF(max(7.5, small.pointSizeF() - 1))
        detail.setFont(small)
        detail.setDefaultTextColor(QColor("#9e9e9e") if off else QColor("#37474f"))
        detail.setPos(rect.left() + 4, rect.top() + 20)
        if off:
            cross = QPen(QColor("#c0392b"), 2)
            self.addLine(rect.left() + 6, rect.top() + 6, rect.right() - 6, rect.bottom() - 6, cross)
            self.addLine(rect.left() + 6, rect.bottom() - 6, rect.right() - 6, rect.top() + 6, cross)

    @staticmethod
    def _block_tip(b: BlockInfo, off: bool) -> str:
        lines = [f"{b.name}: {b.spec}",
                 tr("{cin} -> {cout} channels, stride {s}").format(cin=b.in_planes, cout=b.out_planes,
                                                                   s=b.stride),
                 tr("shortcut: {kind}").format(kind=tr(b.shortcut))]
        if off:
            lines.append(tr("switched off: only the shortcut is left"))
        elif b.can_lesion:
            lines.append(tr("click to switch this block off"))
        return "\n".join(lines)

    def _shortcut(self, b: BlockInfo, x: float, y: float) -> QPointF:
        colour, style = SHORTCUT_STYLE[b.shortcut]
        pen = QPen(QColor(colour), 2.0, style)
        start = QPointF(x - GAP_X / 2 + 6, y + BLOCK_H / 2)
        plus = QPointF(x + BLOCK_W + 14, y + BLOCK_H / 2)
        path = QPainterPath(start)
        top = y - ARC_H
        path.cubicTo(start.x(), top, plus.x(), top, plus.x(), plus.y() - 8)
        self.addPath(path, pen)
        self.addLine(x + BLOCK_W, plus.y(), plus.x() - 8, plus.y(), QPen(LINE, 1.6))
        circle = QGraphicsEllipseItem(plus.x() - 8, plus.y() - 8, 16, 16)
        circle.setPen(QPen(LINE, 1.4))
        circle.setBrush(QBrush(QColor("#ffffff")))
        self.addItem(circle)
        plus_text = self.addText("+")
        plus_text.setPos(plus.x() - plus_text.boundingRect().width() / 2,
                         plus.y() - plus_text.boundingRect().height() / 2)
        if b.shortcut != "identity":
            label = "1x1 conv" if b.shortcut == "projection" else tr("zero-pad")
            if b.stride > 1:
                label += f", /{b.stride}"
            text = self.addText(label)
            text.setDefaultTextColor(QColor(colour))
            text.setPos(x + BLOCK_W / 2 - text.boundingRect().width() / 2, top - 14)
        return QPointF(plus.x() + 8, plus.y())

    def _legend(self, y: float) -> None:
        x: float = LEFT
        for kind, label in (("identity", tr("identity shortcut")),
                            ("projection", tr("projection (1x1 conv)")),
                            ("zero-pad", tr("zero-padding shortcut"))):
            colour, style = SHORTCUT_STYLE[kind]
            self.addLine(x, y + 10, x + 40, y + 10, QPen(QColor(colour), 2.0, style))
            text = self.addText(label)
            text.setPos(x + 46, y - 1)
            x += 66 + text.boundingRect().width()
        off = self.addRect(x, y + 2, 28, 16, QPen(QColor("#9e9e9e"), 1.2, Qt.PenStyle.DashLine),
                           QBrush(QColor("#eeeeee")))
        off.setToolTip(tr("switched off"))
        text = self.addText(tr("block switched off (click a block)"))
        text.setPos(x + 34, y - 1)


class ArchitectureCanvas(QGraphicsView):
    """Shows the scene fitted to the widget; Ctrl+wheel zooms."""

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setBackgroundBrush(QBrush(QColor("#ffffff")))
        self._zoomed = False

    def fit(self) -> None:
        """Fit the drawing, but never enlarge it beyond its natural size (text stays crisp)."""
        rect = self.scene().sceneRect()
        if rect.isEmpty():
            return
        self.resetTransform()
        scale = min(1.0, self.viewport().width() / rect.width(), self.viewport().height() / rect.height())
        # Long nets (ResNet-152) get too small to read when fitted whole: keep a readable floor and scroll.
        scale = max(scale, 0.55)
        self.scale(scale, scale)
        self.centerOn(rect.center().x(), rect.top() + self.viewport().height() / (2 * scale))
        self._zoomed = False

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if not self._zoomed:
            self.fit()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt API
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.scale(factor, factor)
            self._zoomed = True
        else:
            super().wheelEvent(event)


COLUMNS = ("stage", "paper", "output size", "block", "blocks", "params", "MMACs")


class ArchitectureView(QWidget):
    """The Architecture tab."""

    def __init__(self, explorer: Explorer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.explorer = explorer
        self.heading = QLabel()
        self.heading.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.heading.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COLUMNS.index("block"), QHeaderView.ResizeMode.Stretch)
        self.scene = ArchitectureScene(self._block_clicked)
        self.canvas = ArchitectureCanvas(self.scene)
        # Table 1 takes the height it needs; the drawing gets the rest.
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.table)
        layout.addWidget(self.canvas, 1)
        explorer.model_loaded.connect(self._redraw)
        explorer.summary_ready.connect(self._redraw)
        explorer.lesion_changed.connect(self._redraw)
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    def _block_clicked(self, name: str) -> None:
        lesion = set(self.explorer.lesion) ^ {name}
        self.explorer.set_lesion(tuple(lesion))

    def _redraw(self, *_args: object) -> None:
        info, summary = self.explorer.info, self.explorer.summary
        if info is None:
            self.heading.setText(tr("No model loaded: pick one in the toolbar."))
            self.table.setRowCount(0)
            self.scene.clear()
            return
        sizes = {}
        if summary is not None and summary.arch == info.arch:
            sizes = {r.name: "x".join(map(str, r.output_size)) for r in summary.stages}
            self._fill_table(summary)
        self._heading(info, summary)
        self.scene.draw(info, sizes, self.explorer.lesion)
        self.canvas.fit()

    def _heading(self, info: ModelInfo, summary: ModelSummary | None) -> None:
        kind = tr("residual network") if info.residual else tr("plain network (no shortcuts)")
        name = info.title if info.title == info.arch else f"{info.title}  ·  {info.arch}"
        text = f"{name}, {kind}  ·  {tr('input')} {'x'.join(map(str, info.input_size))}"
        if summary is not None:
            text += (f"  ·  {summary.params:,} {tr('params')}  ·  {summary.macs / 1e6:,.1f} MMACs")
        if info.residual:
            text += f"  ·  {tr('shortcut option')} {info.config.get('shortcut', '?')}"
        self.heading.setText(text)

    def _fill_table(self, summary: ModelSummary) -> None:
        rows = summary.stages
        self.table.setRowCount(len(rows) + 1)
        for i, r in enumerate(rows):
            values = (r.name, r.paper_name, "x".join(map(str, r.output_size)), r.spec,
                      str(r.blocks or ""), f"{r.params:,}", f"{r.macs / 1e6:,.2f}")
            self._set_row(i, values, bold=False)
        total = (tr("total"), "", "", "", str(sum(r.blocks for r in rows)),
                 f"{summary.params:,}", f"{summary.macs / 1e6:,.2f}")
        self._set_row(len(rows), total, bold=True)
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().height() + sum(
            self.table.rowHeight(i) for i in range(self.table.rowCount())) + 4
        self.table.setMinimumHeight(min(height, 320))
        self.table.setMaximumHeight(height)

    def _set_row(self, row: int, values: tuple[str, ...], bold: bool) -> None:
        for col, value in enumerate(values):
            item = QTableWidgetItem(value)
            if col >= 4:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(row, col, item)

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.table.setHorizontalHeaderLabels([tr(c) for c in COLUMNS])
        self.table.setToolTip(tr("The paper's Table 1 for this model: each stage's output size, block, "
                                 "parameters and multiply-accumulates for one image (counted by running "
                                 "it)."))
        self.canvas.setToolTip(tr("The stacked blocks and their shortcut paths; click a block to switch it "
                                  "off, Ctrl+wheel to zoom, drag to scroll."))
        self._redraw()
