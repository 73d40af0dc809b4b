"""The Predict tab in a classroom (issue 12): transparency over the model's own background, the 1024x768
fit with the lesion note, and presentation zoom above 100%."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from resnet_explorer.core.checkpoint import save_model
from resnet_explorer.core.resnet import build_model
from resnet_explorer.gui import i18n, zoom
from resnet_explorer.gui.imaging import qimage_to_array

from .conftest import CLASSES
from .test_main_window import WAIT, wait_for_top5
from .test_predict_cams import SAMPLE, outside, outside_widgets

LESIONED = ("layer2.1", "layer3.0")  # two blocks: the longer note


@pytest.fixture(scope="module")
def transparent_png(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A light square on transparent pixels whose colour is white (as most editors save them)."""
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 255  # invisible white: must not show through as white
    rgba[10:30, 12:28] = (220, 220, 220, 255)
    path = tmp_path_factory.mktemp("rgba") / "square.png"
    Image.fromarray(rgba, "RGBA").save(path)
    return str(path)


@pytest.fixture(scope="module")
def photo_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small colour-photo model (CIFAR-10's card): its pictures have no black background."""
    torch.manual_seed(0)
    model = build_model("resnet20", in_chans=3)
    card = {"model": model.config, "class_names": CLASSES, "dataset": "cifar10",
            "preprocessing": {"input_size": [3, 32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
                              "resize": None, "crop": None, "grayscale": False}}
    path = tmp_path_factory.mktemp("photo") / "cifar-resnet20.safetensors"
    save_model(path, model, card)
    return str(path)


def shown_pixels(panel) -> tuple[np.ndarray, np.ndarray]:
    """What an image panel draws: a pixel near its image's corner, and one at its centre."""
    pixels = qimage_to_array(panel.grab().toImage())
    rect = panel.image_rect()
    corner = pixels[int(rect.top()) + 3, int(rect.left()) + 3]
    centre = pixels[int(rect.center().y()), int(rect.center().x())]
    return corner, centre


def test_transparency_goes_over_the_models_own_background(qtbot, window, transparent_png, photo_model):
    window.open_paths([transparent_png])
    wait_for_top5(qtbot, window)
    predict = window.predict
    assert window.explorer.current.preview.shape[2] == 4  # the alpha reaches the view
    # Fashion-MNIST: a light object on black, in what the network sees and in "Your image" alike.
    seen = window.explorer.analysis.display_image
    assert seen[0, 0].max() == 0 and seen[14, 14].min() > 150
    corner, centre = shown_pixels(predict.original)
    assert corner.max() < 30, corner
    assert centre.min() > 180, centre
    predict.cam_toggle.setChecked(False)  # the heat map would tint the corner
    corner, _ = shown_pixels(predict.network_input)
    assert corner.max() < 30, corner

    # A photo model: transparency is white, as in any viewer (and in what it sees).
    window.explorer.load_model(photo_model)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == photo_model, timeout=WAIT)
    qtbot.waitUntil(lambda: window.explorer.analysis is not None
                    and window.explorer.analysis.display_image.shape[:2] == (32, 32), timeout=WAIT)
    assert window.explorer.analysis.display_image[0, 0].min() == 255
    corner, centre = shown_pixels(predict.original)
    assert corner.min() > 225, corner
    assert centre.min() > 180 and centre.max() < 240, centre  # the square itself, not white


def lesion_blocks(qtbot, window, blocks: tuple[str, ...]) -> None:
    """Switch ``blocks`` off in the Residuals tab, as a user would, and come back to Predict."""
    window.show_tab("residuals")
    for block in blocks:
        window.residuals.lesion.set_block_off(block)
    qtbot.waitUntil(lambda: window.explorer.analysis.lesioned == blocks, timeout=WAIT)
    window.show_tab("predict")
    qtbot.waitUntil(lambda: window.predict.lesion_note.isVisibleTo(window.predict), timeout=WAIT)


def side_scroll(window) -> QScrollArea:
    return window.predict.findChild(QScrollArea)


def test_the_lesion_note_fits_1024x768_without_a_scroll_bar(qtbot, window, app_font):
    window.resize(1024, 768)
    window.open_paths([str(SAMPLE)])  # a Fashion-MNIST picture: no domain note
    wait_for_top5(qtbot, window)
    lesion_blocks(qtbot, window, LESIONED)
    for language in ("en", "ko"):
        i18n.set_language(language)
        qtbot.waitUntil(lambda: "layer3.0" in window.predict.lesion_note.text(), timeout=WAIT)
        qtbot.wait(50)
        assert (window.width(), window.height()) == (1024, 768)
        assert window.predict.domain_note.isHidden()
        scroll = side_scroll(window)
        assert not scroll.verticalScrollBar().isVisible(), language
        assert scroll.verticalScrollBar().maximum() == 0, language
        assert outside(window, window.predict) == [], language
        # "Your image" gave up the room, not below its smallest.
        assert window.predict.original.height() >= window.predict.original.minimumHeight()
    i18n.set_language("en")


@pytest.fixture
def app_font(monkeypatch):
    """The window's own font, as app.application() sets it (at least 10 pt, with the Hangul fallbacks,
    whose taller lines matter here; the tests' default font would hide what a zoom cuts off), restored
    afterwards with the zoom's base."""
    from resnet_explorer.gui.app import _set_fonts

    app = QApplication.instance()
    before = QFont(app.font())
    _set_fonts(app)
    font = QFont(app.font())
    monkeypatch.setattr(zoom, "_base_point_size", font.pointSizeF())
    yield font
    zoom.apply(1.0)
    app.setFont(before)


def overlapping(box: QWidget) -> list[str]:
    """Pairs of visible child widgets of ``box`` (one level down) whose rectangles intersect."""
    kids = [w for w in box.findChildren(QWidget) if w.parentWidget() is box and w.isVisibleTo(box)]
    return [f"{type(a).__name__}/{type(b).__name__}" for i, a in enumerate(kids) for b in kids[i + 1:]
            if a.geometry().intersects(b.geometry())]


def cut_off(label) -> bool:
    """Whether a word-wrapped label is given less height than its text needs at its width."""
    return label.height() < label.heightForWidth(label.width())


@pytest.mark.parametrize("factor", [1.25, 1.5])
def test_zoom_above_100_percent_keeps_the_tab_usable_at_1024x768(qtbot, window, app_font, factor):
    window.resize(1024, 768)
    predict = window.predict
    try:
        # 1.25 lies between steps: the 130% step, what Ctrl++ twice gives.
        assert zoom.apply(factor) * app_font.pointSizeF() == QApplication.font().pointSizeF()
        # Zoomed before any image, as `gui --zoom` starts: the empty state's gallery gives up rows.
        i18n.set_language("ko")
        qtbot.waitUntil(lambda: predict.empty.samples.count() > 0, timeout=WAIT)  # the gallery is shown
        qtbot.wait(50)
        assert predict.stack.currentIndex() == 0
        assert (window.width(), window.height()) == (1024, 768)
        window.open_paths([str(SAMPLE)])
        wait_for_top5(qtbot, window)
        window.show_tab("residuals")
        qtbot.wait(50)
        assert window.minimumSizeHint().width() <= 1024 and window.width() == 1024
        lesion_blocks(qtbot, window, LESIONED)
        # The Residuals tab, visited for the switches, fits too (its picker and checkbox once sat side by
        # side and widened the window to 1,035 px at 150%; Qt does not shrink a window back).
        assert window.minimumSizeHint().width() <= 1024 and window.width() == 1024
        for language in ("en", "ko"):
            i18n.set_language(language)
            qtbot.wait(50)
            # No hidden tab (Train, wider at a large zoom) or empty state widens the window.
            assert (window.width(), window.height()) == (1024, 768), language
            assert overlapping(predict.top_box) == [], language
            assert overlapping(predict.cam_box) == [], language
            assert not cut_off(predict.lesion_note) and not cut_off(predict.cam_hook), language
            # The top-5 rows grow with the font: the bold top name fits its row.
            bold = QFont(predict.bars.font())
            bold.setBold(True)
            assert predict.bars.row_height() >= QFontMetrics(bold).height() + 8, language
            assert predict.bars.height() >= predict.bars.minimumSizeHint().height(), language
            # The side column may scroll, but only up and down: its controls are never cut at the right.
            scroll = side_scroll(window)
            content = scroll.widget()
            assert scroll.viewport().width() >= content.minimumSizeHint().width(), language
            assert content.width() <= scroll.viewport().width(), language
            skip = set(scroll.findChildren(QWidget))
            assert outside_widgets(window, predict, skip=skip) == [], language
    finally:
        i18n.set_language("en")  # app_font puts the zoom back to 100%


def test_the_empty_state_fits_1024x768_at_every_zoom(qtbot, window, app_font):
    window.resize(1024, 768)
    predict = window.predict
    qtbot.waitUntil(lambda: predict.empty.samples.count() > 0, timeout=WAIT)  # the gallery is shown
    try:
        for language in ("en", "ko"):
            i18n.set_language(language)
            for factor in zoom.STEPS:
                zoom.apply(factor)
                qtbot.wait(20)
                # The gallery gives up rows (it scrolls) before the window grows past the screen.
                assert window.height() == 768, (language, factor)
                assert predict.empty.samples.height() >= predict.empty.samples.minimumHeight()
    finally:
        i18n.set_language("en")


def test_top5_rows_grow_with_a_zoomed_font(qtbot):
    from resnet_explorer.gui.widgets.top_bars import ROW_HEIGHT, TopBars

    bars = TopBars()
    qtbot.addWidget(bars)
    normal = bars.minimumSizeHint().height()
    assert bars.row_height() == ROW_HEIGHT
    font = QFont(bars.font())
    font.setPointSizeF(24)  # a 10-pt font at the largest zoom (2.0), and more
    bars.setFont(font)
    bold = QFont(font)
    bold.setBold(True)
    assert bars.row_height() >= QFontMetrics(bold).height() + 8 > ROW_HEIGHT
    assert bars.minimumSizeHint().height() > normal
    # Clicks follow the taller rows.
    bars.resize(500, bars.minimumSizeHint().height())
    bars.set_rows([(7, "Sneaker", 0.5), (5, "Sandal", 0.3), (9, "Ankle boot", 0.2)])
    with qtbot.waitSignal(bars.row_clicked) as clicked:
        qtbot.mouseClick(bars, Qt.MouseButton.LeftButton, pos=QPoint(100, int(2.5 * bars.row_height())))
    assert clicked.args == [9]


def strip_corner(window, row: int) -> np.ndarray:
    """A pixel near the corner of the image strip's icon ``row``, as the strip draws it."""
    icon = window.strip.item(row).icon()
    pixmap = icon.pixmap(icon.availableSizes()[0])
    return qimage_to_array(pixmap.toImage())[3, 3]


def test_the_image_strip_shows_transparency_over_the_models_background(qtbot, window, transparent_png,
                                                                        photo_model):
    wide = SAMPLE.with_name("odd-large-rgb-bag.png")  # wider than tall: a shorter icon
    window.open_paths([transparent_png, str(SAMPLE), str(wide)])
    wait_for_top5(qtbot, window)
    qtbot.waitUntil(lambda: window.strip.count() == 3, timeout=WAIT)
    assert strip_corner(window, 0).max() < 30  # Fashion-MNIST: black, as the network sees it
    # Every icon the same square (a wide picture's shorter icon once pushed the other names below the
    # strip's edge: the items share one size, the first one's).
    strip = window.strip
    sizes = {strip.item(row).icon().availableSizes()[0].toTuple() for row in range(3)}
    assert sizes == {(strip.iconSize().width(), strip.iconSize().width())}
    window.explorer.load_model(photo_model)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == photo_model, timeout=WAIT)
    qtbot.waitUntil(lambda: strip_corner(window, 0).min() == 255, timeout=WAIT)  # a photo model: white


def test_the_gallery_shows_every_sample_name_whole(qtbot, window):
    """Names wrap onto two lines in a cell as wide as the grid (one elided line once showed "grey...aker")."""
    window.resize(1024, 768)
    gallery = window.predict.empty.samples
    qtbot.waitUntil(lambda: gallery.count() > 0, timeout=WAIT)
    names = [gallery.item(row).text() for row in range(gallery.count())]
    assert "Sneaker: grey photo" in names
    metrics = gallery.fontMetrics()
    for row in range(gallery.count()):
        item = gallery.item(row)
        cell = gallery.visualItemRect(item)
        text_area = QRect(0, 0, cell.width(), cell.height() - gallery.iconSize().height())
        needed = metrics.boundingRect(text_area, int(Qt.TextFlag.TextWordWrap), item.text())
        assert needed.width() <= cell.width() and needed.height() <= text_area.height(), item.text()
