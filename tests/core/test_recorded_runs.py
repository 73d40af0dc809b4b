"""Recorded training curves: parsing the engine's metrics.csv files and rendering them headlessly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_explorer.core import recorded_runs as rr

HEADER = ("epoch,train_loss,train_error,test_loss,test_error,test_top5_error,lr,"
          "epoch_time_s,elapsed_s,images_per_s\n")


def write_run(root, name, rows):
    """A run directory laid out as the engine writes it: ROOT/<model>/metrics.csv."""
    directory = root / name
    directory.mkdir(parents=True)
    lines = [f"{e},{loss},{tr},{loss},{te},,0.1,1.0,{e},100\n" for e, loss, tr, te in rows]
    (directory / "metrics.csv").write_text(HEADER + "".join(lines), encoding="utf-8")
    return directory


def test_engine_layout_loads_every_model_in_paper_order(tmp_path):
    run_dir = tmp_path / "figure6"
    write_run(run_dir, "resnet56", [(1, 1.2, 40.0, 42.0), (2, 0.8, 25.0, 28.5)])
    write_run(run_dir, "plain56", [(1, 1.9, 70.0, 71.0), (2, 1.5, 55.0, 57.0)])
    write_run(run_dir, "plain20", [(1, 1.5, 50.0, 52.0), (2, 1.0, 35.0, 38.0)])

    run = rr.load_recorded_run("figure6", root=tmp_path)

    assert [c.name for c in run.ordered()] == ["plain20", "plain56", "resnet56"]
    plain56 = run.curves["plain56"]
    np.testing.assert_allclose(plain56.x, [1, 2])
    np.testing.assert_allclose(plain56.train_error, [70.0, 55.0])
    np.testing.assert_allclose(plain56.test_error, [71.0, 57.0])
    np.testing.assert_allclose(plain56.train_loss, [1.9, 1.5])
    assert plain56.final_test_error() == pytest.approx(57.0)
    assert not plain56.residual and run.curves["resnet56"].residual
    assert plain56.depth == 56


def test_fractions_become_percent_and_accuracy_becomes_error(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("arch,iteration,loss,train_acc,test_error\n"
                    "resnet20,100,2.0,0.25,0.8\n"
                    "resnet20,200,1.0,0.75,\n"
                    "plain20,100,2.1,0.20,0.9\n", encoding="utf-8")

    curves = rr.read_metrics_csv(path)

    assert set(curves) == {"resnet20", "plain20"}
    res = curves["resnet20"]
    assert res.x_label == "iteration"
    np.testing.assert_allclose(res.train_error, [75.0, 25.0])
    assert res.test_error[0] == pytest.approx(80.0) and math.isnan(res.test_error[1])


def test_missing_run_says_so_clearly(tmp_path):
    with pytest.raises(rr.RecordedRunMissing, match="No recorded run is shipped yet"):
        rr.load_recorded_run("figure6", root=tmp_path)


def test_unusable_file_names_the_file(tmp_path):
    run_dir = tmp_path / "bad"
    run_dir.mkdir()
    (run_dir / "x.csv").write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(rr.RecordedRunError, match="x.csv"):
        rr.load_recorded_run(str(run_dir))


def test_render_png_draws_both_panels(tmp_path):
    from PIL import Image

    run_dir = tmp_path / "figure6"
    write_run(run_dir, "plain20", [(1, 1.5, 50.0, 52.0), (2, 1.0, 35.0, 38.0), (3, 0.8, 30.0, 33.0)])
    write_run(run_dir, "resnet20", [(1, 1.4, 45.0, 47.0), (2, 0.9, 30.0, 33.0), (3, 0.7, 22.0, 27.0)])

    out = rr.render_png(rr.load_recorded_run(str(run_dir)), tmp_path / "fig6.png", size=(800, 320))

    image = Image.open(out).convert("RGB")
    assert image.size == (800, 320)
    # Look below the legend (top of each panel), where only curves can put colour.
    left = {image.getpixel((x, y)) for x in range(70, 390) for y in range(140, 260)}
    right = {image.getpixel((x, y)) for x in range(470, 790) for y in range(140, 260)}
    assert rr.colour_for("plain20") in left  # plain20 and resnet20 share a colour, one per panel
    assert rr.colour_for("resnet20") in right


def _read_shipped(path):
    import csv

    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return reader.fieldnames, [{k: float(v) for k, v in row.items()} for row in reader]


FAMILY = ["plain20", "plain32", "plain44", "plain56", "resnet20", "resnet32", "resnet44", "resnet56",
          "resnet110"]


def test_the_button_shows_the_bundled_family():
    assert rr.DEFAULT_RUN == "family" and {"family", "figure6"} <= set(rr.list_recorded_runs())


@pytest.mark.parametrize(("name", "models"), [("figure6", ["plain20", "plain56", "resnet20", "resnet56"]),
                                              ("family", FAMILY)])
def test_a_shipped_run_is_what_its_config_trained(name, models):
    """assets/runs/NAME: the engine's own files, complete, sane, and on the recipe of its config.json."""
    import json

    from resnet_explorer.core.training_budget import FULL_TRAINING_SPLIT
    from resnet_explorer.core.training_state import METRIC_COLUMNS

    run_dir = rr.runs_dir() / name
    config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    assert sorted(config.get("models") or config["arch"].split(",")) == sorted(models)
    images = config["subset"] or FULL_TRAINING_SPLIT[config["dataset"]]
    epochs, steps = config["epochs"], images // config["batch_size"]  # the last batch is dropped

    def lr_at_last_step(epoch: int) -> float:  # the step schedule of the config, written out here
        frac = (epoch * steps - 1) / (epochs * steps)
        return config["lr"] * config["gamma"] ** sum(frac >= m for m in config["milestones"])

    run = rr.load_recorded_run(name)
    assert [c.name for c in run.ordered()] == models  # plain nets first, by depth: the paper's legend
    final_train_error = {}
    for model in models:
        header, rows = _read_shipped(run_dir / model / "metrics.csv")
        assert tuple(header) == tuple(METRIC_COLUMNS)
        assert [r["epoch"] for r in rows] == list(range(1, epochs + 1))
        for r in rows:
            assert all(math.isfinite(v) for v in r.values()), r
            assert 0 <= r["test_top5_error"] <= r["test_error"] <= 0.9 and 0 <= r["train_error"] <= 0.9, r
            assert r["train_loss"] > 0 and r["test_loss"] > 0 and r["images_per_s"] > 0, r
            assert 0 < r["epoch_time_s"] <= r["elapsed_s"], r
            assert r["lr"] == pytest.approx(lr_at_last_step(int(r["epoch"])), rel=1e-5), r
        assert all(a["elapsed_s"] < b["elapsed_s"] for a, b in zip(rows, rows[1:], strict=False))
        assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it trained
        # What the loader hands the plots: the same numbers, errors in %.
        curves = run.curves[model]
        np.testing.assert_allclose(curves.x, [r["epoch"] for r in rows])
        np.testing.assert_allclose(curves.train_error, [100 * r["train_error"] for r in rows])
        np.testing.assert_allclose(curves.test_error, [100 * r["test_error"] for r in rows])
        np.testing.assert_allclose(curves.train_loss, [r["train_loss"] for r in rows])
        final_train_error[model] = rows[-1]["train_error"]
    # The point of Fig. 6: the deeper plain net trains worse than the shallower one (degradation).
    assert final_train_error["plain56"] > final_train_error["plain20"] + 0.04
