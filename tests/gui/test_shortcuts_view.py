"""The "Why shortcuts work" tab: gradient curves from the core, log scale, landscape maps, cache, Cancel."""

from __future__ import annotations

import dataclasses
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.gradients import gradient_study
from resnet_explorer.core.landscape import Landscape, grid_coords
from resnet_explorer.core.studies import check_cancel
from resnet_explorer.gui.views import shortcuts_gradients as grad_mod
from resnet_explorer.gui.views import shortcuts_landscape as land_mod

WAIT = 30000
TINY = {"batch": 8, "line_points": 4, "image_size": 8}  # a real study in well under a second per net


def tiny_gradients(archs, *, progress=None, cancel=None, **_kwargs):
    """The real core study with tiny settings (the view's own settings would take seconds)."""
    return gradient_study(list(archs), progress=progress, cancel=cancel, **TINY)


def fake_landscape(model_id: str, *, dims: int = 2, grid: int = 5, scale: float = 1.0) -> Landscape:
    """A known bowl, steeper along direction 2 (so a transposed image would show)."""
    coords = grid_coords(grid, 1.0)
    if dims == 2:
        a, b = np.meshgrid(coords, coords, indexing="ij")
        loss = scale * (0.3 + a ** 2 + 4 * b ** 2)
    else:
        loss = scale * (0.3 + coords ** 2)
    arch = "plain20" if "plain" in model_id else "resnet20"
    return Landscape(model_id, arch, "fashion-mnist", "test", 64, dims, grid, 1.0, 0, coords, loss,
                     np.clip(loss / 10, 0, 1))


@pytest.fixture
def explorer(qtbot, resnet20):
    from resnet_explorer.gui import i18n
    from resnet_explorer.gui.controller import Explorer

    i18n.set_language("en")
    ex = Explorer()
    ex.load_model(resnet20)
    qtbot.waitUntil(lambda: ex.info is not None, timeout=WAIT)
    yield ex
    ex.shutdown()


@pytest.fixture
def make_view(qtbot, explorer, monkeypatch):
    """A function making the tab (gradients: only plain20 and resnet20 ticked, computed tiny)."""
    from resnet_explorer.gui.views.shortcuts import ShortcutsView

    monkeypatch.setattr(grad_mod, "gradients_job", tiny_gradients)
    monkeypatch.setattr(land_mod, "dataset_missing", lambda _name: None)  # no test set in the sandbox
    views = []

    def make(show: bool = True) -> ShortcutsView:
        view = ShortcutsView(explorer)
        qtbot.addWidget(view)
        for arch in ("plain56", "resnet56"):
            view.gradients.picks[arch].setChecked(False)
        view.resize(1024, 768)
        if show:
            view.show()
        views.append(view)
        return view

    yield make
    for view in views:
        assert view.shutdown(5000)


def _landscape_job(calls: list, scale: dict | None = None):
    def job(model_ids, _dataset, *, dims, grid, progress=None, cancel=None, **_kwargs):
        calls.append(list(model_ids))
        total = grid ** dims * len(model_ids)
        for done in range(1, total + 1):
            progress(done, total)
        return [(m, fake_landscape(m, dims=dims, grid=grid, scale=(scale or {}).get(m, 1.0)))
                for m in model_ids]
    return job


def _compute_landscape(qtbot, view):
    with qtbot.waitSignal(view.landscape.study_ready, timeout=WAIT):
        qtbot.mouseClick(view.landscape.bar.compute, Qt.MouseButton.LeftButton)


# ----- gradients at initialisation -------------------------------------------------------------------------
def test_gradient_curves_equal_the_core_result_on_a_log_axis(qtbot, make_view):
    view = make_view(show=False)
    section = view.gradients
    with qtbot.waitSignal(section.study_ready, timeout=WAIT):
        view.show()  # the first showing computes the ticked networks by itself
    expected = tiny_gradients(["plain20", "resnet20"])  # seeded: the same numbers again
    chart = section.chart
    assert set(chart.curves) == {"plain20", "resnet20"}
    for a in expected.archs:
        curve = chart.curves[a.arch]
        norms = [g.norm for g in a.conv]
        assert np.allclose(curve.yData, norms, rtol=1e-5)
        assert np.allclose(curve.xData, np.linspace(0, 1, len(norms)))  # the relative depth
        style = curve.opts["pen"].style()
        assert style == (Qt.PenStyle.SolidLine if a.residual else Qt.PenStyle.DashLine)
    # Same depth, same colour; the y axis is logarithmic (the view holds log10 of the norms).
    assert chart.curves["plain20"].opts["pen"].color() == chart.curves["resnet20"].opts["pen"].color()
    assert chart.plot.getAxis("left").logMode and chart.plot.ctrl.logYCheck.isChecked()
    _, ys = chart.curves["plain20"].getData()
    assert np.allclose(ys, np.log10([g.norm for g in expected.archs[0].conv]), rtol=1e-5)
    assert "decades" in chart.key.text() and "plain20" in chart.key.text()
    # The block-output series draws the blocks' gradients instead.
    section.series.setCurrentIndex(section.series.findData("blocks"))
    assert np.allclose(chart.curves["resnet20"].yData, [g.norm for g in expected.archs[1].blocks], rtol=1e-5)


def test_gradient_cache_computes_only_what_is_missing(qtbot, make_view, monkeypatch):
    calls = []

    def job(archs, **kwargs):
        calls.append(list(archs))
        return tiny_gradients(archs, **kwargs)

    monkeypatch.setattr(grad_mod, "gradients_job", job)
    view = make_view(show=False)
    section = view.gradients
    with qtbot.waitSignal(section.study_ready, timeout=WAIT):
        view.show()
    assert calls == [["plain20", "resnet20"]]
    qtbot.waitUntil(lambda: not section.is_running(), timeout=WAIT)
    assert not section.bar.compute.isEnabled()  # nothing left to compute
    # Unticking and ticking again draws from the cache; a new pick computes only itself.
    section.picks["plain20"].setChecked(False)
    assert set(section.chart.curves) == {"resnet20"}
    section.picks["plain20"].setChecked(True)
    assert set(section.chart.curves) == {"plain20", "resnet20"} and len(calls) == 1
    section.picks["plain56"].setChecked(True)
    assert section.bar.compute.isEnabled() and "measure: 1," in section.bar.estimate.text()
    with qtbot.waitSignal(section.study_ready, timeout=WAIT):
        qtbot.mouseClick(section.bar.compute, Qt.MouseButton.LeftButton)
    assert calls[-1] == ["plain56"] and set(section.chart.curves) == {"plain20", "resnet20", "plain56"}


# ----- loss landscape ------------------------------------------------------------------------------------
def test_landscape_image_equals_the_grid(qtbot, make_view, monkeypatch, explorer):
    calls = []
    monkeypatch.setattr(land_mod, "landscape_job", _landscape_job(calls))
    view = make_view()
    view.sections.setCurrentIndex(1)
    section = view.landscape
    qtbot.waitUntil(lambda: "No surface ships with the app" in section.notice.text(), timeout=WAIT)
    assert "121 points over 256 test images" in section.bar.estimate.text()  # the quick default
    section.grid.setValue(5)
    _compute_landscape(qtbot, view)
    assert calls == [[explorer.info.model_id]]
    landscape = section.shown()[0][0]
    chart = section.chart
    assert len(chart.images) == 1 and chart.isocurves
    # The image is log10 of the loss with x = direction 1: loss[i, j] is at column i, row j.
    assert np.allclose(chart.images[0].image, np.log10(landscape.loss).T)
    rect = chart.images[0].mapRectToParent(chart.images[0].boundingRect())
    assert rect.left() == pytest.approx(-1.25) and rect.width() == pytest.approx(2.5)
    # The slice: the loss along direction 1 through the trained weights (the middle column).
    assert np.allclose(chart.slices[0].xData, landscape.coords)
    assert np.allclose(chart.slices[0].yData, landscape.loss[:, 2])
    assert chart.slice_plot.getAxis("left").logMode
    assert "0.3 at the trained weights" in chart.key.text()
    # A 1-D landscape is a line only.
    section.dims.setCurrentIndex(section.dims.findData(1))
    _compute_landscape(qtbot, view)
    assert not chart.images and np.allclose(chart.slices[0].yData, section.shown()[0][0].loss)


def test_two_models_share_one_colour_scale(qtbot, make_view, monkeypatch, explorer, plain20):
    calls = []
    monkeypatch.setattr(land_mod, "landscape_job", _landscape_job(calls, {plain20: 20.0}))
    view = make_view()
    section = view.landscape
    section._fill_second([SimpleNamespace(id=plain20, arch="plain20", present=True)])
    section.second.setCurrentIndex(section.second.findData(plain20))
    section.grid.setValue(5)
    _compute_landscape(qtbot, view)
    assert calls == [[explorer.info.model_id, plain20]]
    first, second = (s for s, _ in section.shown())
    images = section.chart.images
    assert len(images) == 2 and np.allclose(images[1].image, np.log10(second.loss).T)
    lo = np.log10(min(first.loss.min(), second.loss.min()))
    hi = np.log10(max(first.loss.max(), second.loss.max()))
    for image in images:
        assert np.allclose(image.getLevels(), (lo, hi))
    assert np.allclose(section.chart.colour_bar.levels(), (lo, hi))
    assert "one colour scale" in section.chart.key.text()
    # Plain dashed, residual solid in the slice.
    assert section.chart.slices[1].opts["pen"].style() == Qt.PenStyle.DashLine
    assert section.chart.slices[0].opts["pen"].style() == Qt.PenStyle.SolidLine


def test_landscape_cache_hit_does_not_recompute(qtbot, make_view, monkeypatch, explorer, plain20):
    calls = []
    monkeypatch.setattr(land_mod, "landscape_job", _landscape_job(calls))
    view = make_view()
    section = view.landscape
    section.grid.setValue(5)
    _compute_landscape(qtbot, view)
    section.grid.setValue(7)  # other settings: nothing to show, Compute again
    assert not section.chart.images and section.bar.compute.isEnabled()
    _compute_landscape(qtbot, view)
    section.grid.setValue(5)  # back: from the cache, at once
    assert len(calls) == 2 and section.chart.images and not section.bar.compute.isEnabled()
    assert "Computed" in section.bar.estimate.text()
    # A second model computes only itself; the loaded model's surface comes from the cache.
    section._fill_second([SimpleNamespace(id=plain20, arch="plain20", present=True)])
    section.second.setCurrentIndex(section.second.findData(plain20))
    _compute_landscape(qtbot, view)
    assert calls[-1] == [plain20] and len(section.chart.images) == 2


def test_cancel_stops_the_landscape_and_the_window_stays_responsive(qtbot, make_view, monkeypatch):
    seen = {}

    def slow(model_ids, _dataset, *, progress=None, cancel=None, **_kwargs):
        seen["cancel"] = cancel
        for done in range(1, 10_000):
            check_cancel(cancel)
            progress(done, 10_000)
            time.sleep(0.005)
        return [(m, fake_landscape(m)) for m in model_ids]

    monkeypatch.setattr(land_mod, "landscape_job", slow)
    view = make_view()
    view.sections.setCurrentIndex(1)
    section = view.landscape
    qtbot.mouseClick(section.bar.compute, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: section.bar.progress.isVisible() and section.bar.progress.value() > 0,
                    timeout=WAIT)
    assert section.bar.cancel_button.isVisible() and not section.bar.compute.isEnabled()
    assert "points" in section.bar.progress.format()
    ticks = []
    QTimer.singleShot(0, lambda: ticks.append(1))  # the event loop runs while the landscape does
    qtbot.waitUntil(lambda: bool(ticks), timeout=1000)
    qtbot.mouseClick(section.bar.cancel_button, Qt.MouseButton.LeftButton)
    assert isinstance(seen["cancel"], threading.Event) and seen["cancel"].is_set()
    qtbot.waitUntil(lambda: not section.is_running(), timeout=5000)
    assert not section.bar.progress.isVisible() and section.bar.compute.isEnabled()
    assert not section.cache and section.bar.status.text() == "Cancelled."


def test_an_error_is_one_line_and_a_missing_test_set_is_said(qtbot, make_view, monkeypatch, explorer):
    def broken(*_args, **_kwargs):
        raise UserInputError("the model predicts 10 classes\nbut cifar100 has 100")

    monkeypatch.setattr(land_mod, "landscape_job", broken)
    view = make_view()
    section = view.landscape
    with qtbot.waitSignal(section.study_failed, timeout=WAIT) as failed:
        qtbot.mouseClick(section.bar.compute, Qt.MouseButton.LeftButton)
    assert "\n" not in failed.args[0] and section.bar.status.text() == failed.args[0]
    monkeypatch.setattr(land_mod, "dataset_missing", lambda name: "missing")
    explorer.info = dataclasses.replace(explorer.info, dataset="imagenet-1k")
    section._settings_changed()
    assert not section.bar.compute.isEnabled()
    assert "imagenet-1k" in section.bar.status.text() and "offline" in section.bar.status.text()


def test_korean_and_back(qtbot, make_view):
    from resnet_explorer.gui import i18n

    view = make_view(show=False)
    i18n.set_language("ko")
    try:
        assert view.title.text() == "숏컷이 효과적인 이유"
        assert view.sections.tabText(1) == "손실 지형 (Li 외 2018)"
        assert view.landscape.bar.compute.text() == "계산"
    finally:
        i18n.set_language("en")
    assert view.title.text() == "Why shortcuts work"


def test_hover_reads_values_out(qtbot, make_view, monkeypatch):
    from PySide6.QtCore import QPointF

    monkeypatch.setattr(land_mod, "landscape_job", _landscape_job([]))
    view = make_view(show=False)
    with qtbot.waitSignal(view.gradients.study_ready, timeout=WAIT):
        view.show()
    chart = view.gradients.chart
    curve = chart.curves["plain20"]
    qtbot.wait(100)  # the view box auto-ranges lazily, at the next paint
    chart._mouse_moved(chart.plot.vb.mapViewToScene(QPointF(0.0, float(np.log10(curve.yData[0])))))
    assert chart.readout.text().startswith("plain20 · ") and "relative depth 0.00" in chart.readout.text()
    view.sections.setCurrentIndex(1)
    section = view.landscape
    section.grid.setValue(5)
    _compute_landscape(qtbot, view)
    qtbot.wait(100)
    plots = section.chart
    plots._mouse_moved(plots.maps[0].vb.mapViewToScene(QPointF(0.5, -1.0)))
    text = plots.readout.text()
    landscape = section.shown()[0][0]
    assert "a = 0.50, b = -1.00" in text and f"loss {landscape.loss[3, 0]:.3g}" in text


def test_a_surface_shipped_for_a_bundled_model_shows_at_once(qtbot, make_view, monkeypatch, explorer):
    import dataclasses

    calls = []
    monkeypatch.setattr(land_mod, "landscape_job", _landscape_job(calls))
    mid = explorer.info.model_id
    shipped = dataclasses.replace(fake_landscape(mid, grid=11), n=256)  # the window's default settings
    command = "resnet-explorer landscape --dims 2 --grid 11 --subset 256"
    asked = []

    def shipped_study(model_id, kind):
        asked.append((model_id, kind))
        return (shipped, {"command": command}) if model_id == mid and kind == "landscape-2d-11" else None

    monkeypatch.setattr("resnet_explorer.core.precomputed.shipped_study", shipped_study)
    view = make_view()
    section = view.landscape
    qtbot.waitUntil(lambda: bool(section.chart.images), timeout=WAIT)
    assert calls == [] and section.shown()[0][0] is shipped  # nothing computed
    assert "Shipped with the app" in section.notice.text() and command in section.notice.text()
    assert not section.bar.compute.isEnabled() and "Computed" in section.bar.estimate.text()
    section.grid.setValue(5)  # settings nothing ships for: computed here, and the notice says so
    qtbot.waitUntil(lambda: "No surface ships with the app" in section.notice.text(), timeout=WAIT)
    assert (mid, "landscape-2d-5") in asked
    assert not section.chart.images and section.bar.compute.isEnabled()


def test_a_shipped_surface_that_cannot_be_used_says_why(qtbot, make_view, monkeypatch, explorer):
    from resnet_explorer.core.errors import UserInputError

    calls = []
    monkeypatch.setattr(land_mod, "landscape_job", _landscape_job(calls))
    reason = "x.landscape-2d-11.json was computed from another version of x.safetensors"

    def shipped_study(model_id, kind):
        raise UserInputError(reason)

    monkeypatch.setattr("resnet_explorer.core.precomputed.shipped_study", shipped_study)
    view = make_view()
    section = view.landscape
    qtbot.waitUntil(lambda: "was not used" in section.notice.text(), timeout=WAIT)
    assert reason in section.notice.text() and "No surface ships" not in section.notice.text()
    assert calls == [] and section.bar.compute.isEnabled()  # computed here only when asked


def test_the_command_a_shipped_surface_names_gives_what_the_window_computes(resnet20, capsys):
    """scripts/precompute_studies.py records `landscape ... --split test`: it must equal the view's job."""
    import json as json_mod

    from resnet_explorer.cli import main

    settings = {"dims": 1, "grid": 3, "span": 0.5, "subset": 16}
    window = land_mod.landscape_job([resnet20], "synthetic", **settings)[0][1]
    assert main(["landscape", "--model", resnet20, "--dataset", "synthetic", "--dims", "1", "--grid", "3",
                 "--span", "0.5", "--subset", "16", "--split", "test", "--json"]) == 0
    doc = json_mod.loads(capsys.readouterr().out)
    assert doc["split"] == window.split == "test" and np.allclose(doc["loss"], window.loss)
