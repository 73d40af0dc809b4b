"""scripts/precompute_studies.py computes what the window's views would: the same numbers, same settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from .scripts_helper import load_script

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")




def test_the_scripts_settings_are_the_windows_defaults():
    from resnet_explorer.gui.views import lesion_study as lesion
    from resnet_explorer.gui.views import shortcuts_landscape as land

    script = load_script("precompute_studies")
    assert script.LESION == {"subset": lesion.DEFAULT_SUBSET, "draws": lesion.DRAWS}
    assert script.LANDSCAPE == {"dims": land.DEFAULT_DIMS, "grid": land.DEFAULT_GRID,
                                "subset": land.DEFAULT_SUBSET, "span": land.SPAN}


@pytest.mark.dataset
@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_file(),
                    reason="needs Debian's dataset-fashion-mnist (apt install dataset-fashion-mnist)")
def test_the_shipped_landscape_equals_what_the_window_computes(monkeypatch):
    from resnet_explorer.gui.views.shortcuts_landscape import landscape_job

    script = load_script("precompute_studies")
    monkeypatch.setattr(script, "LANDSCAPE", {"dims": 1, "grid": 3, "subset": 16, "span": 0.5})
    kind, shipped, command = script.compute("resnet20-fashion-mnist", "landscape")
    window = landscape_job(["resnet20-fashion-mnist"], "fashion-mnist", dims=1, grid=3, span=0.5,
                           subset=16)[0][1]
    assert kind == "landscape-1d-3" and "--split test" in command and "--subset 16" in command
    assert shipped.split == window.split == "test" and np.allclose(shipped.loss, window.loss)
