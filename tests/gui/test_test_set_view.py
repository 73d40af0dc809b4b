"""The Test set tab: the heat map is the confusion matrix, a cell shows its images, an image opens in
Predict, Cancel, the per-model cache, models without a test set, the layout at 1024x768."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from resnet_explorer.core.class_names import FASHION_MNIST_CLASSES
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.test_set import TestSetResult
from resnet_explorer.gui.views import test_set as view_mod
from tests.gui.study_helpers import cancel_slow_run, slow_job, start_slow_run

WAIT = 30000


def fake_result(model_id: str = "resnet20", n: int = 400, seed: int = 0) -> TestSetResult:
    """``n`` random 28 px grey images; about 70% right, the rest spread over the other classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    wrong = rng.random(n) < 0.3
    predicted = np.where(wrong, (labels + rng.integers(1, 10, n)) % 10, labels)
    confidence = rng.uniform(0.3, 1.0, n).astype(np.float32)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    images = rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8)
    return TestSetResult(model_id, "fashion-mnist", "test", list(FASHION_MNIST_CLASSES),
                         labels.astype(np.int64), predicted.astype(np.int64), confidence, images, confusion)


def _view(window):
    window.show_tab("testset")
    return window.test_set


def _compute(qtbot, view):
    with qtbot.waitSignal(view.result_ready, timeout=WAIT):
        qtbot.mouseClick(view.compute, Qt.MouseButton.LeftButton)


def _click_item(qtbot, gallery, row: int) -> None:
    item = gallery.item(row)
    gallery.scrollToItem(item)
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton,
                     pos=gallery.visualItemRect(item).center())


def test_the_tab_is_registered_with_a_shortcut(window):
    from resnet_explorer.commands.gui import TAB_CHOICES
    from resnet_explorer.gui.main_window import TABS

    assert "testset" in TABS and "testset" in TAB_CHOICES
    window.menus.tab_actions["testset"].trigger()
    assert window.current_tab() == "testset"
    assert window.menus.tab_actions["testset"].shortcut().toString() == f"Ctrl+{TABS.index('testset') + 1}"
    assert window.tabs.tabText(window.tabs.indexOf(window.test_set)) == "Test set"


def test_heat_map_bars_and_mistakes_are_the_result(qtbot, window, monkeypatch):
    result = fake_result()
    monkeypatch.setattr(view_mod, "test_set_job", lambda *a, **k: result)
    view = _view(window)
    assert view.compute.isVisible() and view.compute.isEnabled() and view.compute.text() == "Compute"
    assert view.matrix.matrix is None
    _compute(qtbot, view)
    assert view.result() is result and view.cache[window.explorer.info.model_id] is result
    # The heat map's counts are the confusion matrix, rows true and columns predicted.
    assert (view.matrix.matrix == result.confusion).all()
    assert view.matrix.names == FASHION_MNIST_CLASSES
    assert "Coat taken for Shirt" in view.matrix.describe(4, 6)
    assert f"{result.confusion[4, 6]} of {result.confusion[4].sum()}" in view.matrix.describe(4, 6)
    # One bar per class, its accuracy in %.
    assert np.allclose(view.bars.heights(), 100 * result.confusion.diagonal() / result.confusion.sum(1))
    # The most confident mistakes, most confident first, at most 48.
    shown = view.mistakes.indices()
    assert len(shown) == 48 and shown == list(result.mistakes(48))
    assert all(result.labels[i] != result.predicted[i] for i in shown)
    assert view.compute.text() == "Compute again" and f"{result.accuracy:.2%}" in view.summary.text()


def test_clicking_a_cell_shows_exactly_its_images(qtbot, window, monkeypatch):
    result = fake_result()
    monkeypatch.setattr(view_mod, "test_set_job", lambda *a, **k: result)
    view = _view(window)
    _compute(qtbot, view)
    true, pred = 4, 6  # Coat taken for Shirt
    assert 0 < result.confusion[true, pred] < 48
    with qtbot.waitSignal(view.matrix.cell_clicked) as clicked:
        qtbot.mouseClick(view.matrix, Qt.MouseButton.LeftButton,
                         pos=view.matrix.cell_rect(true, pred).center().toPoint())
    assert clicked.args == [true, pred]
    assert view.galleries.currentIndex() == 1 and view.matrix.selected == (true, pred)
    expected = sorted(np.flatnonzero((result.labels == true) & (result.predicted == pred)),
                      key=lambda i: -result.confidence[i])
    assert view.cell_gallery.indices() == expected
    assert f"({result.confusion[true, pred]})" in view.galleries.tabText(1)
    # A diagonal cell holds more images than are shown: the 48 most confident, and the caption says so.
    view.show_cell(0, 0)
    assert result.confusion[0, 0] > 0
    shown = view.cell_gallery.indices()
    assert len(shown) == min(48, result.confusion[0, 0])
    assert all(result.labels[i] == 0 == result.predicted[i] for i in shown)


def test_a_mistake_opens_in_predict(qtbot, window, monkeypatch):
    result = fake_result()
    monkeypatch.setattr(view_mod, "test_set_job", lambda *a, **k: result)
    view = _view(window)
    _compute(qtbot, view)
    index = view.mistakes.indices()[2]
    before = len(window.explorer.images)
    with qtbot.waitSignal(view.open_image) as opened:
        _click_item(qtbot, view.mistakes, 2)
    assert opened.args[1] == f"test image {index} ({FASHION_MNIST_CLASSES[result.labels[index]]})"
    qtbot.waitUntil(lambda: len(window.explorer.images) == before + 1, timeout=WAIT)
    assert window.current_tab() == "predict"
    shown = window.explorer.current
    assert shown is not None and shown.label == opened.args[1]
    # The very pixels the network saw, not a resampled copy.
    assert np.array_equal(np.asarray(shown.image.convert("L")), result.image(index))


def test_cancel_stops_a_slow_run_and_the_window_stays_responsive(qtbot, window, monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(view_mod, "test_set_job", slow_job(seen, fake_result))
    view = _view(window)
    start_slow_run(qtbot, view)
    assert "images" in view.progress.format()
    window.show_tab("predict")  # the event loop runs while it does
    window.show_tab("testset")
    cancel_slow_run(qtbot, view, seen)
    assert view.result() is None and "cancelled" in view.status.text()


def test_an_error_becomes_one_line(qtbot, window, monkeypatch):
    def broken(*_args, **_kwargs):
        raise UserInputError("fashion-mnist not found:\nexpected the IDX files")

    monkeypatch.setattr(view_mod, "test_set_job", broken)
    view = _view(window)
    with qtbot.waitSignal(view.failed, timeout=WAIT) as failed:
        qtbot.mouseClick(view.compute, Qt.MouseButton.LeftButton)
    assert "\n" not in failed.args[0] and view.status.text() == failed.args[0]
    qtbot.waitUntil(lambda: view.compute.isEnabled(), timeout=5000)


def test_results_are_cached_per_model(qtbot, window, monkeypatch, plain20):
    calls = []

    def job(model_id, *args, **kwargs):
        calls.append(model_id)
        return fake_result(model_id)

    monkeypatch.setattr(view_mod, "test_set_job", job)
    view = _view(window)
    first = window.explorer.info.model_id
    _compute(qtbot, view)
    view.show_cell(4, 6)
    window.load_model(plain20)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == plain20, timeout=WAIT)
    assert view.result() is None and view.compute.text() == "Compute" and view.matrix.matrix is None
    assert view.mistakes.count() == 0 and view.cell_gallery.count() == 0 and not view.bars.heights()
    window.load_model(first)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == first, timeout=WAIT)
    assert view.result() is not None and view.mistakes.count() == 48 and calls == [first]


def test_a_model_without_a_bundled_test_set_says_so_instead_of_a_button(window):
    view = _view(window)
    window.explorer.info = dataclasses.replace(window.explorer.info, dataset="imagenet-1k")
    view._update_controls()
    assert not view.compute.isVisible()
    assert "imagenet-1k" in view.status.text() and view.status.isVisible()
    window.explorer.info = dataclasses.replace(window.explorer.info, dataset="")
    view._update_controls()
    assert "does not say" in view.status.text()
    for name in ("fashion-mnist", "cifar10", "synthetic", "imagefolder:/data/pets"):
        info = dataclasses.replace(window.explorer.info, dataset=name)
        assert view_mod.no_test_set(info) is None


def test_a_real_run_on_the_synthetic_set(qtbot, window, resnet20):
    """The worker function end to end on a small real model (grey 28 px, so the synthetic colour images
    are converted as for the network), then drawn by the view."""
    result = view_mod.test_set_job(resnet20, "synthetic", device="cpu")
    assert result.n == 512 and result.images.shape[1:] == (28, 28, 1)
    assert result.confusion.sum() == 512 and result.class_names == FASHION_MNIST_CLASSES
    view = _view(window)
    view.cache[window.explorer.info.model_id] = result
    view._redraw()
    assert (view.matrix.matrix == result.confusion).all()
    assert view.mistakes.indices() == list(result.mistakes(48))


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_view_fits_at_1024x768(qtbot, window, tmp_path, language):
    from resnet_explorer.gui import i18n

    window.resize(1024, 768)
    view = _view(window)
    view.cache[window.explorer.info.model_id] = fake_result()
    view._redraw()
    view.show_cell(6, 0)
    i18n.set_language(language)
    try:
        qtbot.wait(50)
        assert window.grab().toImage().save(str(tmp_path / f"testset-{language}.png"))
        for widget in (view.compute, view.summary, view.matrix, view.bars, view.galleries):
            right = widget.mapTo(window, QPoint(widget.width(), widget.height()))
            assert right.x() <= 1024 and right.y() <= 768, widget
        # The whole matrix, labels included, is inside its widget, with cells big enough for counts.
        last = view.matrix.cell_rect(9, 9)
        assert last.right() <= view.matrix.width() and last.width() >= 16
        assert view.galleries.height() > 120 and view.mistakes.count() == 48
        if language == "ko":
            assert view.title.text() == "테스트 세트" and view.matrix.names[0] != "T-shirt/top"
    finally:
        i18n.set_language("en")


def test_the_screenshot_shows_a_computed_result(qtbot, tmp_path, resnet20, monkeypatch):
    from resnet_explorer.cli import main
    from resnet_explorer.gui import app

    result = fake_result()
    monkeypatch.setattr(view_mod, "test_set_job", lambda *a, **k: result)
    captured = {}
    real_grab = app.grab

    def spy(window):
        captured["matrix"] = window.test_set.matrix.matrix
        captured["tab"] = window.current_tab()
        return real_grab(window)

    monkeypatch.setattr(app, "grab", spy)
    out = tmp_path / "testset.png"
    status = main(["gui", "--model", resnet20, "--screenshot", str(out), "--tab", "testset",
                   "--language", "en", "--size", "1024x768"])
    assert status == 0 and captured["tab"] == "testset"
    assert (captured["matrix"] == result.confusion).all()
    with Image.open(out) as png:
        assert png.size == (1024, 768) and png.info[app.PNG_TAB_KEY] == "testset"
