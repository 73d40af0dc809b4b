"""Help: "What is residual learning?" in a few paragraphs, with the paper's blocks (Fig. 2, 5) drawn."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QTabWidget, QTextBrowser, QVBoxLayout, QWidget

from ..i18n import notifier, tr

# (heading, paragraph) pairs; each string is translated on its own so the tables stay maintainable.
SECTIONS = (
    ("What is residual learning?",
     "Adding layers should not make training worse: a deeper network could copy a shallower one and set "
     "the extra layers to the identity, so its <b>training error should be no higher</b>. Yet He et al. "
     "(2015) found that deeper <i>plain</i> networks reach a <b>higher</b> training error than shallower "
     "ones: the <i>degradation problem</i>. It is not over-fitting, because the training error rises "
     "too, and not vanishing gradients: with batch normalization the signals and gradients stay "
     "healthy. The deeper plain networks are simply harder to optimise."),
    ("The fix: learn what to add",
     "A residual block does not learn the mapping H(x) directly. It learns the residual "
     "<b>F(x) = H(x) - x</b> and outputs <b>F(x) + x</b> through a <i>shortcut connection</i> that "
     "carries x around the block. If the identity is nearly right, the block only has to push F(x) "
     "towards zero, which is easy. The shortcut adds no parameters when shapes match."),
    ("When shapes change",
     "Where a stage halves the resolution and doubles the channels, x must be reshaped: option "
     "<b>A</b> pads the new channels with zeros (no parameters, used for the CIFAR ResNets), option "
     "<b>B</b> uses a 1x1 projection only there (the ImageNet default), option <b>C</b> projects "
     "everywhere."),
    ("Bottleneck blocks (Fig. 5)",
     "ResNet-50, -101 and -152 (the ImageNet models) stack <b>bottleneck</b> blocks instead: a 1x1 "
     "convolution reduces the channels (256 to 64), a 3x3 convolution works at that reduced width, and a "
     "second 1x1 convolution restores them (64 to 256). Three layers cost about as much as the two of "
     "the basic block, so the network can be much deeper for a similar cost. The parameter-free identity "
     "shortcut matters most here: it connects the two wide ends, where a projection would double the "
     "block's cost. The second tab of the figure draws it."),
    ("What to look at in this app",
     "<b>Predict</b>: the top-5 and a heat map of where the network looked (Grad-CAM and other "
     "methods). <b>Feature maps</b>: what each channel of each stage responds to. <b>Residuals</b>: bars "
     "show ||F(x)|| / ||x|| per block; in deep ResNets most blocks only nudge their input (the paper's "
     "Fig. 7 shows smaller responses than in plain nets). Switch blocks off and watch the predictions: a "
     "ResNet barely notices losing one block, a plain network breaks. <b>Lesion study</b>: the test "
     "error with each block deleted, over many images. <b>Architecture</b>: the paper's Table 1 and the "
     "shortcut paths. <b>Train</b>: train plain and residual networks side by side and see degradation "
     "appear."),
    ("Paper",
     "K. He, X. Zhang, S. Ren, J. Sun. <i>Deep Residual Learning for Image Recognition.</i> CVPR 2016, "
     "arXiv:1512.03385. Block lesion: A. Veit, M. Wilber, S. Belongie, <i>Residual Networks Behave "
     "Like Ensembles of Relatively Shallow Networks</i>, NeurIPS 2016."),
)

# The paper's two blocks as (input width, the layers of the residual branch).
BASIC_BLOCK = ("64-d", ("weight layer", "weight layer"))
BOTTLENECK_BLOCK = ("256-d", ("1x1, 64", "3x3, 64", "1x1, 256"))


class BlockFigure(QWidget):
    """A residual block as the paper draws it (Fig. 2 / Fig. 5): the layers of F, the shortcut, the sum.

    ``layers`` are the branch's layer labels (translated when drawn), ``width`` the input's width label.
    """

    TOP, BOX_H, GAP = 60.0, 40.0, 56.0

    def __init__(self, width: str, layers: tuple[str, ...], tooltip: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.width_label, self.layers, self.tooltip_source = width, layers, tooltip
        self.setMinimumSize(320, int(self._plus_y() + 70))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.retranslate()

    def _plus_y(self) -> float:
        """The centre of the (+) node: below the last layer, one gap further."""
        return self.TOP + len(self.layers) * (self.BOX_H + self.GAP) - self.GAP + 52

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(330, int(self._plus_y() + 80))

    def retranslate(self) -> None:
        """The tooltip in the current language (the labels are translated when painted)."""
        self.setToolTip(tr(self.tooltip_source))
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#ffffff"))
        cx, w, h = 110.0, 150.0, self.BOX_H
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(QPen(QColor("#37474f"), 2))
        p.drawText(QRectF(cx - 60, 8, 120, 20), Qt.AlignmentFlag.AlignCenter, f"x  ({self.width_label})")
        p.drawLine(QPointF(cx, 30), QPointF(cx, self.TOP))
        p.setFont(self.font())
        for i, label in enumerate(self.layers):
            y = self.TOP + i * (h + self.GAP)
            p.setBrush(QColor("#e3ecfa"))
            p.drawRoundedRect(QRectF(cx - w / 2, y, w, h), 6, 6)
            p.drawText(QRectF(cx - w / 2, y, w, h), Qt.AlignmentFlag.AlignCenter, tr(label))
            if i + 1 < len(self.layers):  # relu between two layers of F
                p.drawLine(QPointF(cx, y + h), QPointF(cx, y + h + self.GAP))
                p.drawText(QRectF(cx + 8, y + h + self.GAP / 2 - 10, 60, 20), Qt.AlignmentFlag.AlignLeft,
                           "relu")
        plus = self._plus_y()
        last = self.TOP + len(self.layers) * (h + self.GAP) - self.GAP
        p.drawLine(QPointF(cx, last), QPointF(cx, plus - 12))
        p.drawText(QRectF(cx - w / 2 - 6, last + 14, 60, 20), Qt.AlignmentFlag.AlignRight, "F(x)")
        p.setBrush(QColor("#ffffff"))
        p.drawEllipse(QPointF(cx, plus), 12, 12)
        p.drawText(QRectF(cx - 12, plus - 12, 24, 24), Qt.AlignmentFlag.AlignCenter, "+")
        p.drawLine(QPointF(cx, plus + 12), QPointF(cx, plus + 56))
        p.drawText(QRectF(cx + 8, plus + 22, 60, 20), Qt.AlignmentFlag.AlignLeft, "relu")
        p.setFont(bold)
        p.drawText(QRectF(cx - 70, plus + 60, 140, 20), Qt.AlignmentFlag.AlignCenter, "F(x) + x")
        path = QPainterPath(QPointF(cx, 45))
        path.cubicTo(QPointF(cx + 150, 45), QPointF(cx + 150, plus), QPointF(cx + 12, plus))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor("#d35400"), 2.4))
        p.drawPath(path)
        p.setFont(self.font())
        p.drawText(QRectF(cx + 124, (45 + plus) / 2 - 20, 90, 40), Qt.AlignmentFlag.AlignLeft,
                   tr("x\nidentity"))


BASIC_TIP = ("The residual building block (the paper's Fig. 2): the block learns F(x) and the shortcut "
             "adds x back.")
BOTTLENECK_TIP = ("The bottleneck block of ResNet-50/101/152 (the paper's Fig. 5): 1x1 convolutions reduce "
                  "and restore the channels around a 3x3 convolution; the identity shortcut joins the wide "
                  "ends.")


class HelpView(QWidget):
    """The Help tab."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.figure = BlockFigure(*BASIC_BLOCK, BASIC_TIP)
        self.bottleneck = BlockFigure(*BOTTLENECK_BLOCK, BOTTLENECK_TIP)
        self.figures = QTabWidget()
        self.figures.addTab(self.figure, "")
        self.figures.addTab(self.bottleneck, "")
        self.figures.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.figures)
        QVBoxLayout(self).addLayout(row)
        notifier().language_changed.connect(self.retranslate)
        self.retranslate()

    def html(self) -> str:
        """The help text in the current language."""
        parts = [f"<h2>{tr(h)}</h2><p style='line-height: 140%'>{tr(t)}</p>" for h, t in SECTIONS]
        return "<div style='font-size: 11pt'>" + "".join(parts) + "</div>"

    def retranslate(self) -> None:
        """Set every text in the current language."""
        self.text.setHtml(self.html())
        self.figures.setTabText(0, tr("Building block (Fig. 2)"))
        self.figures.setTabText(1, tr("Bottleneck (Fig. 5)"))
        for figure in (self.figure, self.bottleneck):
            figure.retranslate()
