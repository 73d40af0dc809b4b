"""Sorting drops and pastes: image files, model files, folders, remote URLs, raw pixels."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QImage

from resnet_explorer.gui.inputs import classify_paths, read_mime


def test_paths_are_sorted_into_images_models_and_errors(images, resnet20, tmp_path):
    contents = classify_paths([images["shoe"], resnet20, images["folder"], str(tmp_path / "gone.png")])
    assert contents.images == [(images["shoe"], "shoe.png")]
    assert contents.model == resnet20
    assert len(contents.errors) == 2
    assert "folder" in contents.errors[0] and "gone.png" in contents.errors[1]


def test_remote_urls_are_refused_with_a_message(qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    contents = read_mime(mime)
    assert contents.empty
    assert "https://example.com/cat.jpg" in contents.errors[0]


def test_pixels_from_a_browser_or_the_clipboard_become_png_bytes(qtbot):
    image = QImage(20, 10, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    mime = QMimeData()
    mime.setImageData(image)
    contents = read_mime(mime)
    (data, label), = contents.images
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert not contents.errors


def test_text_alone_is_not_an_image(qtbot):
    mime = QMimeData()
    mime.setText("hello")
    contents = read_mime(mime)
    assert contents.empty and contents.errors
