"""The main window end to end: drops, pastes, model and device switches, lesions, closing, settings."""

from __future__ import annotations

import gc
import threading
import time
import warnings

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from resnet_explorer.gui import i18n, jobs

WAIT = 30000  # ms; generous because the test machine is shared


def mime_for(*paths: str) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    return mime


def drop(window, *paths: str) -> None:
    """Deliver a real QDropEvent to the window, as a file manager would."""
    mime = mime_for(*paths)  # kept alive: the events do not own it
    # Qt routes a drop to the widget that accepted the drag's enter event, so enter first.
    with warnings.catch_warnings():  # PySide marks the only constructor Qt has as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, event)
    assert event.isAccepted()


def wait_for_top5(qtbot, window) -> list:
    qtbot.waitUntil(lambda: len(window.predict.bars.rows()) == 5, timeout=WAIT)
    return window.predict.bars.rows()


def test_drop_image_shows_top5(qtbot, window, images):
    drop(window, images["shoe"])
    rows = wait_for_top5(qtbot, window)
    probs = [p for _, _, p in rows]
    assert probs == sorted(probs, reverse=True)
    assert all(name in window.explorer.info.class_names for _, name, _ in rows)
    assert window.explorer.current.label == "shoe.png"
    assert window.predict.network_input.has_image()
    assert window.status.time_label.text().startswith("Analysis:")


def test_wrong_drops_show_a_message_and_keep_the_result(qtbot, window, images):
    window.handle_drop(mime_for(images["shoe"]))
    before = wait_for_top5(qtbot, window)
    shown = window.explorer.current

    window.handle_drop(mime_for(images["text"]))
    qtbot.waitUntil(lambda: "notes.txt" in window.banner.text(), timeout=WAIT)
    assert window.banner.level == "error"

    window.handle_drop(mime_for(images["folder"]))
    assert "folder" in window.banner.text()

    window.handle_drop(mime_for(images["broken"]))
    qtbot.waitUntil(lambda: "broken.png" in window.banner.text(), timeout=WAIT)
    assert window.explorer.current is shown
    assert window.predict.bars.rows() == before
    assert len(window.explorer.images) == 1


def test_opening_the_same_file_again_shows_it_once_with_its_result(qtbot, window, images):
    drop(window, images["shoe"], images["bag"])
    qtbot.waitUntil(lambda: window.strip.count() == 2, timeout=WAIT)
    wait_for_top5(qtbot, window)
    window.explorer.select_image(1)
    qtbot.waitUntil(lambda: window.explorer.current.label == "bag.jpg", timeout=WAIT)

    window.open_paths([images["shoe"]])  # once crashed: dataclass equality compared numpy arrays

    qtbot.waitUntil(lambda: window.explorer.current is not None
                    and window.explorer.current.label == "shoe.png", timeout=WAIT)
    qtbot.waitUntil(lambda: window.explorer.analysis is not None
                    and window.explorer.analysis.image_key == window.explorer.current.key, timeout=WAIT)
    assert [o.label for o in window.explorer.images] == ["bag.jpg", "shoe.png"]
    assert window.strip.count() == 2 and len(window.predict.bars.rows()) == 5


def test_several_images_become_a_strip(qtbot, window, images):
    drop(window, images["shoe"], images["bag"])
    qtbot.waitUntil(lambda: window.strip.count() == 2, timeout=WAIT)
    assert window.strip.isVisible()
    wait_for_top5(qtbot, window)
    window.strip.activated_index.emit(1)
    qtbot.waitUntil(lambda: window.explorer.analysis is not None
                    and window.explorer.analysis.image_key == window.explorer.images[1].key, timeout=WAIT)
    assert window.explorer.current.label == "bag.jpg"


def test_paste_an_image_from_the_clipboard(qtbot, window):
    image = QImage(48, 40, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    window.paste()
    wait_for_top5(qtbot, window)
    assert window.explorer.current.source == ""


def test_switch_model_and_device(qtbot, window, images, plain20):
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.model_picker.model_chosen.emit(plain20)
    qtbot.waitUntil(lambda: window.explorer.info.arch == "plain20" and window.explorer.analysis is not None
                    and window.explorer.analysis.model_id == plain20, timeout=WAIT)
    assert window.model_picker.current_model() == plain20
    assert "plain20" in window.status.model_label.text()
    assert not window.explorer.info.residual

    window.device_picker.choose("cpu")
    assert window.explorer.device == "cpu"
    qtbot.waitUntil(lambda: window.explorer.analysis is not None and not window.explorer.is_busy(),
                    timeout=WAIT)
    assert window.explorer.info.device == "cpu"
    assert window.status.device_label.text() == "Device: cpu"


def test_a_model_that_fails_to_load_keeps_the_current_one(qtbot, window, images):
    current = window.explorer.info
    window.load_model(images["text"])
    qtbot.waitUntil(lambda: window.banner.level == "error" and "notes.txt" in window.banner.text(),
                    timeout=WAIT)
    assert window.explorer.info is current


def test_hidden_tabs_draw_the_current_result_when_shown(qtbot, window, images):
    drop(window, images["shoe"])
    wait_for_top5(qtbot, window)
    bars = lambda: [i for i in window.residuals.ratio_plot.items if isinstance(i, pg.BarGraphItem)]  # noqa: E731
    assert not bars()  # hidden while Predict shows: drawn only when shown, so drops stay quick

    window.show_tab("residuals")
    assert len(bars()) == 1
    assert window.residuals.lesion.top.rows() == [tuple(p) for p in window.explorer.analysis.top_k]
    window.show_tab("features")
    assert window.features.current_stage() is not None and window.features.grid_widget.isVisible()


def test_lesion_a_block_recomputes_the_top5(qtbot, window, images):
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    intact = window.explorer.analysis
    window.show_tab("residuals")  # where the lesion switches are
    window.residuals.lesion.set_block_off("layer2.1")
    qtbot.waitUntil(lambda: window.explorer.analysis.lesioned == ("layer2.1",), timeout=WAIT)
    lesioned = window.explorer.analysis
    assert not np.allclose(lesioned.probs, intact.probs)
    assert lesioned.residual_ratio["layer2.1"] == 0.0
    assert window.residuals.lesion.top.rows() == [tuple(p) for p in lesioned.top_k]
    assert "1 block" in window.residuals.lesion.top_caption.text()
    assert window.predict.lesion_note.isVisibleTo(window.predict)
    assert "layer2.1" in window.predict.lesion_note.text()  # names where it was switched off

    window.residuals.lesion.restore.click()
    qtbot.waitUntil(lambda: window.explorer.analysis.lesioned == (), timeout=WAIT)
    np.testing.assert_allclose(window.explorer.analysis.probs, intact.probs, atol=1e-6)


def test_clicking_a_block_in_the_drawing_switches_it_off(qtbot, window, images):
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.architecture.scene.on_block_click("layer3.0")
    assert window.explorer.lesion == ("layer3.0",)
    assert window.residuals.lesion.block_items()["layer3.0"].checkState(0) == Qt.CheckState.Checked
    qtbot.waitUntil(lambda: window.explorer.analysis.lesioned == ("layer3.0",), timeout=WAIT)


def test_gradcam_class_can_be_picked_from_the_top5(qtbot, window, images):
    window.open_paths([images["shoe"]])
    rows = wait_for_top5(qtbot, window)
    third = rows[2][0]
    window.predict.bars.row_clicked.emit(third)
    qtbot.waitUntil(lambda: window.explorer.analysis.gradcam_class == third, timeout=WAIT)
    cam = window.explorer.analysis.gradcam
    assert cam is not None and cam.shape == window.explorer.analysis.display_image.shape[:2]
    assert window.predict.cam_class.currentData() == third


def test_compare_with_a_second_model(qtbot, window, images, plain20):
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.show_tab("residuals")  # where the comparison is chosen
    window.residuals.compare_requested.emit(plain20)
    qtbot.waitUntil(lambda: window.explorer.compare_analysis is not None, timeout=WAIT)
    assert window.explorer.compare_info.arch == "plain20"
    assert "plain20" in window.residuals.key.text() and window.residuals.key.isVisibleTo(window.residuals)
    bars = [i for i in window.residuals.ratio_plot.items if type(i).__name__ == "BarGraphItem"]
    assert len(bars) == 2


def test_closing_during_an_analysis_stops_cleanly(qtbot, window, images, monkeypatch, qtlog):
    started, release = threading.Event(), threading.Event()
    real = jobs.analyze_job

    def slow_analysis(*args, **kwargs):
        started.set()
        release.wait(2.0)  # still running when the window closes
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "analyze_job", slow_analysis)
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    threading.Timer(0.2, release.set).start()
    window.close()
    runners = window.explorer._runners.values()
    assert all(r._thread.isFinished() for r in runners)
    assert window.explorer.analysis is None  # the result of the cancelled work is never shown
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]


def test_ctrl_t_toggles_training(qtbot, window, monkeypatch):
    assert window.train_tab is not None, "the Train tab failed to load (see the log for its ImportError)"
    assert window.menus.train_action.isEnabled()
    calls = []
    monkeypatch.setattr(window.train_tab, "toggle_training", lambda: calls.append(1))
    assert window.menus.train_action.shortcut().toString() == "Ctrl+T"
    window.menus.train_action.trigger()
    assert calls == [1]
    assert window.current_tab() == "train"


def test_missing_default_model_is_explained(qtbot, monkeypatch):
    from resnet_explorer.core import zoo
    from resnet_explorer.gui.main_window import MainWindow

    monkeypatch.setattr(zoo, "DEFAULT_MODEL", "no-such-model")
    win = MainWindow(persist=False)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(win.startup_done, timeout=WAIT)
    assert "no-such-model" in win.banner.text()
    assert win.explorer.info is None
    assert win.model_picker.count() > 1  # what is available is offered
    win.close()


def test_settings_remember_model_device_language_and_recent_images(qtbot, resnet20, images):
    from resnet_explorer.gui.main_window import MainWindow
    from resnet_explorer.gui.window_settings import settings

    settings().clear()
    first = MainWindow()
    qtbot.addWidget(first)
    first.start(resnet20, [images["shoe"]])
    qtbot.waitUntil(lambda: first.explorer.analysis is not None, timeout=WAIT)
    first.set_device("cpu")
    first.set_language("ko")
    first.close()
    i18n.set_language("en")

    s = settings()
    assert s.value("model") == resnet20
    assert s.value("device") == "cpu"
    assert s.value("language") == "ko"
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.explorer.device == "cpu"
    assert second.prefs.recent_images[0] == images["shoe"]
    assert [a.text() for a in second.prefs.recent_menu.actions()] == ["shoe.png"]
    second.close()
    settings().clear()


def _ticks_while_analysing(qtbot, window, image: str, monkeypatch) -> list[tuple[float, str]]:
    """Open `image` while a 20 ms GUI timer ticks; return each tick's time and the worker's phase then.

    The worker is first kept busy in Python for 0.5 s (holding the GIL as much as Python lets it), then
    runs the real analysis. Phases: "before", "busy", "analysis" (the real one), "after" (its drawing).
    """
    from PySide6.QtCore import QTimer

    real = jobs.analyze_job
    phase = ["before"]

    def busy_analysis(*args, **kwargs):
        phase[0] = "busy"
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            pass
        phase[0] = "analysis"
        try:
            return real(*args, **kwargs)
        finally:
            phase[0] = "after"

    monkeypatch.setattr(jobs, "analyze_job", busy_analysis)
    ticks: list[tuple[float, str]] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.timeout.connect(lambda: ticks.append((time.monotonic(), phase[0])))
    qtbot.wait(100)  # let the window settle: only the analysis is measured
    # After hundreds of tests this process holds a heap the app never has; a full collection of it,
    # run by whichever thread allocates, stalled both threads for 0.5 s. Freeze it, as the app freezes
    # its own long-lived objects (gui/memory.py), so that only the analysis is measured.
    gc.collect()
    gc.freeze()
    try:
        timer.start(20)
        qtbot.waitUntil(lambda: len(ticks) >= 2, timeout=WAIT)
        window.open_paths([image])
        qtbot.waitUntil(lambda: phase[0] == "after", timeout=WAIT)
        wait_for_top5(qtbot, window)
        qtbot.wait(100)  # and the drawing of its result
        timer.stop()
    finally:
        gc.unfreeze()
        monkeypatch.setattr(jobs, "analyze_job", real)
    return ticks


def _worst_gap(ticks: list[tuple[float, str]]) -> tuple[float, str]:
    """The longest wait between two ticks, and the phase in which it ended."""
    return max((b - a, phase) for (a, _), (b, phase) in zip(ticks, ticks[1:], strict=False))


def test_event_loop_stays_responsive_during_analysis(qtbot, window, images, monkeypatch, tmp_path):
    """The analysis runs in a worker: a GUI timer keeps ticking while it works (and while it is drawn).

    A 20 ms timer must never wait 250 ms: generous for a loaded machine, yet half the >= 500 ms freeze an
    analysis in the GUI thread (or a worker that starves it) causes every time. A shared CI machine has
    once stalled the whole process for ~0.5 s in an otherwise clean run, so the measurement is taken up
    to three times (each on a new copy of the image, so each is analysed): a real freeze fails all three.
    """
    import shutil

    failures = []
    for attempt in range(3):
        image = shutil.copy(images["shoe"], tmp_path / f"shoe{attempt}.png")
        ticks = _ticks_while_analysing(qtbot, window, str(image), monkeypatch)
        # The GUI thread must run during the 0.5 s of busy work (twice at least; not "every 20 ms": in
        # the full suite, threads left by earlier tests share the GIL). Work in the GUI thread gives none.
        busy = sum(1 for _, phase in ticks if phase == "busy")
        worst, phase = _worst_gap(ticks)
        if busy >= 2 and worst < 0.25:
            return
        failures.append(f"{busy} ticks while busy, longest wait {worst * 1000:.0f} ms ending in {phase!r}")
    pytest.fail(f"the GUI froze in every attempt: {', '.join(failures)}")


def test_drop_a_model_file_loads_it(qtbot, window, plain20):
    drop(window, plain20)
    qtbot.waitUntil(lambda: window.explorer.info.arch == "plain20", timeout=WAIT)


def test_window_title_names_model_and_image(qtbot, window, images):
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    assert "resnet20" in window.windowTitle() and "shoe.png" in window.windowTitle()


def _fake_download(started: threading.Event):
    def load(model_id, device, *, progress, cancel):
        started.set()
        total = 50_000_000
        for done in range(0, total, 500_000):
            progress(done, total)
            if cancel.wait(0.02):
                raise RuntimeError("download cancelled")
        raise AssertionError("the test should have cancelled the download")
    return load


def test_download_shows_progress_and_can_be_cancelled(qtbot, window, monkeypatch):
    started = threading.Event()
    monkeypatch.setattr(jobs, "load_model_job", _fake_download(started))
    window.load_model("resnet50-imagenet")
    progress = window.status.progress
    qtbot.waitUntil(lambda: progress.isVisible() and progress.value() > 0, timeout=WAIT)
    assert window.status.cancel_button.isVisible()
    assert "MB" in window.status.progress.format()
    window.status.cancel_button.click()
    assert not window.status.progress.isVisible()
    assert "cancelled" in window.banner.text()
    qtbot.waitUntil(lambda: not window.explorer.is_busy(), timeout=WAIT)
    assert window.explorer.info.arch == "resnet20"  # the model shown before stays
    assert window.model_picker.current_model() == window.explorer.info.model_id


def test_closing_during_a_download_stops_it(qtbot, window, monkeypatch):
    started = threading.Event()
    monkeypatch.setattr(jobs, "load_model_job", _fake_download(started))
    window.load_model("resnet50-imagenet")
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    window.close()
    assert all(r._thread.isFinished() for r in window.explorer._runners.values())


def test_shortcuts(window):
    from PySide6.QtGui import QKeySequence

    assert window.menus.open_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert window.menus.paste_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Paste)
    assert window.menus.quit_action.shortcut().toString() == "Ctrl+Q"
    assert window.menus.train_action.shortcut().toString() == "Ctrl+T"


def test_ctrl_1_to_9_switch_tabs(qtbot, window):
    """Real key presses, delivered through Qt's shortcut map as a keyboard would."""
    from PySide6.QtTest import QTest

    from resnet_explorer.gui.main_window import TABS

    assert window.train_tab is not None and window.tabs.count() == len(TABS) == 9
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT)
    keys = [Qt.Key.Key_1, Qt.Key.Key_2, Qt.Key.Key_3, Qt.Key.Key_4, Qt.Key.Key_5, Qt.Key.Key_6, Qt.Key.Key_7,
            Qt.Key.Key_8, Qt.Key.Key_9]
    # In an order where every press changes the tab, ending where it began.
    for i in (7, 2, 8, 0, 3, 1, 5, 4, 6, 0):
        QTest.keyClick(window, keys[i], Qt.KeyboardModifier.ControlModifier)
        assert window.current_tab() == TABS[i], f"Ctrl+{i + 1}"
        assert window.tabs.currentIndex() == i


def test_window_geometry_is_restored(qtbot):
    from PySide6.QtCore import QRect

    from resnet_explorer.gui.main_window import MainWindow
    from resnet_explorer.gui.window_settings import DEFAULT_SIZE, settings

    settings().clear()
    try:
        first = MainWindow()
        qtbot.addWidget(first)
        first.show()
        minimum = first.minimumSizeHint().expandedTo(first.minimumSize())
        # Neither the default size (1280x820) nor where a new window goes.
        wanted = QRect(37, 61, max(1100, minimum.width() + 61), max(653, minimum.height() + 7))
        assert wanted.height() != DEFAULT_SIZE.height()
        first.setGeometry(wanted)
        qtbot.waitUntil(lambda: first.geometry() == wanted, timeout=WAIT)
        first.close()  # saves the settings

        second = MainWindow()
        qtbot.addWidget(second)
        second.show()
        restored = second.geometry()
        second.close()
    finally:
        settings().clear()
    # Qt fits a restored window into the screen: the offscreen test screen (800x800) is narrower than this
    # window's minimum width, so there only the vertical placement can come back whole.
    assert (restored.y(), restored.height()) == (wanted.y(), wanted.height())
    if second.screen().availableGeometry().contains(wanted):
        assert restored == wanted


def test_a_finished_training_run_opens_in_predict(qtbot, window, plain20, tmp_path):
    import shutil

    assert window.train_tab is not None, "the Train tab failed to load (see the log for its ImportError)"
    run_model = tmp_path / "plain20-run" / "model.safetensors"  # the engine's run-directory layout
    run_model.parent.mkdir()
    shutil.copy(plain20, run_model)
    window.show_tab("train")
    window.train_tab.open_checkpoint.emit(str(run_model))
    assert window.current_tab() == "predict"
    qtbot.waitUntil(lambda: window.explorer.info.arch == "plain20", timeout=WAIT)
    assert window.status.model_label.text() == "Model: plain20-run"  # named after its run, not "model"
    assert window.model_picker.currentText() == "plain20-run.safetensors"


def _bars(plot) -> list:
    return [i for i in plot.items if type(i).__name__ == "BarGraphItem"]


def test_compare_across_depths_puts_each_stage_of_both_models_over_the_same_span(
        qtbot, window, images, tmp_path):
    from tests.gui.conftest import make_model_file

    resnet56 = str(make_model_file(tmp_path / "resnet56.safetensors", "resnet56", seed=2))
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.show_tab("residuals")
    window.residuals.compare_requested.emit(resnet56)
    qtbot.waitUntil(lambda: window.explorer.compare_analysis is not None, timeout=WAIT)
    view = window.residuals
    spans = {}
    for where, _values, info in view._ratio_layouts:
        for name, x in zip(where.names, where.x, strict=True):
            spans.setdefault((info.arch, name.split(".")[0]), []).append(x)
    # 3 blocks of resnet20 and 9 of resnet56 per stage, each inside its stage's unit of the axis.
    for k, stage in enumerate(("layer1", "layer2", "layer3")):
        assert len(spans[("resnet20", stage)]) == 3 and len(spans[("resnet56", stage)]) == 9
        for arch in ("resnet20", "resnet56"):
            assert all(k < x < k + 1 for x in spans[(arch, stage)]), (arch, stage)
    bars = _bars(view.ratio_plot)
    assert len(bars) == 2 and len(bars[0].opts["x"]) == 9 and len(bars[1].opts["x"]) == 27
    for plot in (view.ratio_plot, view.std_plot):  # stage labels on both plots
        labels = [label for label_set in plot.getAxis("bottom")._tickLevels[:1] for _, label in label_set]
        assert labels == ["conv2_x", "conv3_x", "conv4_x"]
    # These test models' cards say nothing of their training: the window says so.
    assert "trained is unknown" in view.key.text()


def test_a_plain_net_says_what_its_bars_measure(qtbot, window, images, plain20):
    window.explorer.load_model(plain20)
    qtbot.waitUntil(lambda: window.explorer.info is not None and window.explorer.info.arch == "plain20",
                    timeout=WAIT)
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.show_tab("residuals")
    view = window.residuals
    assert "Plain net" in view.ratio_plot.titleLabel.text and "H(x)" in view.ratio_plot.titleLabel.text
    assert "no residual branch" in view.ratio_plot.toolTip()


def test_presentation_zoom_scales_fonts_titles_and_lines_and_is_remembered(qtbot, window, images, monkeypatch,
                                                                           tmp_path):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from resnet_explorer.gui import window_settings, zoom

    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(window_settings, "settings", lambda: store)
    window.persist = True
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.show_tab("residuals")
    base = QApplication.font().pointSizeF()
    try:
        window.menus.zoom_actions["in"].trigger()  # what Ctrl++ does
        window.menus.zoom_actions["in"].trigger()
        assert zoom.factor() == 1.3
        assert QApplication.font().pointSizeF() == pytest.approx(base * 1.3)
        view = window.residuals
        assert view.ratio_plot.titleLabel.opts["size"] == f"{11 * 1.3:.1f}pt"
        curve = view.std_plot.listDataItems()[0]
        assert curve.opts["pen"].widthF() == pytest.approx(2 * 1.3)
        assert float(store.value(zoom.SETTINGS_KEY)) == 1.3
        window.menus.zoom_actions["reset"].trigger()  # Ctrl+0
        assert zoom.factor() == 1.0 and QApplication.font().pointSizeF() == pytest.approx(base)
        assert float(store.value(zoom.SETTINGS_KEY)) == 1.0
    finally:
        zoom.apply(1.0)  # the factor is process-wide: leave the next tests at normal size


def test_zoom_steps_stay_within_their_range():
    from resnet_explorer.gui import zoom

    assert zoom.step(2.0, +1) == 2.0 and zoom.step(0.8, -1) == 0.8
    assert zoom.step(1.0, +1) == 1.15 and zoom.step(1.0, -1) == 0.9
    assert zoom.nearest_step(7.0) == 2.0


def test_the_status_says_loading_while_a_model_is_on_its_way_not_analysing(window):
    window.explorer.pending_model = "/models/resnet56.safetensors"
    try:
        window.status.busy_changed(True)
        assert window.status.busy_label.text() == "Loading resnet56.safetensors..."
    finally:
        window.explorer.pending_model = None
    window.status.busy_changed(True)
    assert window.status.busy_label.text() == "Analysing..."


def test_samples_are_named_as_the_dataset_spells_its_classes_and_the_title_says_the_name_once(window):
    from resnet_explorer.gui.window_inputs import sample_label

    assert sample_label("fmnist-0-t-shirt-top-00019") == "T-shirt/top"
    assert sample_label("fmnist-9-ankle-boot-00000") == "Ankle boot"
    assert sample_label("odd-rgba-trouser") == "Trouser: RGBA"
    assert sample_label("odd-grey-photo-sneaker") == "Sneaker: grey photo"
    assert sample_label("holiday-photo-2024") == "photo"
    title = window.windowTitle()
    assert "resnet20" in title and title.count("ResNet Explorer") <= 1


def test_an_error_banner_stays_and_covers_no_control(qtbot, window, images):
    """The banner has its own row above the tabs, and an error waits to be dismissed (issue 12)."""
    window.resize(1024, 768)
    window.show()
    window.open_paths([images["text"]])
    qtbot.waitUntil(lambda: window.banner.level == "error" and "notes.txt" in window.banner.text(),
                    timeout=WAIT)
    qtbot.wait(50)
    banner = window.banner.geometry()
    assert not banner.intersects(window.tabs.geometry())  # siblings in one layout: same coordinates
    assert not window.banner._timer.isActive()  # no fade scheduled: it stays until dismissed or replaced
    window.show_message("info", "Saved.")
    assert window.banner._timer.isActive()  # news still fades


def test_residuals_says_when_the_compared_bundled_models_were_trained_differently(qtbot, window, images):
    """The family members were trained alike, except resnet110's warm-up (the paper's, at 110 layers)."""
    window.explorer.load_model("resnet20-fashion-mnist")
    qtbot.waitUntil(lambda: window.explorer.info.model_id == "resnet20-fashion-mnist", timeout=WAIT)
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    window.show_tab("residuals")
    view = window.residuals
    for other, warned in (("resnet110-fashion-mnist", True), ("plain56-fashion-mnist", False)):
        window.residuals.compare_requested.emit(other)
        qtbot.waitUntil(lambda o=other: window.explorer.compare_info is not None
                        and window.explorer.compare_info.model_id == o
                        and window.explorer.compare_analysis is not None, timeout=WAIT)
        qtbot.waitUntil(lambda o=other: o.split("-")[0] in view.key.text(), timeout=WAIT)
        assert ("Trained differently" in view.key.text()) is warned, (other, view.key.text())
        if warned:
            assert "warm-up iterations 0 vs 400" in view.key.toolTip()  # the loaded model first
            assert "None" not in view.key.toolTip()  # an older card's "default" is no evidence
            i18n.set_language("ko")
            try:
                view.retranslate()
                assert "워밍업 반복 0 대 400" in view.key.toolTip()
            finally:
                i18n.set_language("en")


def _record_announcements(window) -> list[str]:
    """Each view signal as it fires, and "loop" whenever the event loop ran between two of them."""
    seen: list[str] = []

    def note(name: str) -> None:
        seen.append(name)
        # Runs only if the event loop gets control again before the next signal: a repaint could then
        # show the in-between state (the new image beside an empty prediction).
        QTimer.singleShot(0, lambda: seen.append("loop") if seen[-1] != "loop" else None)

    e = window.explorer
    e.images_changed.connect(lambda: note("images"))
    e.image_selected.connect(lambda _image: note("selected"))
    e.analysis_ready.connect(lambda _result: note("analysis"))
    return seen


def _slow_analyses(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Every analysis from now on says it started, then waits (10 s at most) until released."""
    started, release = threading.Event(), threading.Event()
    real = jobs.analyze_job

    def slow_analysis(*args, **kwargs):
        started.set()
        release.wait(10.0)
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs, "analyze_job", slow_analysis)
    return started, release


def test_a_quick_analysis_is_shown_with_its_image_in_one_step(qtbot, window, images, monkeypatch):
    window.explorer._announce_timer.setInterval(60_000)  # however loaded the machine, the result comes first
    seen = _record_announcements(window)
    drop(window, images["shoe"])
    wait_for_top5(qtbot, window)
    qtbot.waitUntil(lambda: seen[-1:] == ["loop"], timeout=WAIT)
    assert seen == ["images", "selected", "analysis", "loop"]
    assert window.explorer.current.label == "shoe.png"
    assert window.strip.count() == 1 and window.predict.network_input.has_image()
    recent = window.prefs.recent_menu
    recent.aboutToShow.emit()  # filled when opened, not on every drop
    assert [a.text() for a in recent.actions()] == ["shoe.png"] and recent.isEnabled()


def test_a_slow_analysis_shows_the_image_first(qtbot, window, images, monkeypatch):
    started, release = _slow_analyses(monkeypatch)
    window.explorer._announce_timer.setInterval(10)
    seen = _record_announcements(window)
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(lambda: "selected" in seen and started.is_set(), timeout=WAIT)
    assert "analysis" not in seen  # shown while its analysis still runs
    assert window.predict.original.has_image() and window.predict.bars.rows() == []
    release.set()
    wait_for_top5(qtbot, window)
    assert seen.count("selected") == 1 and seen.index("analysis") > seen.index("selected")


def test_a_class_picked_while_a_new_image_waits_applies_to_the_image_shown(qtbot, window, images,
                                                                            monkeypatch):
    started, release = _slow_analyses(monkeypatch)
    window.explorer._announce_timer.setInterval(60_000)
    seen = _record_announcements(window)
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    assert "selected" not in seen  # not shown yet: its analysis runs
    window.explorer.set_gradcam_class(3)  # e.g. a click on a bar still on screen
    assert seen[:2] == ["images", "selected"]  # the new image is shown before the class applies to it
    assert window.explorer.gradcam_class == 3
    release.set()
    wait_for_top5(qtbot, window)


def test_an_image_whose_analysis_fails_is_shown_with_the_reason(qtbot, window, images, monkeypatch):
    def failing_analysis(*_args, **_kwargs):
        raise RuntimeError("the analysis broke")

    monkeypatch.setattr(jobs, "analyze_job", failing_analysis)
    window.explorer._announce_timer.setInterval(60_000)  # announced when the workers go idle
    seen = _record_announcements(window)
    messages: list[str] = []
    window.explorer.message.connect(lambda _level, text: messages.append(text))
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(lambda: bool(messages) and "selected" in seen, timeout=WAIT)
    assert seen[:2] == ["images", "selected"] and "analysis" not in seen
    assert window.explorer.current.label == "shoe.png" and window.predict.original.has_image()
    assert "the analysis broke" in messages[0]


def test_a_click_on_the_strip_while_a_new_image_waits_picks_the_image_shown(qtbot, window, images,
                                                                            monkeypatch):
    """The strip clicked is the one shown; a newer drop waiting for its analysis may reorder the list."""
    drop(window, images["shoe"])
    wait_for_top5(qtbot, window)
    drop(window, images["bag"])
    qtbot.waitUntil(lambda: window.strip.count() == 2 and window.explorer.current.label == "bag.jpg",
                    timeout=WAIT)
    wait_for_top5(qtbot, window)
    shoe = window.explorer.images[0]
    started, release = _slow_analyses(monkeypatch)
    window.explorer._announce_timer.setInterval(60_000)
    window.open_paths([images["shoe"]])  # opened again: moves to the end of the list, not yet shown
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    assert [o.label for o in window.explorer.images] == ["bag.jpg", "shoe.png"]  # the list has changed...
    window.explorer.select_image(1)  # ...but row 1 of the strip on screen is bag.jpg
    release.set()
    assert window.explorer.current.label == "bag.jpg" and window.explorer.current is not shoe
    qtbot.waitUntil(lambda: not window.explorer.is_busy(), timeout=WAIT)


def test_every_file_of_a_multi_file_drop_goes_into_recent_images(qtbot, window, images):
    window.open_paths([images["shoe"], images["bag"]])
    qtbot.waitUntil(lambda: window.strip.count() == 2, timeout=WAIT)
    recent = window.prefs.recent_menu
    recent.aboutToShow.emit()
    assert sorted(a.text() for a in recent.actions()) == ["bag.jpg", "shoe.png"]
