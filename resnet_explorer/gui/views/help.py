"""Help: "What is residual learning?" in a few paragraphs, with the paper's building block drawn."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from ..i18n import notifier, tr

# (heading, paragraph) pairs; each string is translated on its own so the tables stay maintainable.
SECTIONS = (
    ("What is residual learning?",
     "Stacking more layers should never hurt: a deeper network could copy a shallower one and set the "
     "extra layers to the identity. Yet He et al. (2015) found that deeper <i>plain</i> networks train "
     "<b>worse</b> than shallower ones: the <i>degradation problem</i>. It is not over-fitting, because "
     "the training error rises too."),
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
    ("What to look at in this app",
     "<b>Predict</b>: the top-5 and Grad-CAM, where the network looked. <b>Feature maps</b>: what each "
     "channel of each stage responds to. <b>Residuals</b>: bars show ||F(x)|| / ||x|| per block; in deep "
     "ResNets most blocks only nudge their input (the paper's Fig. 7 shows smaller responses than in "
     "plain nets). Switch blocks off and watch the predictions: a ResNet barely notices losing one "
     "block, a plain network breaks. <b>Architecture</b>: the paper's Table 1 and the shortcut paths. "
     "<b>Train</b>: train plain and residual networks side by side and see degradation appear."),
    ("Paper",
     "K. He, X. Zhang, S. Ren, J. Sun. <i>Deep Residual Learning for Image Recognition.</i> CVPR 2016, "
     "arXiv:1512.03385. Block lesion: A. Veit, M. Wilber, S. Belongie, <i>Residual Networks Behave "
     "Like Ensembles of Relatively Shallow Networks</i>, NeurIPS 2016."),
)


class BuildingBlockFigure(QWidget):
    """The paper's Fig. 2: x -> weight layer -> relu -> weight layer -> (+ x) -> relu."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 380)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)
        self.setToolTip(tr("The residual building block (the paper's Fig. 2): the block learns F(x) and "
                           "the shortcut adds x back."))

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(330, 400)

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#ffffff"))
        cx, w, h = 110.0, 150.0, 40.0
        line = QPen(QColor("#37474f"), 2)
        bold = QFont(self.font())
        bold.setBold(True)
        p.setFont(bold)
        p.setPen(line)
        p.drawText(QRectF(cx - 40, 8, 80, 20), Qt.AlignmentFlag.AlignCenter, "x")
        boxes = [(70.0, tr("weight layer")), (170.0, tr("weight layer"))]
        p.drawLine(QPointF(cx, 30), QPointF(cx, 70))
        for y, label in boxes:
            p.setBrush(QColor("#e3ecfa"))
            p.drawRoundedRect(QRectF(cx - w / 2, y, w, h), 6, 6)
            p.drawText(QRectF(cx - w / 2, y, w, h), Qt.AlignmentFlag.AlignCenter, label)
        p.setFont(self.font())
        p.drawLine(QPointF(cx, 110), QPointF(cx, 170))
        p.drawText(QRectF(cx + 8, 128, 60, 20), Qt.AlignmentFlag.AlignLeft, "relu")
        p.drawLine(QPointF(cx, 210), QPointF(cx, 262))
        p.drawText(QRectF(cx - w / 2 - 6, 225, 60, 20), Qt.AlignmentFlag.AlignRight, "F(x)")
        p.setBrush(QColor("#ffffff"))
        p.drawEllipse(QPointF(cx, 274), 12, 12)
        p.drawText(QRectF(cx - 12, 262, 24, 24), Qt.AlignmentFlag.AlignCenter, "+")
        p.drawLine(QPointF(cx, 286), QPointF(cx, 330))
        p.drawText(QRectF(cx + 8, 296, 60, 20), Qt.AlignmentFlag.AlignLeft, "relu")
        p.setFont(bold)
        p.drawText(QRectF(cx - 70, 334, 140, 20), Qt.AlignmentFlag.AlignCenter, "F(x) + x")
        path = QPainterPath(QPointF(cx, 45))
        path.cubicTo(QPointF(cx + 150, 45), QPointF(cx + 150, 274), QPointF(cx + 12, 274))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor("#d35400"), 2.4))
        p.drawPath(path)
        p.setFont(self.font())
        p.drawText(QRectF(cx + 124, 150, 90, 40), Qt.AlignmentFlag.AlignLeft, tr("x\nidentity"))


class HelpView(QWidget):
    """The Help tab."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.figure = BuildingBlockFigure()
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.figure)
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
        self.figure.setToolTip(tr("The residual building block (the paper's Fig. 2): the block learns F(x) "
                                  "and the shortcut adds x back."))
        self.figure.update()
