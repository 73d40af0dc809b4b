"""``resnet-explorer gui --screenshot``: renders the right tab after the analysis and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image

from resnet_explorer.cli import main
from resnet_explorer.gui.app import PNG_TAB_KEY, SCREENSHOT_SIZE


def _shot(tmp_path, resnet20, image, tab, *extra):
    out = tmp_path / f"{tab}.png"
    status = main(["gui", image, "--model", resnet20, "--screenshot", str(out), "--tab", tab,
                   "--language", "en", *extra])
    return status, out


@pytest.mark.parametrize("tab", ["residuals", "architecture"])
def test_screenshot_writes_the_requested_tab(qtbot, tmp_path, resnet20, images, tab):
    status, out = _shot(tmp_path, resnet20, images["shoe"], tab)
    assert status == 0
    assert out.stat().st_size > 10_000
    with Image.open(out) as png:
        assert png.size == SCREENSHOT_SIZE
        assert png.info[PNG_TAB_KEY] == tab
        colours = png.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is None or len(colours) > 50  # a rendered window, not a blank canvas


def test_screenshot_waits_for_the_analysis(qtbot, tmp_path, resnet20, images, plain20):
    """The Residuals plots must hold both models' bars when the picture is taken."""
    from resnet_explorer.gui import app

    captured = {}
    real_grab = app.grab

    def spy(window):
        captured["analysis"] = window.explorer.analysis
        captured["compare"] = window.explorer.compare_analysis
        captured["lesion"] = window.explorer.lesion
        return real_grab(window)

    app.grab = spy
    try:
        status, _ = _shot(tmp_path, resnet20, images["shoe"], "residuals", "--compare", plain20,
                          "--lesion", "layer2.1")
    finally:
        app.grab = real_grab
    assert status == 0
    assert captured["analysis"] is not None and captured["analysis"].lesioned == ("layer2.1",)
    assert captured["compare"] is not None
    assert captured["lesion"] == ("layer2.1",)


def test_screenshot_command_line_exits_zero(tmp_path, resnet20, images):
    out = tmp_path / "predict.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "resnet_explorer", "gui", images["bag"], "--model", resnet20,
                           "--screenshot", str(out), "--tab", "predict"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as png:
        assert png.info[PNG_TAB_KEY] == "predict"
