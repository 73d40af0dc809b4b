"""The Lesion study tab: bars per deleted block, the k curve, Cancel, errors, the dataset check."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt, QTimer

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.lesion import BlockLesion, DeletionPoint, LesionStudy
from resnet_explorer.core.studies import Measurement
from resnet_explorer.gui.views import lesion_study as view_mod
from tests.gui.study_helpers import cancel_slow_run, slow_job, start_slow_run

WAIT = 30000
NAMES = [f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3)]
DOWN = {"layer2.0", "layer3.0"}


def fake_study(model_id: str = "resnet20", deletable: bool = True) -> LesionStudy:
    """A resnet20-shaped study with known numbers (errors 0.10 + 0.02 * i; downsampling ones 0.5)."""
    blocks = []
    for i, name in enumerate(NAMES):
        down = name in DOWN
        ok = deletable or not down
        error = (0.5 if down else 0.10 + 0.02 * i) if ok else None
        blocks.append(BlockLesion(name, down, ok, error, error))
    n_ok = sum(b.deletable for b in blocks)
    deletions = [DeletionPoint(k, (0.08 + 0.08 * k, 0.12 + 0.08 * k) if 0 < k < n_ok else (0.08 + 0.09 * k,))
                 for k in range(n_ok + 1)]
    return LesionStudy(model_id, "resnet20", deletable, "fashion-mnist", "test", 1000, 10,
                       Measurement(0.3, 0.08), blocks, deletions, 5, 0)


def _view(window):
    window.show_tab("lesion")
    return window.lesion_study


def _compute(qtbot, view):
    with qtbot.waitSignal(view.study_ready, timeout=WAIT):
        qtbot.mouseClick(view.compute, Qt.MouseButton.LeftButton)


def _bar_heights(view) -> dict[float, float]:
    out = {}
    for item in view.chart.bars:
        out.update(zip(np.round(item.opts["x"], 6), item.opts["height"], strict=True))
    return out


def test_the_tab_is_registered_with_a_shortcut(window):
    from resnet_explorer.commands.gui import TAB_CHOICES
    from resnet_explorer.gui.main_window import TABS

    assert "lesion" in TABS and "lesion" in TAB_CHOICES
    window.menus.tab_actions["lesion"].trigger()
    assert window.current_tab() == "lesion"
    assert window.menus.tab_actions["lesion"].shortcut().toString() == f"Ctrl+{TABS.index('lesion') + 1}"


def test_bars_downsampling_marks_and_k_curve(qtbot, window, monkeypatch):
    study = fake_study()
    monkeypatch.setattr(view_mod, "lesion_job", lambda *a, **k: study)
    view = _view(window)
    assert view.compute.isEnabled() and "passes" in view.estimate.text()
    _compute(qtbot, view)
    assert view.study() is study and view.cache[window.explorer.info.model_id] is study
    # One bar per block at its height (in %), in forward order along the stage axis.
    heights = _bar_heights(view)
    assert len(heights) == len(NAMES)
    got = [heights[x] for x in sorted(heights)]
    assert np.allclose(got, [100 * b.error for b in study.blocks])
    # Downsampling blocks are their own, hatched series.
    down = next(b for b in view.chart.bars if b.objectName() == "downsampling")
    assert len(down.opts["x"]) == 2 and np.allclose(down.opts["height"], [50, 50])
    hatch = [i for i in view.chart.bar_plot.items
             if isinstance(i, pg.BarGraphItem) and i.objectName() == "hatch"]
    assert hatch and hatch[0].opts["brush"].style() == Qt.BrushStyle.BDiagPattern
    # Dashed lines for the intact error and chance in both plots.
    for plot in (view.chart.bar_plot, view.chart.k_plot):
        lines = sorted(i.value() for i in plot.items if isinstance(i, pg.InfiniteLine))
        assert np.allclose(lines, [8.0, 90.0])
    # Labels where the data are not: the k curve starts on the intact line, so that label goes right.
    def label_at(plot):
        return {round(i.value()): i.label.orthoPos for i in plot.items if isinstance(i, pg.InfiniteLine)}

    assert label_at(view.chart.k_plot) == {8: 0.98, 90: 0.02}
    assert label_at(view.chart.bar_plot) == {8: 0.02, 90: 0.02}
    # The k curve: the mean of the draws for k = 0 .. 9, with a spread band.
    xs, ys = view.chart.k_curve.getData()
    assert list(xs) == list(range(10))
    assert np.allclose(ys, [100 * d.mean for d in study.deletions])
    band = view.chart.k_band.path().boundingRect()  # +-1 std: the two draws are 4 points apart
    assert band.height() > 5 and band.width() == pytest.approx(9)
    assert view.compute.text() == "Compute again"
    assert "downsampling" in view.chart.key.text()


def test_undeletable_blocks_get_a_mark_not_a_bar(qtbot, window):
    view = _view(window)
    view.cache[window.explorer.info.model_id] = fake_study(deletable=False)
    view._redraw()
    assert len(_bar_heights(view)) == len(NAMES) - 2
    marks = [i for i in view.chart.bar_plot.items if isinstance(i, pg.ScatterPlotItem) and i.data.size]
    assert marks and len(marks[0].data) == 2
    xs, _ = view.chart.k_curve.getData()
    assert xs[-1] == len(NAMES) - 2


def test_cancel_stops_a_slow_study_and_the_window_stays_responsive(qtbot, window, monkeypatch):
    seen: dict = {}
    monkeypatch.setattr(view_mod, "lesion_job", slow_job(seen, fake_study))
    view = _view(window)
    start_slow_run(qtbot, view)
    # The event loop runs while the study does: a timer fires and the window switches tabs.
    ticks = []
    QTimer.singleShot(0, lambda: ticks.append(1))
    qtbot.waitUntil(lambda: bool(ticks), timeout=1000)
    window.show_tab("predict")
    window.show_tab("lesion")
    cancel_slow_run(qtbot, view, seen)
    assert view.study() is None and "cancelled" in view.status.text()


def test_an_error_becomes_one_line(qtbot, window, monkeypatch):
    def broken(*_args, **_kwargs):
        raise UserInputError("the model predicts 10 classes\nbut the dataset has 100")

    monkeypatch.setattr(view_mod, "lesion_job", broken)
    view = _view(window)
    with qtbot.waitSignal(view.study_failed, timeout=WAIT) as failed:
        qtbot.mouseClick(view.compute, Qt.MouseButton.LeftButton)
    assert "\n" not in failed.args[0]
    assert view.status.isVisible() and view.status.text() == failed.args[0]
    assert "100" in view.status.text()
    qtbot.waitUntil(lambda: view.compute.isEnabled(), timeout=5000)


def test_a_dataset_not_on_this_computer_is_said_in_one_line(window, monkeypatch, tmp_path):
    from resnet_explorer.core import data

    view = _view(window)
    window.explorer.info = dataclasses.replace(window.explorer.info, dataset="imagenet-1k")
    view._update_controls()
    assert not view.compute.isEnabled()
    assert "imagenet-1k" in view.status.text() and "offline" in view.status.text()
    assert view.status.isVisible() and "\n" not in view.status.text()
    monkeypatch.setattr(data, "default_data_dir", lambda: tmp_path)
    assert view_mod.dataset_missing("cifar10") and view_mod.dataset_missing("synthetic") is None


def test_results_are_cached_per_model(qtbot, window, monkeypatch, plain20):
    calls = []

    def job(model_id, *args, **kwargs):
        calls.append(model_id)
        return fake_study(model_id)

    monkeypatch.setattr(view_mod, "lesion_job", job)
    view = _view(window)
    first = window.explorer.info.model_id
    _compute(qtbot, view)
    window.load_model(plain20)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == plain20, timeout=WAIT)
    assert view.study() is None and view.compute.text() == "Compute" and not view.chart.bars
    window.load_model(first)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == first, timeout=WAIT)
    assert view.study() is not None and len(_bar_heights(view)) == len(NAMES) and calls == [first]


def test_a_real_study_on_the_synthetic_set(qtbot, window, resnet20):
    """The worker function end to end on a small real model, then drawn by the view."""
    cancel = threading.Event()
    study = view_mod.lesion_job(resnet20, "synthetic", subset=64, device="cpu", draws=2, cancel=cancel)
    assert [b.name for b in study.blocks] == NAMES
    assert [b.name for b in study.blocks if b.downsampling] == sorted(DOWN)
    assert [d.k for d in study.deletions] == list(range(len(NAMES) + 1))
    view = _view(window)
    view.cache[window.explorer.info.model_id] = study
    view._redraw()
    got = _bar_heights(view)
    assert np.allclose([got[x] for x in sorted(got)], [100 * b.error for b in study.blocks])


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_drawn_study_renders_at_1024x768(qtbot, window, tmp_path, language):
    from resnet_explorer.gui import i18n

    window.resize(1024, 768)
    view = _view(window)
    view.cache[window.explorer.info.model_id] = fake_study()
    view._redraw()
    i18n.set_language(language)  # redraws in the new language
    try:
        qtbot.wait(50)
        shot = window.grab().toImage()
        assert shot.save(str(tmp_path / f"lesion-{language}.png"))
        # Every control fits: nothing is pushed outside the window at the classroom size.
        for widget in (view.compute, view.estimate, view.chart.plots, view.chart.key):
            right = widget.mapTo(window, widget.rect().bottomRight())
            assert right.x() <= 1024 and right.y() <= 768
        assert len(_bar_heights(view)) == len(NAMES)
    finally:
        i18n.set_language("en")


def test_a_study_shipped_for_a_bundled_model_shows_without_compute(qtbot, window, monkeypatch):
    mid = window.explorer.info.model_id
    shipped = fake_study(mid)
    command = "resnet-explorer lesion-study --subset 1000 --draws 5"
    monkeypatch.setattr("resnet_explorer.core.precomputed.shipped_study",
                        lambda model_id, kind: (shipped, {"command": command})
                        if (model_id, kind) == (mid, "lesion") else None)
    view = _view(window)
    with qtbot.waitSignal(window.explorer.model_loaded, timeout=WAIT):
        window.explorer.load_model(mid)  # the tab reads what ships for a model when it is loaded
    qtbot.waitUntil(lambda: view.study() is shipped, timeout=WAIT)
    assert view.chart.bars and "Precomputed" in view.status.text() and command in view.status.text()
    assert view.compute.text() == "Compute again"


def test_a_stale_shipped_study_is_not_shown_and_the_status_says_why(qtbot, window, monkeypatch):
    def stale(_model_id, kind):
        if kind != "lesion":
            return None
        raise UserInputError("x.lesion.json was computed from other weights than x.safetensors holds now")

    monkeypatch.setattr("resnet_explorer.core.precomputed.shipped_study", stale)
    monkeypatch.setattr(view_mod, "dataset_missing", lambda _name: None)  # its warning would come first
    view = _view(window)
    with qtbot.waitSignal(window.explorer.model_loaded, timeout=WAIT):
        window.explorer.load_model(window.explorer.info.model_id)
    qtbot.waitUntil(lambda: "was not used" in view.status.text(), timeout=WAIT)
    assert view.study() is None and "other weights" in view.status.text()
    assert view.compute.text() == "Compute"
