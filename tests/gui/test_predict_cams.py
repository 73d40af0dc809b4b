"""The Predict tab's class activation map pickers: method, layer, the hook caption, and the 1024x768 fit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QScrollArea, QWidget

from resnet_explorer.gui import i18n

from .conftest import make_model_file
from .test_main_window import WAIT, wait_for_top5

SAMPLE = Path(__file__).resolve().parents[2] / "assets" / "samples" / "fmnist-4-coat-00006.png"


def pick(combo, data) -> None:
    """Choose the entry holding ``data`` as a user would (``activated`` fires)."""
    pos = combo.findData(data)
    assert pos >= 0, data
    combo.setCurrentIndex(pos)
    combo.activated.emit(pos)


def wait_for_cam(qtbot, window, method: str, stage: str) -> None:
    def done() -> bool:
        a = window.explorer.analysis
        return a is not None and a.cam_method == method and a.cam_stage == stage and a.gradcam is not None
    qtbot.waitUntil(done, timeout=WAIT)
    qtbot.waitUntil(lambda: not window.explorer.is_busy(), timeout=WAIT)


def stage_data(combo) -> list[str]:
    return [combo.itemData(i) for i in range(combo.count())]


def test_pickers_list_the_stages_and_blocks(qtbot, window, images, tmp_path):
    predict = window.predict
    expected = ["stem"] + [n for s in ("layer1", "layer2", "layer3")
                           for n in (s, *(f"{s}.{i}" for i in range(3)))]
    assert stage_data(predict.cam_stage) == expected
    assert predict.cam_stage.currentData() == "layer3"  # the last stage by default
    texts = [predict.cam_stage.itemText(i).strip() for i in range(predict.cam_stage.count())]
    assert texts[0] == "stem (conv1)"
    assert "conv3_x (layer2)" in texts and "conv3_x block 2 (layer2.1)" in texts
    assert [predict.cam_method.itemData(i) for i in range(predict.cam_method.count())] == [
        "gradcam", "gradcam++", "layercam", "scorecam", "occlusion"]
    assert predict.cam_method.currentData() == "gradcam"

    # Another model: the list is rebuilt, and a block of the old model is no longer asked for.
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    pick(predict.cam_stage, "layer2.1")
    wait_for_cam(qtbot, window, "gradcam", "layer2.1")
    deeper = str(make_model_file(tmp_path / "resnet32.safetensors", "resnet32"))
    window.explorer.load_model(deeper)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == deeper, timeout=WAIT)
    assert stage_data(predict.cam_stage)[:7] == ["stem", "layer1"] + [f"layer1.{i}" for i in range(5)]
    assert predict.cam_stage.count() == 1 + 3 * 6
    assert predict.cam_stage.currentData() == "layer3"
    wait_for_cam(qtbot, window, "gradcam", "layer3")
    assert window.explorer.analysis.cam_layer == "layer3.4"


def test_method_and_layer_reanalyse_and_the_caption_names_the_hook(qtbot, window, images):
    predict = window.predict
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    assert window.explorer.analysis.cam_method == "gradcam"
    assert "layer3.2" in predict.cam_hook.text() and "7x7 map" in predict.cam_hook.text()

    pick(predict.cam_method, "gradcam++")
    pick(predict.cam_stage, "layer2.1")
    wait_for_cam(qtbot, window, "gradcam++", "layer2.1")
    result = window.explorer.analysis
    assert result.cam_layer == "layer2.1" and result.cam_size == (14, 14)
    assert predict.cam_hook.text() == "Hook: output of layer2.1, after the addition and ReLU; 14x14 map"
    assert predict.network_input.has_image()

    pick(predict.cam_method, "layercam")
    pick(predict.cam_stage, "stem")
    wait_for_cam(qtbot, window, "layercam", "stem")
    assert "stem" in predict.cam_hook.text() and "28x28 map" in predict.cam_hook.text()

    # The slow methods run in the worker like the others, reporting their batches; occlusion has no layer.
    reports: list[tuple[int, int]] = []
    window.explorer.analysis_progress.connect(lambda done, total: reports.append((done, total)))
    pick(predict.cam_method, "scorecam")
    wait_for_cam(qtbot, window, "scorecam", "stem")
    qtbot.waitUntil(lambda: bool(reports) and reports[-1][0] == reports[-1][1], timeout=WAIT)
    assert all(0 <= done <= total for done, total in reports)
    bar = window.status.progress  # the status bar shows a report until the map is complete
    window.status.analysis_progress(3, 10)
    assert bar.isVisibleTo(window) and bar.format() == "Heat map: 3 / 10" and bar.value() == 3
    window.status.analysis_progress(10, 10)
    assert not bar.isVisibleTo(window)
    pick(predict.cam_method, "occlusion")
    wait_for_cam(qtbot, window, "occlusion", "input")
    assert window.explorer.analysis.cam_layer == "input"
    assert not predict.cam_stage.isEnabled()
    assert predict.cam_hook.text().startswith("No hook")

    # Quick changes coalesce: only the newest request is answered.
    pick(predict.cam_method, "scorecam")
    pick(predict.cam_method, "gradcam")
    pick(predict.cam_stage, "layer1.2")
    wait_for_cam(qtbot, window, "gradcam", "layer1.2")
    assert predict.cam_stage.isEnabled()
    # The class picked is kept with the method.
    other = window.explorer.analysis.top_k[1][0]
    window.explorer.set_gradcam_class(other)
    qtbot.waitUntil(lambda: window.explorer.analysis.gradcam_class == other, timeout=WAIT)
    assert window.explorer.analysis.cam_method == "gradcam"


def test_plain_network_hook_has_no_addition(qtbot, window, images, plain20):
    window.explorer.load_model(plain20)
    qtbot.waitUntil(lambda: window.explorer.info.model_id == plain20, timeout=WAIT)
    window.open_paths([images["shoe"]])
    wait_for_top5(qtbot, window)
    pick(window.predict.cam_stage, "layer2.0")
    wait_for_cam(qtbot, window, "gradcam", "layer2.0")
    assert window.predict.cam_hook.text() == "Hook: output of layer2.0, after its last ReLU; 14x14 map"


def outside_widgets(window, root: QWidget, skip: set = frozenset()) -> list[QWidget]:
    """Visible widgets under ``root`` (but not in ``skip``) that reach outside the window."""
    bounds = window.rect()
    bad = []
    for child in root.findChildren(QWidget):
        if child in skip or not child.isVisibleTo(window) or child.isWindow():
            continue
        top_left = child.mapTo(window, child.rect().topLeft())
        if not bounds.contains(QRect(top_left, child.size())):
            bad.append(child)
    return bad


def outside(window, root: QWidget) -> list[str]:
    """Visible widgets under ``root`` that reach outside the window, described."""
    bounds = window.rect()
    bad = []
    for child in root.findChildren(QWidget):
        if not child.isVisibleTo(window) or child.isWindow():
            continue
        top_left = child.mapTo(window, child.rect().topLeft())
        if not bounds.contains(QRect(top_left, child.size())):
            bad.append(f"{type(child).__name__} {child.objectName()} at {top_left.x()},{top_left.y()} "
                       f"{child.width()}x{child.height()}")
    return bad


def test_predict_tab_fits_1024x768(qtbot, window, images):
    window.resize(1024, 768)
    window.open_paths([str(SAMPLE)])  # a Fashion-MNIST picture: no domain note
    wait_for_top5(qtbot, window)
    for language in ("en", "ko"):
        i18n.set_language(language)
        qtbot.waitUntil(lambda: window.predict.cam_hook.text() != "", timeout=WAIT)
        qtbot.wait(50)
        assert (window.width(), window.height()) == (1024, 768)
        assert window.predict.domain_note.isHidden()
        assert outside(window, window.predict) == [], language
        # The pickers' group is in view, not scrolled away in the side column.
        scroll = window.predict.findChild(QScrollArea)
        assert scroll.verticalScrollBar().maximum() == 0, language
    # A photo brings the domain note: then the side column scrolls, and the scroll area itself still fits.
    i18n.set_language("en")
    window.open_paths([images["shoe"]])
    qtbot.waitUntil(lambda: not window.predict.domain_note.isHidden(), timeout=WAIT)
    scroll = window.predict.findChild(QScrollArea)
    content = set(scroll.findChildren(QWidget))
    bad = outside_widgets(window, window.predict, skip=content)
    assert bad == [], [type(w).__name__ for w in bad]
