"""The Train tab: live training through the real engine (synthetic data), controls, errors, exports."""

from __future__ import annotations

import ast
import errno
import gc
import importlib
import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytestqt  # noqa: F401 - a declared test dependency (the qtbot fixture): missing is an error, not a skip

from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunFinished, RunStarted
from resnet_explorer.core.recorded_runs import read_metrics_csv
from resnet_explorer.gui.views import train as train_views
from resnet_explorer.gui.views.train import form, session
from resnet_explorer.gui.views.train import plots as train_plots
from resnet_explorer.gui.views.train.plots import BinnedSeries
from resnet_explorer.gui.views.train.progress import RunProgress, evaluation_weight
from resnet_explorer.gui.views.train.tab import TrainTab
from resnet_explorer.gui.workers import error_line

ROOT = Path(__file__).resolve().parents[2]
LONG = 60_000  # ms: generous bounds for a shared, slow CI machine; never asserted as durations


def curve_points(tab: TrainTab) -> int:
    return sum(len(m.loss) for m in tab.plots.models.values())


@pytest.fixture
def tab(qtbot, tmp_path):
    widget = TrainTab(runs_root=tmp_path / "runs")
    qtbot.addWidget(widget)
    # Tiny synthetic job: 16 steps per epoch, far more epochs than a test ever waits for.
    widget.configure(archs=["resnet20"], dataset="synthetic", subset=256, epochs=200, batch_size=16,
                     lr=0.05, device="cpu", out_dir=str(tmp_path / "out"))
    yield widget
    widget.shutdown()


def test_live_curves_pause_resume_stop_then_open_in_predict(qtbot, tab):
    on_gui_thread = []
    add_iterations = tab.plots.add_iterations

    def spy(*args):  # curves must only ever be touched in the GUI thread
        on_gui_thread.append(threading.current_thread() is threading.main_thread())
        add_iterations(*args)

    tab.plots.add_iterations = spy
    with qtbot.waitSignal(tab.running_changed, timeout=LONG) as started:
        tab.start_training()
    assert started.args == [True]
    assert not tab.session.start_button.isEnabled() and not tab.form.dataset.isEnabled()

    qtbot.waitUntil(lambda: curve_points(tab) >= 3, timeout=LONG)
    assert list(tab.plots.models) == ["resnet20"]

    assert on_gui_thread and all(on_gui_thread)
    assert gc.get_freeze_count() > 0  # full garbage collections would stall the live curves (memory.py)

    tab.toggle_pause()
    qtbot.waitUntil(lambda: tab.session._worker.paused, timeout=LONG)
    assert tab.session.pause_button.text() == "Resume"
    qtbot.wait(300)  # the pause took hold after the last event: let its queued signal land
    frozen = curve_points(tab)
    qtbot.wait(1000)
    assert curve_points(tab) == frozen, "curves grew while paused"

    tab.toggle_pause()
    qtbot.waitUntil(lambda: curve_points(tab) > frozen, timeout=LONG)

    with qtbot.waitSignal(tab.running_changed, timeout=LONG) as stopped:
        tab.stop_training()
    assert stopped.args == [False]
    assert gc.get_freeze_count() == 0  # thawed: the run's leftovers can be collected again
    assert tab.session.start_button.isEnabled() and tab.form.dataset.isEnabled()
    assert tab.session.progress.format() == "Stopped"
    assert tab.message.isVisibleTo(tab) and "stopped" in tab.message.text().lower()

    # The engine keeps a checkpoint on stop; one click opens it in Predict.
    assert tab.predict_button.isEnabled()
    with qtbot.waitSignal(tab.open_checkpoint, timeout=LONG) as opened:
        tab.predict_button.click()
    path = Path(opened.args[0])
    assert path.name == "model.safetensors" and path.parent.name == "resnet20" and path.is_file()


def test_shutdown_mid_training_stops_the_thread_and_keeps_a_checkpoint(qtbot, tab, tmp_path):
    tab.start_training()
    qtbot.waitUntil(lambda: curve_points(tab) >= 2, timeout=LONG)
    thread = tab.session._thread

    tab.shutdown(timeout_ms=LONG)

    assert not tab.running and thread.isFinished()
    assert not session._ORPHANS
    assert list((tmp_path / "out").glob("*/resnet20/model.safetensors"))
    assert tab.session.start_button.isEnabled()


def test_a_killed_training_process_is_one_line_and_the_window_lives_on(qtbot, tab):
    tab.start_training()
    qtbot.waitUntil(lambda: curve_points(tab) >= 1, timeout=LONG)
    pid = tab.session._worker._run.pid
    assert pid is not None and pid != os.getpid()  # training runs in a child process

    with qtbot.waitSignal(tab.running_changed, timeout=LONG, check_params_cb=lambda running: not running):
        os.kill(pid, signal.SIGKILL)

    text = tab.message.text()
    assert "killed" in text and "resume" in text and "\n" not in text
    assert tab.session.start_button.isEnabled() and tab.form.dataset.isEnabled()


def test_missing_dataset_is_a_message_not_a_traceback(qtbot, tab, tmp_path):
    tab.configure(dataset=f"imagefolder:{tmp_path / 'no-such-folder'}")
    with qtbot.waitSignal(tab.running_changed, timeout=LONG, check_params_cb=lambda running: not running):
        tab.start_training()
    text = tab.message.text()
    assert tab.message.isVisibleTo(tab) and "no-such-folder" in text
    assert "Traceback" not in text and "\n" not in text
    assert tab.session.start_button.isEnabled() and tab.form.dataset.isEnabled()


@dataclass
class ScriptedRun:
    """Stands in for the engine where the real one cannot be made to fail on demand."""

    config: object
    fail: BaseException | None = None
    events_out: list = field(default_factory=list)

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...

    def events(self):
        if self.fail is not None:
            raise self.fail
        yield from self.events_out


def finished(status: str, message: str) -> RunFinished:
    """The engine's last event, as a run that never wrote a model would send it."""
    return RunFinished(status=status, message=message, out_dir=None, epochs_done={}, history={},
                       model_files={}, elapsed_s=0.0)


@pytest.mark.parametrize(("outcome", "expected"), [
    (finished("diverged", "resnet20: the training loss became NaN at epoch 1"), "became NaN"),
    (OSError(errno.ENOSPC, "No space left on device"), "disk is full"),
])
def test_engine_failures_show_one_clear_line(qtbot, tmp_path, outcome, expected):
    if isinstance(outcome, BaseException):
        factory = lambda config: ScriptedRun(config, fail=outcome)  # noqa: E731
    else:
        factory = lambda config: ScriptedRun(config, events_out=[outcome])  # noqa: E731
    widget = TrainTab(run_factory=factory)
    qtbot.addWidget(widget)
    widget.configure(archs=["resnet20"], dataset="synthetic", out_dir=str(tmp_path))
    with qtbot.waitSignal(widget.running_changed, timeout=LONG, check_params_cb=lambda running: not running):
        widget.start_training()
    assert expected in widget.message.text()
    assert "#b3261e" in widget.message.styleSheet()  # shown as an error, not as information
    assert widget.session.start_button.isEnabled()


FIG6_ARCHS = ["plain20", "plain56", "resnet20", "resnet56"]
FAMILY = ["plain20", "plain32", "plain44", "plain56", "resnet20", "resnet32", "resnet44", "resnet56",
          "resnet110"]


def test_degradation_preset_fills_the_form(qtbot):
    widget = TrainTab()
    qtbot.addWidget(widget)
    widget.configure(archs=["resnet110"], dataset="synthetic", subset=100, epochs=1, batch_size=16, lr=0.3)

    widget.form.demo_button.click()

    # Fig. 6 in miniature, as the button's tooltip and the README promise: the four nets of the figure on
    # 2,000 Fashion-MNIST images, 3 epochs, batch 64 at lr 0.05 (the paper's 128 / 0.1 scaled), option A.
    values = widget.form.values()
    assert values["archs"] == FIG6_ARCHS
    assert values["dataset"] == "fashion-mnist"
    assert (values["subset"], values["epochs"], values["batch_size"]) == (2000, 3, 64)
    assert values["lr"] == pytest.approx(0.05)
    assert values["shortcut"] == "A"
    config = form.make_config(values)
    assert config.models == FIG6_ARCHS and config.dataset == "fashion-mnist" and config.shortcut == "A"
    assert (config.subset, config.epochs, config.batch_size, config.lr) == (2000, 3, 64, pytest.approx(0.05))


def test_zero_initialised_branches_are_a_choice_of_the_form_that_reaches_the_run(qtbot):
    widget = TrainTab()
    qtbot.addWidget(widget)
    widget.configure(archs=["plain20", "resnet20"], dataset="synthetic")
    assert form.make_config(widget.form.values()).zero_init_residual is False  # He init, as the paper
    widget.form.zero_init.setChecked(True)
    config = form.make_config(widget.form.values())
    assert config.zero_init_residual is True and config.models == ["plain20", "resnet20"]
    widget.form.set_running(True)
    assert not widget.form.zero_init.isEnabled()  # a run's settings are locked while it trains
    widget.form.set_running(False)
    widget.form.configure(zero_init_residual=False)
    assert not widget.form.zero_init.isChecked()


@pytest.mark.dataset
@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").is_file(),
                    reason="needs Debian's dataset-fashion-mnist (apt install dataset-fashion-mnist)")
def test_degradation_preset_trains_all_four_nets(qtbot, tmp_path):
    """One click on the preset and Start: the engine trains the four nets of Fig. 6 on real data."""
    widget = TrainTab(runs_root=tmp_path / "runs")
    qtbot.addWidget(widget)
    widget.form.demo_button.click()
    widget.configure(device="cpu", out_dir=str(tmp_path / "out"))
    try:
        with qtbot.waitSignal(widget.running_changed, timeout=LONG):
            widget.start_training()
        # Compare mode interleaves the nets step by step: after one step each, all four have curves.
        drawn = lambda: sorted(m for m, c in widget.plots.models.items() if len(c.loss))  # noqa: E731
        qtbot.waitUntil(lambda: drawn() == FIG6_ARCHS, timeout=4 * LONG)
        config = json.loads(next((tmp_path / "out").glob("*/config.json")).read_text(encoding="utf-8"))
    finally:
        widget.shutdown(timeout_ms=LONG)
    assert config["archs"] == FIG6_ARCHS and config["dataset"] == "fashion-mnist"
    assert (config["subset"], config["epochs"], config["batch_size"]) == (2000, 3, 64)
    assert config["lr"] == pytest.approx(0.05) and config["shortcut"] == "A"


def write_recorded_run(root: Path) -> None:
    from resnet_explorer.core.recorded_runs import DEFAULT_RUN  # what "Show recorded run" loads
    from resnet_explorer.core.training_state import METRIC_COLUMNS  # the engine's own header

    header = ",".join(METRIC_COLUMNS)
    assert header.startswith("epoch,train_loss,train_error,test_loss,test_error,test_top5_error,lr,")
    for name, base in (("plain20", 0.30), ("plain56", 0.40), ("resnet20", 0.25), ("resnet56", 0.20)):
        rows = [f"{e},{1.5 / e:.4f},{base / e:.4f},{1.6 / e:.4f},{(base + 0.05) / e:.4f},,0.1,1,{e},100"
                for e in range(1, 6)]
        directory = root / DEFAULT_RUN / name
        directory.mkdir(parents=True)
        (directory / "metrics.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


def test_recorded_run_is_drawn_at_once_and_exports(qtbot, tmp_path):
    widget = TrainTab(runs_root=tmp_path / "runs")
    qtbot.addWidget(widget)
    widget.show_recorded_run()
    assert "No recorded run" in widget.message.text() and not widget.plots.has_data()

    write_recorded_run(tmp_path / "runs")
    widget.show_recorded_run()
    assert list(widget.plots.models) == ["plain20", "plain56", "resnet20", "resnet56"]
    assert widget.plots.models["plain56"].test_error == pytest.approx([45.0, 22.5, 15.0, 11.25, 9.0])
    assert widget.export_csv_button.isEnabled() and widget.export_png_button.isEnabled()

    csv_path, png_path = tmp_path / "curves.csv", tmp_path / "curves.png"
    assert widget.export_csv(csv_path) and widget.export_png(png_path)

    back = read_metrics_csv(csv_path)  # the exported CSV reads back as a recorded run
    assert sorted(back) == ["plain20", "plain56", "resnet20", "resnet56"]
    assert list(back["resnet56"].test_error) == pytest.approx([25.0, 12.5, 25 / 3, 6.25, 5.0], abs=0.01)
    from PIL import Image

    with Image.open(png_path) as image:
        assert image.width >= 1000 and image.height > 300


def _shipped_csv(model: str) -> dict[str, list[float]]:
    import csv

    path = ROOT / "assets" / "runs" / "family" / model / "metrics.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    columns = ("epoch", "train_loss", "train_error", "test_error")
    return {key: [float(r[key]) for r in rows] for key in columns}


def test_show_recorded_run_draws_the_shipped_family_curves(qtbot):
    """The button with the run shipped in assets/runs (no runs_root: what a user's click loads)."""
    widget = TrainTab()
    qtbot.addWidget(widget)
    widget.show_recorded_run()

    assert "family" in widget.message.text() and "9 models" in widget.message.text()
    # The family's result in numbers (the shipped curves' last training errors): degradation, and the fix.
    final = {name: 100 * _shipped_csv(name)["train_error"][-1] for name in ("plain20", "plain56", "resnet20",
                                                                              "resnet110")}
    assert (f"Final training error: plain56 trains worse than plain20 ({final['plain56']:.1f}% vs "
            f"{final['plain20']:.1f}%); resnet110 trains better than resnet20 ({final['resnet110']:.1f}% vs "
            f"{final['resnet20']:.1f}%).") in widget.message.text()
    assert list(widget.plots.models) == FAMILY  # plain nets first, by depth: the paper's legend
    for name, curves in widget.plots.models.items():
        shipped = _shipped_csv(name)
        x, loss = curves.items["loss"].getData()
        assert list(x) == shipped["epoch"] and list(loss) == pytest.approx(shipped["train_loss"])
        x, train = curves.items["train_error"].getData()
        assert list(x) == shipped["epoch"]
        assert list(train) == pytest.approx([100 * e for e in shipped["train_error"]])  # in %, as Fig. 6
        x, test = curves.items["test_error"].getData()
        assert list(x) == shipped["epoch"]
        assert list(test) == pytest.approx([100 * e for e in shipped["test_error"]])
    # Each curve sits in its column: plain nets left, ResNets right.
    plain = {id(i) for i in widget.plots.error_plain.listDataItems()}
    residual = {id(i) for i in widget.plots.error_res.listDataItems()}
    assert id(widget.plots.models["plain56"].items["test_error"]) in plain
    # Each column's key names its models and sits above its plots, never over a curve.
    widget.resize(1024, 700)
    widget.show()
    qtbot.waitExposed(widget)
    for residual_column, (error_plot, loss_plot) in ((False, widget.plots._plots_for(False)),
                                                     (True, widget.plots._plots_for(True))):
        legend = widget.plots.legends[residual_column]
        names = {label.text for _, label in legend.items}
        wanted = {n for n, m in widget.plots.models.items() if m.residual == residual_column}
        assert wanted <= names
        for plot in (error_plot, loss_plot):
            assert not legend.sceneBoundingRect().intersects(plot.vb.sceneBoundingRect())
    assert id(widget.plots.models["resnet56"].items["test_error"]) in residual
    assert widget.export_csv_button.isEnabled() and widget.export_png_button.isEnabled()


def test_export_to_an_unwritable_place_is_a_message(qtbot, tmp_path):
    widget = TrainTab(runs_root=tmp_path / "runs")
    qtbot.addWidget(widget)
    write_recorded_run(tmp_path / "runs")
    widget.show_recorded_run()
    assert not widget.export_csv(tmp_path / "missing-dir" / "curves.csv")
    assert "Could not save" in widget.message.text()


def test_every_plot_has_a_one_sentence_tooltip(qtbot):
    plots = train_plots.CurvePlots()
    qtbot.addWidget(plots)
    for plot in plots.all_plots:
        tip = plot.toolTip()
        assert tip.endswith(".") and tip.count(". ") == 0 and len(tip) > 30


def test_binned_series_stays_bounded_and_keeps_the_mean():
    series = BinnedSeries(max_points=100)
    for i in range(10_000):
        series.append(float(i), 1.0 if i % 2 else 3.0)
    xs, ys = series.arrays()
    assert len(xs) <= 101 and xs[-1] == 9999.0
    assert ys.mean() == pytest.approx(2.0, abs=0.05)


def test_friendly_error_maps_disk_full_and_unknown_errors():
    assert "disk is full" in error_line(OSError(errno.ENOSPC, "No space left"), training=True)
    message = error_line(RuntimeError("boom\nwith a second line"), training=True)
    assert message.endswith("boom")


def _literal_strings(path: Path) -> set[str]:
    """String literals passed to tr(...), label(...) or as the text of self._t(setter, text)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        args = node.args[:1] if name in ("tr", "label") else node.args[1:2] if name == "_t" else []
        found |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found


def test_every_train_tab_string_has_a_korean_translation(qtbot, monkeypatch):
    seen: set[str] = set()

    def spy(text: str) -> str:
        seen.add(text)
        return text

    package = Path(train_views.__file__).parent
    for path in sorted(package.glob("*.py")):
        module = importlib.import_module(f"{train_views.__name__}.{path.stem}")
        if hasattr(module, "tr"):
            monkeypatch.setattr(module, "tr", spy)
    widget = TrainTab()
    qtbot.addWidget(widget)
    widget.retranslate()
    for path in [*sorted(package.glob("*.py")), ROOT / "resnet_explorer" / "gui" / "train_worker.py"]:
        seen |= _literal_strings(path)
    table = json.loads((ROOT / "assets" / "i18n" / "ko_train.json").read_text(encoding="utf-8"))

    missing = sorted(s for s in seen if s not in table and not s.isdigit())
    assert not missing, f"add to assets/i18n/ko_train.json: {missing}"
    for english, korean in table.items():  # placeholders survive translation
        assert set(_fields(english)) == set(_fields(korean)), english


def _fields(text: str) -> list[str]:
    import string

    return [f for _, f, _, _ in string.Formatter().parse(text) if f]


def run_started(models: tuple[str, ...], *, epochs: int, steps_per_epoch: int = 10, n_train: int,
                n_test: int) -> RunStarted:
    """The engine's first event for a fresh run of ``models``."""
    return RunStarted(models=models, dataset="synthetic", epochs=epochs, steps_per_epoch=steps_per_epoch,
                      n_train=n_train, n_test=n_test, class_names=tuple("abcdefghij"), input_size=(3, 16, 16),
                      device="cpu", world_size=1, threads=1, out_dir=None,
                      resumed_from=dict.fromkeys(models, 0), history={m: [] for m in models}, notes=())


def iteration(model: str, *, epoch: int, progress: float, global_step: int,
              images_per_s: float = 100.0) -> IterationEvent:
    """One throttled progress report of ``model`` (10 steps per epoch)."""
    return IterationEvent(model=model, epoch=epoch, epochs=2, step=global_step - 10 * (epoch - 1),
                          steps_per_epoch=10, global_step=global_step, progress=progress, loss=1.0,
                          accuracy=0.5, lr=0.1, images_per_s=images_per_s)


def epoch_done(model: str, epoch: int, eta_s: float) -> EpochEvent:
    """The end of an epoch of ``model``, with the engine's estimate of the time left."""
    return EpochEvent(model=model, epoch=epoch, epochs=2, train_loss=1.0, train_error=0.5, test_loss=1.1,
                      test_error=0.55, test_top5_error=0.1, lr=0.1, epoch_time_s=10.0, elapsed_s=12.0,
                      eta_s=eta_s, images_per_s=100.0, checkpoint=None)


def test_progress_counts_the_evaluations_as_work():
    from resnet_explorer.core.engine import EVAL_IMAGES_PER_STEP_IMAGE as RATIO  # 2.5

    weight = evaluation_weight(run_started(("resnet20",), epochs=1, n_train=3000, n_test=10_000))
    assert weight == pytest.approx(10_000 / (RATIO * 3000))
    progress = RunProgress()
    progress.begin(["plain20", "resnet20"], epochs=2, batch_size=100)
    # 2,500 test images cost what 1,000 training images do: one evaluation weighs one epoch.
    progress.started(run_started(("plain20", "resnet20"), epochs=2, n_train=1000, n_test=round(RATIO * 1000)))
    assert progress.eval_weight == pytest.approx(1.0)
    for model in ("plain20", "resnet20"):
        progress.iteration(iteration(model, epoch=1, progress=1.0, global_step=10))
    assert progress.fraction == pytest.approx(0.25)  # trained one epoch each, nothing evaluated yet
    for model in ("plain20", "resnet20"):
        progress.epoch_done(epoch_done(model, 1, eta_s=60.0))
    assert progress.fraction == pytest.approx(0.5)


def test_time_left_is_the_engines_own_figure():
    progress = RunProgress()
    progress.begin(["resnet20"], epochs=2, batch_size=100)
    progress.started(run_started(("resnet20",), epochs=2, n_train=1000, n_test=250))
    progress.iteration(iteration("resnet20", epoch=1, progress=0.1, global_step=1, images_per_s=5.0))
    assert progress.eta_s() is None  # the first step (warm-up) is only a baseline
    progress.iteration(iteration("resnet20", epoch=1, progress=0.5, global_step=5, images_per_s=100.0))
    # Before the first epoch ends, the engine's rule from its per-step pace (100 images at 100/s = 1 s):
    # 15 steps left, and 2 evaluations of 250 images at 1/2.5 of a step's image each (1 step each).
    assert progress.eta_s() == pytest.approx(15 * 1.0 + 2 * 1.0)

    progress.epoch_done(epoch_done("resnet20", 1, eta_s=40.0))
    assert progress.eta_s() == pytest.approx(40.0)  # the engine's figure, measured evaluations and all
    at_epoch = progress.fraction
    progress.iteration(iteration("resnet20", epoch=2, progress=1.5, global_step=15))
    assert progress.fraction > at_epoch
    assert progress.eta_s() == pytest.approx(40.0 * (1 - progress.fraction) / (1 - at_epoch))


class PausesAfterFirstEpoch:
    """The real engine in the worker thread, pausing itself when its first epoch ends (before it yields
    that epoch): the test's Stop then lands after exactly one epoch, however fast or slow the machine."""

    def __init__(self, config, *, pause: bool) -> None:
        from resnet_explorer.core.engine import TrainingRun

        self.config = config
        self.run = TrainingRun(config)
        self._pause = pause

    def events(self):
        for event in self.run.events():
            if self._pause and isinstance(event, EpochEvent):
                self._pause = False
                self.run.pause()
            yield event

    def pause(self) -> None:
        self.run.pause()

    def resume(self) -> None:
        self.run.resume()

    def stop(self) -> None:
        self.run.stop()

    @property
    def paused(self) -> bool:
        return self.run.paused


def test_stopped_run_resumes_from_the_window_in_the_same_folder(qtbot, tmp_path, monkeypatch):
    made = []

    def factory(config):
        made.append(config)
        return PausesAfterFirstEpoch(config, pause=len(made) == 1)

    widget = TrainTab(run_factory=factory, runs_root=tmp_path / "runs")
    qtbot.addWidget(widget)
    widget.configure(archs=["resnet20"], dataset="synthetic", subset=64, epochs=3, batch_size=16, lr=0.05,
                     device="cpu", out_dir=str(tmp_path / "out"))
    try:
        widget.start_training()
        curves = lambda: widget.plots.models.get("resnet20")  # noqa: E731
        qtbot.waitUntil(lambda: curves() is not None and curves().test_x == [1.0], timeout=LONG)
        qtbot.waitUntil(lambda: widget.session._worker.paused, timeout=LONG)
        with qtbot.waitSignal(widget.running_changed, timeout=LONG, check_params_cb=lambda r: not r):
            widget.session.stop_button.click()
        out = widget.session.out_dir
        assert "Resume run" in widget.message.text()  # the stop says how to go on

        asked = []

        def choose(parent, title, start):  # the folder chooser offers the run just stopped
            asked.append(start)
            return start

        monkeypatch.setattr("resnet_explorer.gui.views.train.tab.QFileDialog.getExistingDirectory", choose)
        with qtbot.waitSignal(widget.running_changed, timeout=LONG, check_params_cb=lambda r: not r):
            widget.session.resume_run_button.click()
    finally:
        widget.shutdown(timeout_ms=LONG)

    assert asked == [str(out)]
    assert len(made) == 2 and made[1].resume and Path(made[1].out) == out
    assert "finished" in widget.message.text().lower()
    assert [p.name for p in (tmp_path / "out").iterdir()] == [out.name]  # no second run folder
    metrics = read_metrics_csv(out / "resnet20" / "metrics.csv", default_name="resnet20")["resnet20"]
    assert list(metrics.x) == [1.0, 2.0, 3.0]
    # The resumed run's curves start with the epoch trained before the stop (from its history).
    assert widget.plots.models["resnet20"].test_x == [1.0, 2.0, 3.0]


def test_resume_from_a_folder_without_a_run_is_one_line(qtbot, tmp_path):
    widget = TrainTab(runs_root=tmp_path / "runs")
    qtbot.addWidget(widget)
    runs = tmp_path / "saved"
    (runs / "20260101-120000").mkdir(parents=True)
    (runs / "20260101-120000" / "config.json").write_text("{}", encoding="utf-8")

    assert not widget.resume_run(runs)  # the "Save runs in" folder, not a run's own folder

    text = widget.message.text()
    assert "no config.json" in text and "20260101-120000" in text and "\n" not in text
    assert "#b3261e" in widget.message.styleSheet() and not widget.running
    assert not widget.resume_run(tmp_path / "missing")
    assert "not a folder" in widget.message.text()
