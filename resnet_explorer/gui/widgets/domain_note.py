"""The note beside the top-5 when a picture is unlike the model's training pictures, with two fixes.

A Fashion-MNIST network answers a photo of a cat with "Bag 65%". The note names why the picture is
unlike what the network learned from (the core's reasons, translated) and offers, in one click each, to
convert the picture the way the training pictures were made, or to switch to an ImageNet model.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ..domain_text import message_text
from ..i18n import tr

STYLE = ("QFrame#domainNote { background: #fff5dc; border: 1px solid #d9a43a; border-radius: 6px; }"
         "QFrame#domainNote QLabel { color: #5c3d00; background: transparent; border: none; }")


class DomainNote(QFrame):
    """Why the picture is unlike the training pictures; "convert" and "use an ImageNet model" buttons."""

    convert_toggled = Signal(bool)  # True: analyse the converted picture; False: the original
    photo_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("domainNote")
        self.setStyleSheet(STYLE)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.convert_button = QPushButton()
        self.convert_button.clicked.connect(self._convert_clicked)
        self.photo_button = QPushButton()
        self.photo_button.clicked.connect(self.photo_model_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.convert_button)
        buttons.addWidget(self.photo_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(self.text)
        layout.addLayout(buttons)
        self._domain: Any = None
        self._reasons: tuple = ()
        self._converted = False
        self.hide()

    @property
    def converted(self) -> bool:
        """Whether the picture shown is the converted one."""
        return self._converted

    def show_for(self, domain: Any, reasons: tuple, converted: bool) -> None:
        """Show the note for a result (core ``Domain``, its reasons about the original, conversion);
        hidden when the picture fits the domain and was not converted."""
        self._domain, self._reasons, self._converted = domain, tuple(reasons), bool(converted)
        self.setVisible(domain is not None and (bool(self._reasons) or self._converted))
        self.retranslate()

    def clear(self) -> None:
        """Hide the note (a new picture or model: its result is not there yet)."""
        self.show_for(None, (), False)

    def reason_texts(self) -> list[str]:
        """The reasons as shown, in the current language."""
        return [message_text(r) for r in self._reasons]

    def _convert_clicked(self) -> None:
        self.convert_toggled.emit(not self._converted)

    def retranslate(self) -> None:
        """Set every text in the current language."""
        domain = self._domain
        if domain is None:
            return
        name = domain.name
        bullets = "\n".join("• " + text for text in self.reason_texts())
        if self._converted:
            _, h, w = domain.input_size
            text = tr("Converted the way {dataset} was made: grey, a light background inverted, trimmed to "
                      "the object, centred on black, {w}x{h}.").format(dataset=name, w=w, h=h)
            if bullets:
                text += "\n" + tr("The original picture:") + "\n" + bullets
            self.convert_button.setText(tr("Show the original"))
        else:
            text = tr("This picture is unlike the {dataset} pictures the network learned from, so its "
                      "answer may be confidently wrong:").format(dataset=name) + "\n" + bullets
            self.convert_button.setText(tr("Convert like {dataset}").format(dataset=name))
        self.text.setText(text)
        self.convert_button.setVisible(bool(domain.convertible))
        self.convert_button.setToolTip(tr("Make the picture grey, invert a light background, trim it to the "
                                          "object and centre it on black, as the training pictures were "
                                          "made. Your picture stays as it is in the image strip."))
        self.photo_button.setText(tr("Use an ImageNet model"))
        self.photo_button.setToolTip(tr("Switch to ResNet-50 trained on ImageNet photos (1000 classes); it "
                                        "is downloaded once (about 100 MB) if it is not on this computer."))
