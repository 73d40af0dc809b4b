"""scripts/studies_report.py: the README's lesion and landscape numbers, from a study's own dict."""

from __future__ import annotations

import numpy as np
import pytest

from .scripts_helper import load_script


def block(name, error, *, downsampling=False, deletable=True):
    return {"name": name, "downsampling": downsampling, "deletable": deletable, "error": error, "loss": None}


def test_lesion_summary_separates_downsampling_blocks_and_finds_the_largest_step():
    report = load_script("studies_report")
    study = {"model": "m", "residual": True, "n": 1000, "error": 0.06, "chance_error": 0.9,
             "blocks": [block("layer1.0", 0.07), block("layer1.1", 0.09), block("layer1.2", 0.08),
                        block("layer2.0", 0.5, downsampling=True)],
             "deletions": [{"k": k, "mean": m} for k, m in [(0, 0.06), (1, 0.08), (2, 0.2), (3, 0.25),
                                                            (4, 0.5)]]}
    s = report.lesion_summary(study)
    assert s["single_median"] == pytest.approx(8.0) and s["single_worst"] == pytest.approx(9.0)
    assert s["downsampling"] == [("layer2.0", pytest.approx(50.0))] and s["single_blocks"] == 3
    assert s["mean_at_k"] == {1: pytest.approx(8.0), 2: pytest.approx(20.0), 4: pytest.approx(50.0)}
    assert s["k_all"] == 4 and s["mean_at_all"] == pytest.approx(50.0)
    assert s["largest_step"] == pytest.approx(25.0)  # k = 3 -> 4
    plain = dict(study, residual=False, blocks=[block("layer1.0", 0.9), block("layer2.0", None,
                                                                              downsampling=True,
                                                                              deletable=False)])
    assert report.lesion_summary(plain)["downsampling"] == [("layer2.0", None)]
    assert "not deletable" in report.markdown([report.lesion_summary(plain)], [])


def test_local_minima_counts_a_bowl_once_and_every_pit_of_a_rough_surface():
    report = load_script("studies_report")
    x = np.linspace(-1, 1, 11)
    bowl = x[:, None] ** 2 + x[None, :] ** 2
    assert report.local_minima(bowl) == 1
    rough = bowl.copy()
    for i, j in [(2, 2), (2, 8), (8, 2), (8, 8), (0, 5)]:  # four pits inside and one on the edge
        rough[i, j] -= 0.5
    assert report.local_minima(rough) == 6
    flat = np.zeros((5, 5))
    assert report.local_minima(flat) == 0  # strictly lower only: a plateau is no minimum


def test_landscape_summary_reads_the_centre_and_skips_non_finite_points():
    report = load_script("studies_report")
    loss = [[1.0, 2.0, 3.0], [2.0, 0.5, None], [3.0, 2.5, 4.0]]
    s = report.landscape_summary({"model": "m", "n": 256, "grid": 3, "span": 1.0, "loss": loss})
    assert s["centre_loss"] == 0.5 and s["min_loss"] == 0.5 and s["max_loss"] == 4.0
    assert s["non_finite"] == 1 and s["local_minima"] == 1
