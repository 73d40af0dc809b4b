"""What a drop or a paste contains: image files, a model file, raw image data, or a mistake.

Sorting happens here, synchronously and cheaply (no decoding): folders, missing files and remote URLs
are refused with a message at once; real decoding happens in a worker, which reports broken files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMimeData
from PySide6.QtGui import QImage

from resnet_explorer.core.suffixes import MODEL_SUFFIXES

from .i18n import tr


@dataclass
class DropContents:
    """Sorted contents of a drop or paste."""

    images: list[tuple[str | bytes, str]] = field(default_factory=list)  # (path or bytes, label)
    model: str | None = None  # a weights file to open as the model
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.images and self.model is None


def png_bytes(image: QImage) -> bytes:
    """Encode a QImage (e.g. from the clipboard) as PNG for the core's decoder."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6's stub wants the format as bytes, but at run time only a str is accepted (bytes: ValueError).
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    buffer.close()
    return bytes(data.data())


def classify_paths(paths: list[str]) -> DropContents:
    """Sort local paths into images, a model file and errors."""
    out = DropContents()
    for raw in paths:
        path = Path(raw)
        name = path.name or raw
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:  # a name over 255 bytes, a path through a file: one message, the rest go on
            out.errors.append(tr("{name} cannot be opened: {reason}.").format(
                name=_short(name), reason=exc.strerror or exc))
            continue
        if is_dir:
            out.errors.append(tr("{name} is a folder: drop image files, not folders.").format(name=name))
        elif not exists:
            out.errors.append(tr("{name} does not exist.").format(name=name))
        elif path.suffix.lower() in MODEL_SUFFIXES:
            out.model = str(path)
        else:
            out.images.append((str(path), name))
    return out


def _short(name: str, limit: int = 60) -> str:
    """A file name cut to fit a message (a 300-byte name would fill the banner)."""
    return name if len(name) <= limit else name[: limit - 3] + "..."


def read_mime(mime: QMimeData) -> DropContents:
    """What ``mime`` (a drop or the clipboard) offers, files first, then raw image data."""
    if mime.hasUrls():
        local = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        contents = classify_paths(local)
        remote = [u.toString() for u in mime.urls() if not u.isLocalFile()]
        if remote and not local and mime.hasImage():
            contents = DropContents()  # a picture dragged from a browser: use its pixels below
        else:
            for url in remote:
                contents.errors.append(tr("Only files on this computer can be opened, not {url}.").format(
                    url=url[:80]))
            if local or remote:
                return contents
    if mime.hasImage():
        image = QImage(mime.imageData())
        if not image.isNull():
            return DropContents(images=[(png_bytes(image), tr("pasted image"))])
    return DropContents(errors=[tr("There is no image in what was dropped or pasted.")])
