"""The training engine: events, checkpoints, exact resume, pause/stop, compare mode, divergence, DDP."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from resnet_explorer.core import checkpoint, training_state
from resnet_explorer.core.checkpoint import StorageError
from resnet_explorer.core.engine import (
    EpochEvent,
    IterationEvent,
    RunFinished,
    RunStarted,
    TrainConfig,
    TrainingRun,
    train,
)
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.model_file import read_model
from resnet_explorer.core.training_callbacks import TrainingCallback

# Tiny and quick: 8x8 synthetic images, 128 of them, batches of 32 -> 4 steps per epoch.
# One thread: the tests' CPU is shared, and oversubscribed OpenMP threads crawl.
TINY = {"dataset": "synthetic", "image_size": 8, "subset": 128, "batch_size": 32, "threads": 1}


def tiny(tmp_path: Path | None = None, arch: str = "resnet20", **kw) -> TrainConfig:
    options = {**TINY, "epochs": 2, **kw}
    if tmp_path is None:
        options.setdefault("save", False)
    else:
        options.setdefault("out", str(tmp_path / "run"))
    return TrainConfig(arch, **options)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return read_model(path)[0]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def metrics_without_times(history: list[dict]) -> list[dict]:
    timing = {"epoch_time_s", "elapsed_s", "images_per_s"}
    return [{k: v for k, v in row.items() if k not in timing} for row in history]


def same_metrics(a: RunFinished, b: RunFinished, name: str = "resnet20") -> bool:
    return metrics_without_times(a.history[name]) == metrics_without_times(b.history[name])


def test_a_run_reports_events_and_writes_a_loadable_run_directory(tmp_path):
    events = list(TrainingRun(tiny(tmp_path, epochs=2, events_per_second=1e6)).events())
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    started, finished = events[0], events[-1]
    assert started.models == ("resnet20",) and started.steps_per_epoch == 4 and started.n_train == 128
    iterations = [e for e in events if isinstance(e, IterationEvent)]
    assert [e.step for e in iterations[:4]] == [1, 2, 3, 4] and iterations[0].images_per_s > 0
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert [e.epoch for e in epochs] == [1, 2] and all(0 <= e.test_error <= 1 for e in epochs)
    assert finished.status == "completed" and finished.epochs_done == {"resnet20": 2}

    run_dir = tmp_path / "run" / "resnet20"
    rows = training_state.read_metrics_csv(run_dir / "metrics.csv")
    assert [r["epoch"] for r in rows] == [1, 2]
    assert rows[1]["test_error"] == pytest.approx(epochs[1].test_error, rel=1e-5)
    header = (run_dir / "metrics.csv").read_text().splitlines()[0]
    assert header.startswith("epoch,train_loss,train_error,test_loss,test_error")
    state, card = read_model(run_dir / "model.safetensors")
    assert card["model"]["arch"] == "resnet20" and card["epoch"] == 2 and card["dataset"] == "synthetic"
    assert card["preprocessing"]["input_size"] == [3, 8, 8] and len(card["preprocessing"]["mean"]) == 3
    assert card["class_names"][0] == "pattern 0"
    assert card["accuracy"] == pytest.approx(1 - epochs[1].test_error)
    assert (run_dir / "state.safetensors").is_file() and (run_dir / "state.json").is_file()
    assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*"))


def test_the_model_file_loads_with_the_zoo(tmp_path):
    from resnet_explorer.core import zoo  # part of the package: a failing import is a failure, not a skip
    result = train(tiny(tmp_path, epochs=1))
    loaded = zoo.load_model(result.model_files["resnet20"], device="cpu")
    assert loaded.arch == "resnet20" and loaded.class_names[1] == "pattern 1"
    assert tuple(loaded.preprocessing.input_size) == (3, 8, 8)


def test_training_on_a_photo_folder_records_how_to_preprocess_new_photos(tmp_path):
    from PIL import Image

    for cls, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        (tmp_path / "photos" / cls).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (24 + i, 20), colour).save(tmp_path / "photos" / cls / f"{i}.png")
    config = TrainConfig("resnet20", f"imagefolder:{tmp_path / 'photos'}", image_size=8, batch_size=4,
                         epochs=1, threads=1, out=str(tmp_path / "run"))
    result = train(config)
    assert result.status == "completed"
    card = read_model(result.model_files["resnet20"])[1]
    assert card["class_names"] == ["blue", "red"]
    assert card["preprocessing"]["resize"] == 8 and card["preprocessing"]["crop"] == 8
    assert card["preprocessing"]["input_size"] == [3, 8, 8]


def test_imagenet_style_nets_train_with_random_resized_crops():
    run = TrainingRun(tiny(arch="resnet18", epochs=1, subset=64))
    events = list(run.events())
    assert any("augmentation resized-crop + flip" in note for note in events[0].notes)
    assert events[-1].status == "completed" and events[-1].epochs_done == {"resnet18": 1}


def test_cpu_bf16_autocast_trains():
    events = list(TrainingRun(tiny(epochs=1, cpu_bf16=True)).events())
    assert any("bf16 autocast" in note for note in events[0].notes)
    assert events[-1].status == "completed" and 0 <= events[-1].history["resnet20"][0]["test_error"] <= 1


def test_it_learns_the_synthetic_data():
    result = train(TrainConfig("resnet20", "synthetic", epochs=3, subset=1024, batch_size=64, threads=1,
                               save=False))
    history = result.history["resnet20"]
    assert history[-1]["test_error"] < 0.3  # chance is 0.9; about 0.03 in practice
    assert history[-1]["train_error"] < history[0]["train_error"]


def test_the_paper_schedule_divides_the_lr_by_ten_at_half_and_three_quarters():
    result = train(tiny(epochs=4, subset=64))  # 2 steps per epoch, 8 in all
    assert [round(r["lr"], 6) for r in result.history["resnet20"]] == [0.1, 0.1, 0.01, 0.001]


def test_deep_cifar_nets_warm_up_at_lr_001_like_the_paper():
    run = TrainingRun(tiny(arch="resnet110", epochs=1))
    lrs = []
    for event in run.events():
        if isinstance(event, IterationEvent):
            lrs.append(event.lr)
            run.stop()
    assert lrs[0] == pytest.approx(0.01)


def test_two_epochs_straight_equal_one_epoch_stop_and_resume(tmp_path):
    straight = train(tiny(tmp_path / "a", epochs=2))
    run = TrainingRun(tiny(tmp_path / "b", epochs=2))
    stopped = run.run(lambda e: False if isinstance(e, EpochEvent) else None)
    assert stopped.status == "stopped" and stopped.epochs_done == {"resnet20": 1}
    resumed = train(tiny(tmp_path / "b", epochs=2, resume=True))
    assert resumed.status == "completed"
    assert_same_weights(weights(tmp_path / "a/run/resnet20/model.safetensors"),
                        weights(tmp_path / "b/run/resnet20/model.safetensors"))
    assert same_metrics(straight, resumed)


def test_a_stop_mid_epoch_resumes_to_the_same_weights_and_metrics(tmp_path):
    straight = train(tiny(tmp_path / "a", epochs=2))
    run = TrainingRun(tiny(tmp_path / "b", epochs=2, events_per_second=1e6))
    for event in run.events():
        if isinstance(event, IterationEvent) and (event.epoch, event.step) == (2, 2):
            run.stop()
    state = training_state.load_state(tmp_path / "b/run/resnet20")[0]
    assert state["position"] == {"epoch": 1, "step": 2}
    resumed = train(tiny(tmp_path / "b", epochs=2, resume=True))
    assert_same_weights(weights(tmp_path / "a/run/resnet20/model.safetensors"),
                        weights(tmp_path / "b/run/resnet20/model.safetensors"))
    assert same_metrics(straight, resumed)


def pause_resume_stop(run, *, join_s: float = 30.0) -> tuple[list, float]:
    """Consume ``run.events()`` in a thread (as the GUI does); pause after the first step, wait until the
    pause takes hold (``run.holding``) and check that no event arrives, resume and check progress, then
    stop. The events, and how long the stop took."""
    seen: list = []
    first_step = threading.Event()

    def consume() -> None:
        for event in run.events():
            seen.append(event)
            if isinstance(event, IterationEvent):
                first_step.set()

    worker = threading.Thread(target=consume)
    worker.start()
    assert first_step.wait(60)
    run.pause()
    assert run.paused
    deadline = time.monotonic() + 60  # the step in flight finishes first; a loaded machine may be slow
    while not run.holding and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.holding, "the pause never took hold"
    count = len(seen)
    time.sleep(1.0)
    assert len(seen) == count, "events kept coming while paused"
    run.resume()
    deadline = time.monotonic() + 30
    while len(seen) == count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(seen) > count, "no progress after resume"
    assert not run.holding  # said before the first event after the pause
    t0 = time.monotonic()
    run.stop()
    worker.join(join_s)
    assert not worker.is_alive()
    return seen, time.monotonic() - t0


def test_pause_holds_the_run_and_stop_is_honoured_quickly_from_another_thread(tmp_path):
    run = TrainingRun(tiny(tmp_path, epochs=500, events_per_second=1e6))
    seen, stop_s = pause_resume_stop(run)
    assert stop_s < 3.0  # generous: the CPU is shared
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "stopped"
    assert "--resume" in seen[-1].message
    assert training_state.has_state(tmp_path / "run" / "resnet20")  # the checkpoint on stop


def test_compare_mode_trains_each_model_as_it_would_alone(tmp_path):
    both = train(tiny(tmp_path / "cmp", archs=["plain20", "resnet20"], epochs=1))
    alone = train(tiny(tmp_path / "one", epochs=1))
    assert set(both.history) == {"plain20", "resnet20"} and both.epochs_done == {"plain20": 1, "resnet20": 1}
    for name in ("plain20", "resnet20"):
        assert (tmp_path / "cmp/run" / name / "metrics.csv").is_file()
    assert read_model(tmp_path / "cmp/run/plain20/model.safetensors")[1]["model"]["arch"] == "plain20"
    # Same initialisation and same batches: resnet20 in compare mode is resnet20 trained alone.
    assert same_metrics(both, alone)
    assert_same_weights(weights(tmp_path / "cmp/run/resnet20/model.safetensors"),
                        weights(tmp_path / "one/run/resnet20/model.safetensors"))


def test_a_nan_loss_stops_with_the_step_and_cause_and_keeps_the_good_checkpoint(tmp_path):
    # One sane epoch (the warm-up), then an absurd learning rate.
    config = tiny(tmp_path, epochs=3, lr=1e12, warmup_iters=4, warmup_lr=0.05)
    result = train(config)
    assert result.status == "diverged" and not result.ok
    assert "epoch 2, step" in result.message and "learning rate" in result.message
    assert "epoch 1" in result.message  # the checkpoint kept
    state = training_state.load_state(tmp_path / "run" / "resnet20")
    assert state[0]["position"] == {"epoch": 1, "step": 0}
    assert all(torch.isfinite(v).all() for v in state[1].values() if v.is_floating_point())


def test_an_unwritable_out_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot write"):
        list(TrainingRun(tiny(tmp_path, out=str(blocker / "run"))).events())


def test_a_full_disk_is_a_clear_error_and_the_previous_checkpoint_survives(tmp_path, monkeypatch):
    run = TrainingRun(tiny(tmp_path, epochs=3))
    events = run.events()
    for event in events:
        if isinstance(event, EpochEvent):
            break
    good = (tmp_path / "run/resnet20/state.safetensors").read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", no_space)
    with pytest.raises(StorageError, match="disk is full"):
        for _ in events:
            pass
    assert (tmp_path / "run/resnet20/state.safetensors").read_bytes() == good


def test_an_existing_run_is_not_overwritten_by_accident(tmp_path):
    train(tiny(tmp_path, epochs=1))
    with pytest.raises(UserInputError, match="--resume"):
        list(TrainingRun(tiny(tmp_path, epochs=1)).events())
    assert train(tiny(tmp_path, epochs=1, overwrite=True)).status == "completed"
    # Killed before the first checkpoint: --resume starts from the beginning, and says so.
    started = next(TrainingRun(tiny(tmp_path / "elsewhere", resume=True)).events())
    assert started.resumed_from == {"resnet20": 0} and any("nothing to resume" in n for n in started.notes)


def test_resume_refuses_a_run_trained_on_other_data(tmp_path):
    train(tiny(tmp_path, epochs=1))
    with pytest.raises(UserInputError, match="differ from the saved run: seed 0 -> 5"):
        list(TrainingRun(tiny(tmp_path, epochs=2, seed=5, resume=True)).events())


def test_bad_settings_are_user_errors():
    with pytest.raises(UserInputError, match="unknown architecture"):
        TrainingRun(TrainConfig("resnet21", "synthetic"))
    with pytest.raises(UserInputError, match="twice"):
        TrainingRun(TrainConfig("resnet20", "synthetic", archs=["resnet20", "resnet20"]))
    with pytest.raises(UserInputError, match="--epochs"):
        TrainingRun(TrainConfig("resnet20", "synthetic", epochs=0))


# -- several processes (torchrun, gloo on CPU) ------------------------------------------------------------
# 8x8 synthetic images, 128 of them, 16 per batch and process -> 4 steps per epoch; 2 epochs. Each torchrun
# costs ~15 s here, nearly all of it three processes importing torch: one uninterrupted run is shared.
DDP_HELPER = Path(__file__).with_name("ddp_hash_train.py")
DDP_STEPS_PER_EPOCH = 4
MODEL_FILE = Path("resnet20/model.safetensors")


def torchrun(out: Path, *extra: str) -> list[str]:
    """The CLI under ``torchrun --nproc-per-node=2``, each rank hashing its final weights (tests/ only)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
            str(DDP_HELPER), "train", "--arch", "resnet20", "--dataset", "synthetic", "--image-size", "8",
            "--subset", "128", "--batch-size", "16", "--epochs", "2", "--threads", "1", "--out", str(out),
            *extra]


def ddp_env(hashes: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "HASH_DIR": str(hashes), "OMP_NUM_THREADS": "1", **extra}


def rank_files(hashes: Path, suffix: str) -> dict[int, str]:
    """What each rank wrote to ``rank<N>.<suffix>`` (its weights' SHA-256, or its exit status)."""
    return {int(p.stem[len("rank"):]): p.read_text().strip() for p in hashes.glob(f"rank*.{suffix}")}


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """``(out, hashes, process)`` of one uninterrupted 2-process run."""
    root = tmp_path_factory.mktemp("ddp")
    out, hashes = root / "ddp", root / "hashes"
    proc = subprocess.run(torchrun(out), env=ddp_env(hashes), capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, hashes, proc


def test_two_processes_keep_identical_weights_and_write_one_checkpoint(ddp_run):
    out, hashes, proc = ddp_run
    digests = rank_files(hashes, "sha256")
    assert set(digests) == {0, 1} and digests[0] == digests[1]
    assert rank_files(hashes, "exit") == {0: "0", 1: "0"}
    assert sorted(p.name for p in (out / "resnet20").iterdir()) == [
        "metrics.csv", "model.safetensors", "state.json", "state.safetensors"]
    assert len(training_state.read_metrics_csv(out / "resnet20/metrics.csv")) == 2
    for epoch in (1, 2):
        assert proc.stdout.count(f"resnet20 epoch {epoch}/2") == 1  # rank 0 alone reports
    assert "broadcast_buffers" not in proc.stderr  # DDP's deprecation notice is not the user's to read


@pytest.mark.slow
def test_ctrl_c_stops_a_torchrun_job_with_a_checkpoint_and_resume_matches_an_uninterrupted_run(
        tmp_path, ddp_run):
    """Ctrl-C in a terminal signals torchrun's process group; torchrun passes SIGINT on to each worker
    (its own session) once. Every rank stops after the same step and rank 0 saves, mid-epoch.

    Not bit-identical by design: between epoch ends each rank's BatchNorm running statistics follow its own
    shard, and rank 0 alone saves, so the stop saves their average (the epoch's end averages them anyway,
    and the average is linear). The resumed run's BN statistics then equal the uninterrupted run's up to
    rounding; every parameter is bit-identical and metrics.csv the same.
    """
    reference_out = ddp_run[0]
    out, hashes = tmp_path / "ddp", tmp_path / "hashes"
    hold_at = DDP_STEPS_PER_EPOCH + 2  # rank 0 waits for the signal after epoch 2's second step
    stopped = subprocess.Popen(torchrun(out), env=ddp_env(hashes, SIGNAL_AT_STEP=str(hold_at)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # its own process group, as a terminal's job
    try:
        deadline = time.monotonic() + 240
        while not (hashes / "ready").exists():
            assert stopped.poll() is None and time.monotonic() < deadline, stopped.communicate()[1][-3000:]
            time.sleep(0.05)
        os.killpg(stopped.pid, signal.SIGINT)
        output, errors = stopped.communicate(timeout=120)
    finally:
        if stopped.poll() is None:
            os.killpg(stopped.pid, signal.SIGKILL)
            stopped.communicate()
    # Each rank's `resnet-explorer train` stopped cleanly with 130 (torchrun itself exits 1 after a signal).
    assert rank_files(hashes, "exit") == {0: "130", 1: "130"}, errors[-3000:]
    assert "stopped: resnet20 at epoch 1 + 3 steps; continue with --resume" in output, errors[-3000:]
    assert "interrupted" not in errors  # a second SIGINT would have aborted without a checkpoint
    state = training_state.load_state(out / "resnet20")[0]
    assert state["position"] == {"epoch": 1, "step": DDP_STEPS_PER_EPOCH - 1}  # the step under way finished
    assert len(training_state.read_metrics_csv(out / "resnet20/metrics.csv")) == 1

    resumed = subprocess.run(torchrun(out, "--resume"), env=ddp_env(hashes / "resumed"),
                             capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    digests = rank_files(hashes / "resumed", "sha256")
    assert set(digests) == {0, 1} and digests[0] == digests[1]
    expected, got = weights(reference_out / MODEL_FILE), weights(out / MODEL_FILE)
    assert expected.keys() == got.keys()
    for key in expected:
        if key.endswith(("running_mean", "running_var")):
            torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6,
                                       msg=lambda detail, key=key: f"{key}: {detail}")
        else:
            assert torch.equal(got[key], expected[key]), key
    rows = training_state.read_metrics_csv(out / "resnet20/metrics.csv")
    reference_rows = training_state.read_metrics_csv(reference_out / "resnet20/metrics.csv")
    assert metrics_without_times(rows) == metrics_without_times(reference_rows)


def test_the_time_left_counts_evaluations_apart_from_training_steps():
    from resnet_explorer.core.engine import EVAL_IMAGES_PER_STEP_IMAGE
    from resnet_explorer.core.run_state import Timing

    timing = Timing(steps=10, step_s=5.0)  # 0.5 s per step of 64 images, no evaluation measured yet
    guessed = timing.estimate(steps=100, evals=2, n_test=10_000, batch_size=64)
    per_eval = 0.5 * 10_000 / (EVAL_IMAGES_PER_STEP_IMAGE * 64)
    assert guessed == pytest.approx(100 * 0.5 + 2 * per_eval)
    timing.evals, timing.eval_s = 2, 30.0  # measured: 15 s per evaluation
    assert timing.estimate(steps=100, evals=2, n_test=10_000, batch_size=64) == pytest.approx(50 + 30)


def test_each_epoch_event_reports_the_time_left_of_the_whole_job(tmp_path):
    events = list(TrainingRun(tiny(epochs=3)).events())
    etas = [e.eta_s for e in events if isinstance(e, EpochEvent)]
    assert etas[-1] == 0.0 and etas[0] > etas[1] > 0.0


# -- callbacks ----------------------------------------------------------------------------------------------
class Recorder(TrainingCallback):
    """Every hook call, in order, with the number of events the consumer had received by then."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def on_run_start(self, run, event):
        assert isinstance(event, RunStarted) and run.state.members
        self.calls.append("start")

    def on_iteration(self, run, event):
        self.calls.append("iteration")

    def on_epoch_end(self, run, event):
        self.calls.append("epoch")

    def on_run_end(self, run, event):
        self.calls.append(f"end {event.status}")

    def on_hold(self, run, holding):
        self.calls.append(f"hold {holding}")

    def close(self, run):
        self.calls.append("close")


def test_callbacks_see_each_event_before_it_is_yielded_and_are_closed_at_the_end():
    recorder = Recorder()
    run = TrainingRun(tiny(epochs=1, events_per_second=1e6), callbacks=[recorder])
    for i, _event in enumerate(run.events()):
        assert len(recorder.calls) == i + 1  # the hook of event i ran before the consumer got it
    assert recorder.calls == ["start", *["iteration"] * 4, "epoch", "end completed", "close"]


def test_a_pause_takes_hold_between_events_and_the_callbacks_hear_it():
    recorder = Recorder()
    run = TrainingRun(tiny(epochs=1, events_per_second=1e6), callbacks=[recorder])
    events = run.events()
    next(events)  # RunStarted
    next(events)  # the first step's report
    run.pause()
    assert run.paused and not run.holding  # asked, not yet held: the generator is not running
    resumer = threading.Timer(0.2, run.resume)
    resumer.start()
    rest = list(events)  # holds inside the next step until the timer resumes it
    resumer.join()
    assert recorder.calls[:4] == ["start", "iteration", "hold True", "hold False"]
    assert not run.holding and len(rest) == 5  # nothing lost: 3 iterations, the epoch, the end


def test_callbacks_are_closed_when_set_up_fails(tmp_path):
    (tmp_path / "run").write_text("a file where the run directory should go")
    recorder = Recorder()
    with pytest.raises(StorageError):
        list(TrainingRun(tiny(tmp_path), callbacks=[recorder]).events())
    assert recorder.calls == ["close"]


def test_tensorboard_gets_every_metric_of_every_epoch_when_installed(tmp_path, monkeypatch):
    from resnet_explorer.core import training_callbacks

    writers: dict[str, FakeWriter] = {}

    class FakeWriter:
        def __init__(self, folder: str) -> None:
            self.folder, self.scalars, self.closed = folder, [], False
            writers[Path(folder).name] = self

        def add_scalar(self, key: str, value: float, step: int) -> None:
            self.scalars.append((key, step))

        def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(training_callbacks, "tensorboard_installed", lambda: True)
    monkeypatch.setattr(training_callbacks, "_open_writer", FakeWriter)
    train(tiny(tmp_path, epochs=2))
    writer = writers.pop("resnet20")
    assert writer.closed and writer.folder == str(tmp_path / "run" / "resnet20")
    assert {key for key, _ in writer.scalars} == set(training_state.METRIC_COLUMNS) - {"epoch"}
    assert sorted({step for _, step in writer.scalars}) == [1, 2]
    train(tiny(tmp_path / "off", epochs=1, tensorboard=False))
    train(tiny(epochs=1))  # saving nothing: no files, no event files either
    assert not writers


def test_no_test_hook_ships_with_the_engine():
    import resnet_explorer.core as core

    for path in Path(core.__file__).parent.glob("*.py"):
        assert "DEBUG_HASH" not in path.read_text(encoding="utf-8"), path


def test_the_time_left_paces_each_model_apart_and_counts_the_time_between_steps(monkeypatch):
    """A 56-layer net beside a 20-layer one: each model's remaining work at its own pace (pooled, the
    job's average pace ran 25% low in the degradation demo), scaled by the wall time the steps and
    evaluations did not account for (checkpoints, events)."""
    from types import SimpleNamespace

    from resnet_explorer.core import engine
    from resnet_explorer.core.run_state import Timing

    fast = SimpleNamespace(epoch=2, step=0, timing=Timing(steps=10, step_s=1.0, evals=1, eval_s=2.0))
    slow = SimpleNamespace(epoch=1, step=0, timing=Timing(steps=10, step_s=3.0, evals=1, eval_s=6.0))
    fresh = SimpleNamespace(epoch=0, step=0, timing=Timing())  # not stepped in this session yet
    pooled = Timing(steps=20, step_s=4.0, evals=2, eval_s=8.0)
    state = SimpleNamespace(members=[fast, slow], timing=pooled, started_at=100.0, paused_s=5.0)
    run = SimpleNamespace(config=SimpleNamespace(epochs=3, batch_size=64),
                          setup=SimpleNamespace(steps=10, test_split=[0] * 640), state=state)
    run._overhead = lambda: engine.TrainingRun._overhead(run)
    # 12 s measured; 100 + 5 paused + 12 = 117: nothing outside the steps and evaluations.
    monkeypatch.setattr(engine.time, "perf_counter", lambda: 117.0)
    # fast: 10 steps x 0.1 s + 1 evaluation x 2 s = 3 s; slow: 20 x 0.3 + 2 x 6 = 18 s (pooled: 18 s).
    assert engine.TrainingRun._eta(run) == pytest.approx(3.0 + 18.0)
    monkeypatch.setattr(engine.time, "perf_counter", lambda: 117.0 + 6.0)  # 6 s more went elsewhere
    assert engine.TrainingRun._eta(run) == pytest.approx(21.0 * 18.0 / 12.0)
    state.members.append(fresh)  # the job's pace (0.2 s a step, 4 s an evaluation) until it steps
    monkeypatch.setattr(engine.time, "perf_counter", lambda: 117.0)
    assert engine.TrainingRun._eta(run) == pytest.approx(21.0 + 30 * 0.2 + 3 * 4.0)
