"""The Train tab's plots before and around a run: empty axes, keys, layout, the path field, and the faint
recorded curves behind a live run with their caption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resnet_explorer.gui import i18n
from resnet_explorer.gui.views.train.plots import REFERENCE_Z, CurvePlots
from resnet_explorer.gui.views.train.tab import TrainTab

LONG = 60_000


def ranges(plot):
    (x0, x1), (y0, y1) = plot.getViewBox().viewRange()
    return x0, x1, y0, y1


def test_empty_plots_span_the_forms_epochs_and_full_error_range(qtbot, tmp_path):
    tab = TrainTab(runs_root=tmp_path)
    qtbot.addWidget(tab)
    tab.configure(epochs=8)
    for plot in tab.plots.all_plots:
        x0, x1, y0, y1 = ranges(plot)
        assert x0 <= 0 < 8 <= x1 < 8.5
        assert y0 <= 0
    for plot in (tab.plots.error_plain, tab.plots.error_res):
        assert 100 <= ranges(plot)[3] < 105  # errors in %, 0 to 100
    assert 2.3 <= ranges(tab.plots.loss_plain)[3] < 5  # an untrained 10-class net starts at ln 10
    # No key without models: no empty box, no empty row above the plots.
    assert not any(legend.isVisible() or legend.items for legend in tab.plots.legends.values())


def test_keys_sit_above_the_plots_and_follow_the_language(qtbot):
    plots = CurvePlots()
    qtbot.addWidget(plots)
    plots.resize(800, 600)
    plots.show()
    qtbot.waitExposed(plots)
    plots.set_models({"plain20": False, "resnet20": True}, epochs=4)
    qtbot.wait(50)
    # The plots fill the widget right after the models change (they stayed squashed at the top before).
    assert plots.error_plain.sceneBoundingRect().height() > 0.3 * plots.height()
    for residual, legend in plots.legends.items():
        assert legend.isVisible()
        for plot in plots._plots_for(residual):
            assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())
    try:
        i18n.set_language("ko")
        plots.retranslate()  # the tab calls it on notifier().language_changed
        labels = [label.text for _, label in plots.legends[False].items]
        assert i18n.tr("training error") in labels and "training error" not in labels
    finally:
        i18n.set_language("en")
    plots.retranslate()
    assert "training error" in [label.text for _, label in plots.legends[False].items]


def test_save_runs_in_shows_both_ends_of_a_long_path(qtbot, tmp_path):
    tab = TrainTab(runs_root=tmp_path)
    qtbot.addWidget(tab)
    long_path = "/home/teacher/" + "a-very-long-folder-name/" * 6 + "runs"
    tab.configure(out_dir=long_path)
    tab.resize(1024, 700)
    tab.show()
    qtbot.waitExposed(tab)
    field = tab.form.out_dir
    shown = field.label.text()
    assert "…" in shown and shown.startswith("/home") and shown.endswith("runs")
    assert field.label.fontMetrics().horizontalAdvance(shown) <= field.label.width()
    assert long_path in field.toolTip()
    assert tab.form.values()["out"].startswith(long_path)


METRICS_HEADER = ("epoch,train_loss,train_error,test_loss,test_error,test_top5_error,lr,epoch_time_s,"
                  "elapsed_s,images_per_s")


def write_recorded(root: Path, name: str, final_errors: dict[str, float], *, epochs: int = 12,
                   subset: int | None = 5000, dataset: str = "synthetic") -> None:
    """A recorded run like assets/runs/figure6: config.json and MODEL/metrics.csv (errors as fractions)."""
    run = root / name
    for model, final in final_errors.items():
        # Training error falls from twice its final value to it (fractions, as the engine writes them).
        rows = [f"{e},{2 / e:.4f},{final * (2 - e / epochs):.4f},{2.1 / e:.4f},{final * 1.1:.4f},,0.1,1,{e},"
                "100" for e in range(1, epochs + 1)]
        (run / model).mkdir(parents=True)
        (run / model / "metrics.csv").write_text("\n".join([METRICS_HEADER, *rows]) + "\n", encoding="utf-8")
    config = {"arch": ",".join(final_errors), "dataset": dataset, "epochs": epochs, "subset": subset}
    (run / "config.json").write_text(json.dumps(config), encoding="utf-8")


class EndsAtOnce:
    """An engine stand-in that ends at once: the plots keep what the tab drew for the run."""

    def __init__(self, config) -> None:
        self.config = config

    def events(self):
        return iter(())

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...


def run_briefly(qtbot, root: Path, archs: list[str], dataset: str = "synthetic") -> TrainTab:
    tab = TrainTab(run_factory=EndsAtOnce, runs_root=root)
    qtbot.addWidget(tab)
    tab.configure(archs=archs, dataset=dataset, subset=3000, epochs=6, batch_size=16, device="cpu",
                  out_dir=str(root / "out"))
    with qtbot.waitSignal(tab.running_changed, timeout=LONG, check_params_cb=lambda running: not running):
        tab.start_training()
    return tab


def test_faint_recorded_curves_behind_the_live_models_with_a_caption(qtbot, tmp_path):
    write_recorded(tmp_path, "figure6",
                   {"plain20": 0.05, "plain56": 0.12, "resnet20": 0.04, "resnet110": 0.03})
    tab = run_briefly(qtbot, tmp_path, ["plain20", "plain56", "resnet20", "resnet56"])
    plots = tab.plots

    assert sorted(plots.faint.items) == ["plain20", "plain56", "resnet20"]  # resnet56 was not recorded
    for name, items in plots.faint.items.items():
        live_z = plots.models[name].items["test_error"].zValue()
        assert all(item.zValue() == REFERENCE_Z < live_z for item in items)
        x, _ = items[1].getData()  # recorded epochs 1..12 drawn over the live run's 6
        assert x[0] == pytest.approx(0.5) and x[-1] == pytest.approx(6.0)
    labels = [label.text for legend in plots.legends.values() for _, label in legend.items]
    assert labels.count("recorded") == 2 and not {"plain20 recorded"} & set(labels)  # one key a column
    assert "resnet110" not in labels

    caption = tab.caption.label.text()
    assert tab.caption.isVisibleTo(tab) and "figure6" in caption
    assert "12 epochs × 5,000 images" in caption
    stretch = tab.caption.label.toolTip()  # how the recorded epochs are drawn against this run's
    assert "12 epochs × 5,000 images" in stretch and "6 epochs × 3,000 images" in stretch
    assert "plain56 trains worse than plain20" in caption and "smaller run" in caption

    tab.reference_check.setChecked(False)
    assert not any(item.isVisible() for items in plots.faint.items.values() for item in items)
    assert not tab.caption.label.isVisibleTo(tab)
    assert "recorded" not in [label.text for _, label in plots.legends[False].items]


def test_caption_follows_the_recorded_data_and_prefers_the_family_run(qtbot, tmp_path):
    write_recorded(tmp_path, "figure6", {"plain20": 0.05, "plain56": 0.12})
    write_recorded(tmp_path, "family", {"plain20": 0.05, "plain56": 0.02, "resnet20": 0.04,
                                        "resnet56": 0.02}, epochs=20, subset=None)
    tab = run_briefly(qtbot, tmp_path, ["plain20", "plain56", "resnet20", "resnet56"])

    caption = tab.caption.label.text()
    assert "family" in caption and "20 epochs × the full training set" in caption
    assert "plain56 trains better than plain20" in caption
    assert "resnet56 trains better than resnet20" in caption
    assert sorted(tab.plots.faint.items) == ["plain20", "plain56", "resnet20", "resnet56"]


def test_no_faint_curves_from_other_data(qtbot, tmp_path):
    write_recorded(tmp_path, "figure6", {"plain20": 0.05, "resnet20": 0.04}, dataset="fashion-mnist")
    tab = run_briefly(qtbot, tmp_path, ["plain20", "resnet20"])
    assert not tab.plots.faint.items and not tab.caption.isVisibleTo(tab)


def test_a_recorded_run_is_read_where_it_ends_and_a_live_one_whole(qtbot):
    """A finished run's error axis fits the second half of its curves (the first epochs' spikes may
    leave the top, as in Fig. 6); a live run's shows everything."""
    import numpy as np

    from resnet_explorer.core.recorded_runs import Curves

    plots = CurvePlots()
    qtbot.addWidget(plots)
    x = np.arange(1.0, 11.0)
    spiky = np.array([65, 40, 20, 15, 12, 11, 10, 9, 8.5, 8.0])  # second half (x >= 5): at most 12
    curves = [Curves(name, x, spiky / 30, spiky * scale, spiky * scale) for name, scale in
              (("plain20", 1.0), ("resnet20", 0.8))]
    plots.show_curves(curves)
    for plot in (plots.error_plain, plots.error_res):
        assert 20 <= ranges(plot)[3] < 21  # 1.5 x 12% = 18%, up to the next 10
    plots.set_models({"plain20": False}, epochs=10)  # a live run: the whole range again
    for i, err in enumerate(spiky):
        plots.add_iterations("plain20", [(i + 1.0, 1.0, float(err))])
    plots.auto_range()
    assert 70 <= ranges(plots.error_plain)[3] < 72
