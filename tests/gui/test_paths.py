"""File names the OS refuses: one message each in the window, the other files still open."""

from __future__ import annotations

from PIL import Image

from resnet_explorer.cli import main
from resnet_explorer.gui.inputs import classify_paths

LONG = "a" * 300 + ".png"  # over the 255 bytes a Linux file name may have


def test_a_name_too_long_is_one_error_and_the_rest_are_sorted(images, tmp_path):
    contents = classify_paths([str(tmp_path / LONG), images["shoe"]])
    assert contents.images == [(images["shoe"], "shoe.png")]
    assert len(contents.errors) == 1 and "too long" in contents.errors[0].lower()
    assert len(contents.errors[0]) < 200  # the name is cut to fit the banner


def test_gui_starts_with_a_name_too_long_among_its_images(qtbot, tmp_path, resnet20, images):
    out = tmp_path / "shot.png"
    status = main(["gui", str(tmp_path / LONG), images["shoe"], "--model", resnet20, "--screenshot", str(out),
                   "--language", "en"])
    assert status == 1  # a screenshot reports every input that failed; the others are still shown
    with Image.open(out) as png:
        assert png.size[0] > 100


def test_the_window_imports_without_torch():
    """Suffixes and dialogs come from torch-free core modules: importing torch (1-2 s) waits for a worker."""
    import subprocess
    import sys

    code = "import sys, resnet_explorer.gui.main_window; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
