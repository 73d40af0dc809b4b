"""The benchmark suite's bookkeeping (no timing here): ratios, goals, JSON round trip, the table."""

from __future__ import annotations

import pytest

from bench.__main__ import markdown
from bench.common import ratio_figure, read_json, write_json


def test_a_figure_is_the_median_of_per_round_ratios_with_their_spread():
    figure = ratio_figure("k", "ours", "reference", [110.0, 100.0, 300.0], [100.0, 100.0, 100.0],
                          unit="ms", goal=1.05)
    assert figure.ratio == pytest.approx(1.10) and figure.ratio_min == 1.0 and figure.ratio_max == 3.0
    assert figure.met is False
    assert figure.ours.median == 110.0 and figure.ref.median == 100.0 and figure.rounds == 3


@pytest.mark.parametrize(("goal_on", "better", "met"), [
    ("ratio", "higher", True),        # 2x >= 1.5x
    ("ours", "lower", True),          # median 20 ms <= 50 ms
    ("ours_max", "lower", False),     # worst round 90 ms > 50 ms: a longest stall is the worst one
])
def test_goals_apply_to_what_they_name(goal_on, better, met):
    goal = 1.5 if goal_on == "ratio" else 50.0
    figure = ratio_figure("k", "f", "r", [20.0, 90.0, 10.0], [10.0, 45.0, 5.0], unit="ms", goal=goal,
                          better=better, goal_on=goal_on)
    assert figure.met is met


def test_figures_survive_json_and_become_a_markdown_row(tmp_path):
    figure = ratio_figure("stall", "longest stall", "idle", [18.0, 19.0], [1.0, 2.0], unit="ms", goal=50.0,
                          goal_on="ours_max", arch="resnet20")
    write_json([figure], tmp_path / "f.json")
    (back,) = read_json(tmp_path / "f.json")
    assert back == figure
    row = markdown([back]).splitlines()[-1]
    assert "longest stall" in row and "worst 19.0" in row and "<= 50 ms" in row and row.endswith("met |")
