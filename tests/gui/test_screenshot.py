"""``resnet-explorer gui --screenshot``: renders the right tab after the analysis and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from resnet_explorer.cli import main
from resnet_explorer.gui.app import PNG_TAB_KEY, SCREENSHOT_SIZE


def _shot(tmp_path, resnet20, image, tab, *extra):
    out = tmp_path / f"{tab}.png"
    status = main(["gui", image, "--model", resnet20, "--screenshot", str(out), "--tab", tab,
                   "--language", "en", *extra])
    return status, out


@pytest.mark.parametrize("tab", ["residuals", "lesion", "architecture"])
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
    """The Residuals plots must hold both models' bars and curves when the picture is taken."""
    import pyqtgraph as pg

    from resnet_explorer.gui import app

    captured = {}
    real_grab = app.grab

    def spy(window):
        view = window.explorer
        captured["analyses"] = (view.analysis, view.compare_analysis)
        captured["blocks"] = ([b.name for b in view.info.blocks], [b.name for b in view.compare_info.blocks])
        captured["layers"] = (list(view.info.layers_3x3), list(view.compare_info.layers_3x3))
        bars = [i for i in window.residuals.ratio_plot.items if isinstance(i, pg.BarGraphItem)]
        captured["bars"] = [np.asarray(item.opts["height"], dtype=float) for item in bars]
        captured["curves"] = [np.asarray(item.getData()[1], dtype=float)
                              for item in window.residuals.std_plot.listDataItems()]
        captured["tab"] = window.current_tab()
        return real_grab(window)

    app.grab = spy
    try:
        status, _ = _shot(tmp_path, resnet20, images["shoe"], "residuals", "--compare", plain20,
                          "--lesion", "layer2.1")
    finally:
        app.grab = real_grab
    assert status == 0 and captured["tab"] == "residuals"
    main, other = captured["analyses"]
    assert main is not None and main.lesioned == ("layer2.1",) and other is not None
    # What is drawn: one bar series and one std curve per model, each with that model's own numbers.
    assert len(captured["bars"]) == 2 and len(captured["curves"]) == 2
    for bars, curve, result, blocks, layers in zip(captured["bars"], captured["curves"], (main, other),
                                                   captured["blocks"], captured["layers"], strict=True):
        np.testing.assert_allclose(bars, [result.residual_ratio[n] for n in blocks], rtol=1e-6)
        stds = dict(result.response_std)
        np.testing.assert_allclose(curve, [stds.get(n, np.nan) for n in layers], rtol=1e-6)
    assert captured["bars"][0][captured["blocks"][0].index("layer2.1")] == 0.0  # the lesioned block
    assert captured["bars"][1][captured["blocks"][1].index("layer2.1")] > 0.0  # plain20 is intact
    assert not np.allclose(captured["bars"][0], captured["bars"][1])


def test_screenshot_command_line_exits_zero(tmp_path, resnet20, images):
    out = tmp_path / "predict.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-m", "resnet_explorer", "gui", images["bag"], "--model", resnet20,
                           "--screenshot", str(out), "--tab", "predict"],
                          capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    with Image.open(out) as png:
        assert png.info[PNG_TAB_KEY] == "predict"


def test_a_start_model_that_fails_falls_back_to_the_default_and_the_screenshot_says_so(
        qtbot, tmp_path, images, capsys):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    out = tmp_path / "fallback.png"
    status = main(["gui", images["shoe"], "--model", str(broken), "--screenshot", str(out),
                   "--language", "en", "--size", "1024x768"])
    err = capsys.readouterr().err
    assert status == 1 and out.is_file()
    lines = [line for line in err.splitlines() if line.startswith("resnet-explorer gui: error:")]
    assert len(lines) == 1 and "broken.safetensors" in lines[0]
    assert "Showing the bundled default resnet20-fashion-mnist instead" in lines[0]
    with Image.open(out) as png:
        assert png.size == (1024, 768)


def test_a_missing_image_makes_the_screenshot_fail_with_one_line(qtbot, tmp_path, resnet20, images, capsys):
    status, out = _shot(tmp_path, resnet20, str(tmp_path / "missing.png"), "predict")
    err = capsys.readouterr().err
    assert status == 1 and out.is_file()
    assert [line for line in err.splitlines() if "error:" in line] == [
        "resnet-explorer gui: error: missing.png does not exist."]


def test_the_window_size_option_is_checked_by_the_parser(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["gui", "--size", "10x10", "--screenshot", "x.png"])
    assert raised.value.code == 2 and "between 320x240" in capsys.readouterr().err
