"""The Predict tab's sanity check window (Adebayo et al. 2018): button, table, flag, Cancel, model kept."""

from __future__ import annotations

import gc
import hashlib
import math
import threading

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from resnet_explorer.core import sanity
from resnet_explorer.core.studies import StudyCancelled
from resnet_explorer.gui import i18n

from .test_main_window import WAIT, wait_for_top5
from .test_predict_cams import pick, wait_for_cam

STEPS = ("nothing", "fc", "layer3", "layer2", "layer1", "stem")  # resnet20's cascade, head first


def fake_check(methods: tuple[str, ...], rhos: dict[str, list[float]],
               cam_class: int = 7) -> sanity.SanityCheck:
    """A small SanityCheck as the core would return it for resnet20 (maps 4x4, image 28x28 grey)."""
    rng = np.random.default_rng(0)
    steps = []
    for i, name in enumerate(STEPS):
        layers = STEPS[1:i + 1]
        steps.append(sanity.SanityStep(i, name, layers, top1=i % 10, rho={m: rhos[m][i] for m in methods},
                                       maps={m: rng.random((4, 4)).astype(np.float32) for m in methods}))
    return sanity.SanityCheck("resnet20", "resnet20", cam_class, "Sneaker", "layer3", "layer3.2", methods,
                              steps, threshold=0.9, seed=0,
                              display_image=np.zeros((28, 28), np.uint8))


def state_hash(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@pytest.fixture
def shown(qtbot, window, images):
    """The window with an image analysed."""
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    qtbot.waitUntil(lambda: not window.explorer.is_busy(), timeout=WAIT)
    return window


def wait_for_result(qtbot, dialog):
    """Wait for the check's end; a failure names itself (the dialog's error line) instead of a timeout."""
    qtbot.waitUntil(lambda: dialog.result is not None or bool(dialog.error), timeout=WAIT)
    assert dialog.error == ""


def open_dialog(qtbot, window):
    button = window.predict.sanity_button
    assert button.isEnabled()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    dialog = window.predict.sanity_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    return dialog


def rho_texts(dialog) -> list[list[str]]:
    t = dialog.table
    return [[t.cellWidget(r, c).label.text() for c in range(t.columnCount())] for r in range(t.rowCount())]


def test_button_is_disabled_without_an_image(window):
    assert window.predict.sanity_button.text() == "Sanity check..."
    assert not window.predict.sanity_button.isEnabled()


def test_button_runs_the_tabs_method_class_and_layer(qtbot, shown, monkeypatch):
    calls = []
    rhos = {"layercam": [1.0, 0.8, 0.5, 0.3, -0.2, math.nan], "gradcam": [1.0, 0.4, 0.2, 0.1, 0.05, 0.123]}

    def fake(loaded, image, *, methods, cam_class, cam_stage, progress, cancel):
        calls.append({"model": loaded.model, "methods": tuple(methods), "cam_class": cam_class,
                      "cam_stage": cam_stage, "size": image.size})
        for done in range(1, 13):
            progress(done, 12)
        return fake_check(tuple(methods), rhos, cam_class=cam_class)

    monkeypatch.setattr(sanity, "sanity_check", fake)
    predict = shown.predict
    pick(predict.cam_method, "layercam")
    wait_for_cam(qtbot, shown, "layercam", "layer3")
    pick(predict.cam_class, predict.cam_class.itemData(1))  # explain the second class, not the top-1
    second = predict.cam_class.itemData(1)
    qtbot.waitUntil(lambda: shown.explorer.analysis.gradcam_class == second, timeout=WAIT)

    dialog = open_dialog(qtbot, shown)
    wait_for_result(qtbot, dialog)
    # The tab's objects: its method first, Grad-CAM for reference; its class; its layer; its image.
    assert calls[0]["methods"] == ("layercam", "gradcam")
    assert calls[0]["cam_class"] == second and calls[0]["cam_stage"] == "layer3"
    assert calls[0]["model"] is not shown.explorer.loaded.model  # the job hands the core a copy
    assert calls[0]["size"] == shown.explorer.current.image.size
    # One row per method, one column per step, the paper's stage names, and the core's rho under each map.
    table = dialog.table
    assert (table.rowCount(), table.columnCount()) == (2, len(STEPS))
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["intact", "fc", "conv4_x\n(layer3)", "conv3_x\n(layer2)", "conv2_x\n(layer1)",
                       "conv1\n(stem)"]
    assert rho_texts(dialog) == [["ρ = 1.00", "ρ = 0.80", "ρ = 0.50", "ρ = 0.30", "ρ = -0.20", "ρ = –"],
                                 ["ρ = 1.00", "ρ = 0.40", "ρ = 0.20", "ρ = 0.10", "ρ = 0.05", "ρ = 0.12"]]
    for r, method in enumerate(("layercam", "gradcam")):
        assert [table.cellWidget(r, c).rho for c in range(len(STEPS))] == pytest.approx(rhos[method],
                                                                                         nan_ok=True)
    assert table.verticalHeaderItem(0).text().startswith("LayerCAM")
    assert "flagged" not in dialog.notes.text() and "passes" in dialog.notes.text()
    assert "0.9" in dialog.explain.text()  # the threshold
    assert "Done" in dialog.status.text() and not dialog.progress.isVisible()
    # The BatchNorm line says what the core does (sanity.RANDOMISATION).
    assert "kept" in sanity.RANDOMISATION["batchnorm"]["running_stats"]
    assert "running mean and variance are kept" in dialog.batchnorm.text()

    i18n.set_language("ko")
    try:
        assert table.horizontalHeaderItem(0).text() == "온전함"
        assert dialog.close_button.text() == "닫기" and "통과" in dialog.notes.text()
        assert predict.sanity_button.text() == "건전성 검사..."
    finally:
        i18n.set_language("en")
    dialog.close()


def test_a_flagged_method_shows_the_red_note(qtbot, shown, monkeypatch):
    rhos = {"gradcam": [1.0, 0.99, 0.98, 0.97, 0.96, 0.95]}
    monkeypatch.setattr(sanity, "sanity_check",
                        lambda loaded, image, *, methods, **_kw: fake_check(tuple(methods), rhos))
    dialog = open_dialog(qtbot, shown)
    wait_for_result(qtbot, dialog)
    assert dialog.table.rowCount() == 1  # Grad-CAM shown: no second method for reference
    assert "flagged" in dialog.table.verticalHeaderItem(0).text()
    note = dialog.notes.text()
    assert "the map barely changes when the network's weights are randomised: it shows the image, not " \
           "what the network learned" in note
    assert "rho = 0.95" in note and sanity.SanityCheck.barely_changes(dialog.result, "gradcam")
    assert "#a5281b" in note  # red
    dialog.close()


def test_cancel_stops_the_check(qtbot, shown, monkeypatch):
    entered, stopped = threading.Event(), threading.Event()

    def slow(loaded, image, *, methods, cam_class, cam_stage, progress, cancel):
        entered.set()
        progress(1, 100)
        while not cancel.wait(0.01):  # a long check that looks at its cancel event between maps
            pass
        stopped.set()
        raise StudyCancelled("cancelled")

    monkeypatch.setattr(sanity, "sanity_check", slow)
    dialog = open_dialog(qtbot, shown)
    assert entered.wait(WAIT / 1000)
    qtbot.waitUntil(lambda: dialog.progress.maximum() == 100, timeout=WAIT)
    assert dialog.is_running() and dialog.cancel_button.isVisible()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert stopped.wait(WAIT / 1000)
    assert not dialog.is_running() and dialog.result is None and dialog.table.rowCount() == 0
    assert "Cancelled" in dialog.status.text()
    assert dialog.rerun_button.isVisible() and not dialog.cancel_button.isVisible()
    # Run again: a fresh check, this time to the end.
    monkeypatch.setattr(sanity, "sanity_check", lambda loaded, image, *, methods, **_kw: fake_check(
        tuple(methods), {"gradcam": [1.0, 0.5, 0.4, 0.3, 0.2, 0.1]}))
    qtbot.mouseClick(dialog.rerun_button, Qt.MouseButton.LeftButton)
    wait_for_result(qtbot, dialog)
    assert dialog.table.rowCount() == 1
    dialog.close()


def test_a_rerun_right_after_cancel_is_not_taken_for_the_cancelled_one(qtbot, shown, monkeypatch):
    """The cancelled worker is freed before its queued ``aborted`` arrives; the rerun's worker may then
    get its address. That late ``aborted`` must not end the rerun (it used to: the rerun never finished)."""
    def slow(loaded, image, *, cancel, **_kw):
        while not cancel.wait(0.001):
            pass
        raise StudyCancelled("cancelled")

    def quick(loaded, image, *, methods, **_kw):
        return fake_check(tuple(methods), {"gradcam": [1.0, 0.5, 0.4, 0.3, 0.2, 0.1]})

    dialog = None
    for _ in range(5):
        monkeypatch.setattr(sanity, "sanity_check", slow)
        if dialog is None:
            dialog = open_dialog(qtbot, shown)
        else:
            dialog.run(dialog.request)
        cancelled = dialog._worker
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
        assert cancelled.wait(WAIT / 1000)  # its thread ended; its signals wait in the queue
        del cancelled
        gc.collect()  # freed now, unless the dialog still holds it
        monkeypatch.setattr(sanity, "sanity_check", quick)
        qtbot.mouseClick(dialog.rerun_button, Qt.MouseButton.LeftButton)
        wait_for_result(qtbot, dialog)
        assert dialog.table.rowCount() == 1
    dialog.close()


def test_closing_the_window_cancels_the_check(qtbot, shown, monkeypatch):
    stopped = threading.Event()

    def slow(loaded, image, *, cancel, **_kw):
        while not cancel.wait(0.01):
            pass
        stopped.set()
        raise StudyCancelled("cancelled")

    monkeypatch.setattr(sanity, "sanity_check", slow)
    dialog = open_dialog(qtbot, shown)
    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    assert stopped.wait(WAIT / 1000) and not dialog.is_running() and not dialog.isVisible()
    stopped.clear()
    dialog = open_dialog(qtbot, shown)  # the same window again, a new check
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Escape closes like Close, and stops the check too
    assert stopped.wait(WAIT / 1000) and not dialog.is_running() and not dialog.isVisible()


def test_the_real_check_on_resnet20_leaves_the_loaded_model_untouched(qtbot, shown, monkeypatch):
    returned = []
    real = sanity.sanity_check

    def spy(*args, **kwargs):
        returned.append(real(*args, **kwargs))
        return returned[-1]

    monkeypatch.setattr(sanity, "sanity_check", spy)
    model = shown.explorer.loaded.model
    before = state_hash(model)
    dialog = open_dialog(qtbot, shown)
    wait_for_result(qtbot, dialog)
    result = returned[0]
    assert dialog.result is result
    assert [s.randomised for s in result.steps] == list(STEPS)
    assert (dialog.table.rowCount(), dialog.table.columnCount()) == (1, len(STEPS))
    assert rho_texts(dialog)[0] == [f"ρ = {s.rho['gradcam']:.2f}" for s in result.steps]
    assert result.cam_class == shown.explorer.analysis.gradcam_class
    assert state_hash(model) == before and shown.explorer.loaded.model is model
    assert not any(getattr(m, "lesioned", False) for m in model.modules())
    dialog.close()


def test_the_job_copies_the_model_without_a_running_analysis_hooks_or_lesion(monkeypatch, resnet20):
    """The check may start while the analysis thread is inside analyze() on the shared model."""
    from resnet_explorer.core.zoo import load_model
    from resnet_explorer.gui.views.sanity import sanity_job

    loaded = load_model(resnet20, device="cpu")
    block = loaded.model.block("layer2.1")
    handle = block.register_forward_hook(lambda *_a: None)
    block.lesioned = True
    seen = {}

    def capture(work, image, **_kw):
        seen["modules"] = list(work.model.modules())
        return "result"

    monkeypatch.setattr(sanity, "sanity_check", capture)
    assert sanity_job(loaded, None, methods=("gradcam",), cam_class=None, cam_stage=None) == "result"
    assert not any(m._forward_hooks or getattr(m, "lesioned", False) for m in seen["modules"])
    assert block.lesioned and block._forward_hooks  # the original is left as the analysis thread has it
    handle.remove()
    block.lesioned = False
