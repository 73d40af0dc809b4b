"""Run directories: one run at a time, nothing overwritten by accident, resume exact after every stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from resnet_explorer.cli import main
from resnet_explorer.core import training_state
from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunStarted, TrainingRun, train
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.resnet import ResNet
from resnet_explorer.core.train_process import ProcessRun, TrainingProcessError
from tests.core.test_engine import assert_same_weights, same_metrics, tiny, weights

MODEL = "run/resnet20/model.safetensors"


def straight(tmp_path: Path, **kw):
    """The reference: the same run, never interrupted."""
    return train(tiny(tmp_path / "straight", **kw))


def assert_resumes_exactly(tmp_path: Path, reference, **kw) -> None:
    resumed = train(tiny(tmp_path / "stopped", resume=True, **kw))
    assert resumed.status == "completed"
    assert_same_weights(weights(tmp_path / "straight" / MODEL), weights(tmp_path / "stopped" / MODEL))
    assert same_metrics(reference, resumed)


# -- exact resume -----------------------------------------------------------------------------------------
def test_a_stop_that_arrives_during_the_forward_pass_still_resumes_exactly(tmp_path):
    """The race a signal can hit: stop() while a step's forward pass runs (BatchNorm already updated)."""
    reference = straight(tmp_path)
    run = TrainingRun(tiny(tmp_path / "stopped"))
    forwards = {"n": 0}

    def stop_on_sixth_forward(module, args, output):
        if isinstance(module, ResNet) and module.training:
            forwards["n"] += 1
            if forwards["n"] == 6:  # epoch 2, step 2 (4 steps per epoch)
                run.stop()

    handle = torch.nn.modules.module.register_module_forward_hook(stop_on_sixth_forward)
    try:
        finished = run.run()
    finally:
        handle.remove()
    assert finished.status == "stopped"
    state = training_state.load_state(tmp_path / "stopped/run/resnet20")[0]
    assert state["position"] == {"epoch": 1, "step": 2}  # the step whose forward ran was completed
    assert_resumes_exactly(tmp_path, reference)


def test_the_windows_stop_mid_epoch_resumes_exactly(tmp_path):
    reference = straight(tmp_path)
    run = ProcessRun(tiny(tmp_path / "stopped", events_per_second=1e6))
    for event in run.events():
        if isinstance(event, IterationEvent) and (event.epoch, event.step) == (2, 1):
            run.stop()
    assert_resumes_exactly(tmp_path, reference)


def test_kill_9_after_a_checkpoint_resumes_exactly(tmp_path):
    reference = straight(tmp_path)
    run = ProcessRun(tiny(tmp_path / "stopped"))
    with pytest.raises(TrainingProcessError, match="killed by signal 9"):
        for event in run.events():
            if isinstance(event, EpochEvent) and event.epoch == 1:
                os.kill(run.pid, signal.SIGKILL)
    assert_resumes_exactly(tmp_path, reference)


def cli_train(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "resnet_explorer", "train", "--arch", "resnet20", "--dataset", "synthetic",
            "--image-size", "8", "--subset", "512", "--batch-size", "32", "--threads", "1", "--epochs", "3",
            "--out", str(out), *extra]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_command_with_a_checkpoint_and_resume_is_exact(tmp_path, signum):
    reference = train(tiny(tmp_path / "straight", subset=512, epochs=3))
    out = tmp_path / "stopped" / "run"
    proc = subprocess.Popen(cli_train(out), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not (out / "resnet20" / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signum)  # in epoch 2's steps or its evaluation
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, output
    assert "stopped: resnet20 at epoch" in output and "--resume" in output
    resumed = subprocess.run(cli_train(out, "--resume"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_weights(weights(tmp_path / "straight" / MODEL), weights(out / "resnet20/model.safetensors"))
    rows = training_state.read_metrics_csv(out / "resnet20" / "metrics.csv")
    expected = reference.history["resnet20"]
    assert [round(r["test_error"], 6) for r in rows] == [float(f"{r['test_error']:.6g}") for r in expected]


# -- one run at a time ------------------------------------------------------------------------------------
def test_a_second_run_into_a_directory_in_use_is_refused_naming_the_holder(tmp_path):
    first = TrainingRun(tiny(tmp_path, epochs=50))
    events = first.events()
    assert isinstance(next(events), RunStarted)  # the first run now holds the directory
    with pytest.raises(UserInputError, match=rf"in use by another training run \(pid {os.getpid()}\)"):
        list(TrainingRun(tiny(tmp_path, resume=True)).events())
    first.stop()
    list(events)  # the first run ends and lets go
    finished = train(tiny(tmp_path, epochs=1, resume=True))
    assert finished.status == "completed"


def test_a_second_command_into_a_directory_in_use_exits_with_one_line(tmp_path, capsys):
    holder = TrainingRun(tiny(tmp_path, epochs=50))
    events = holder.events()
    next(events)
    try:
        code = main(["train", "--arch", "resnet20", "--dataset", "synthetic", "--out", str(tmp_path / "run"),
                     "--overwrite"])
    finally:
        holder.stop()
        list(events)
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1 and f"pid {os.getpid()}" in err


# -- nothing overwritten ----------------------------------------------------------------------------------
def test_a_run_still_in_its_first_epoch_is_not_overwritten_without_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(tiny(tmp_path).to_dict()))  # a run killed in epoch 1
    with pytest.raises(UserInputError, match="already holds a training run"):
        list(TrainingRun(tiny(tmp_path)).events())


def test_a_run_of_another_architecture_is_not_overwritten_and_overwrite_clears_it(tmp_path):
    train(tiny(tmp_path, epochs=1))
    with pytest.raises(UserInputError, match=r"already holds a training run \(config.json, resnet20\)"):
        list(TrainingRun(tiny(tmp_path, arch="plain20", epochs=1)).events())
    assert (tmp_path / MODEL).is_file()
    train(tiny(tmp_path, arch="plain20", epochs=1, overwrite=True))
    assert not (tmp_path / MODEL).exists() and (tmp_path / "run/plain20/model.safetensors").is_file()


def test_resume_with_contradicting_options_is_refused_listing_each_and_changes_nothing(tmp_path, capsys):
    train(tiny(tmp_path, epochs=1))
    config = (tmp_path / "run/config.json").read_bytes()
    code = main(["train", "--resume", "--out", str(tmp_path / "run"), "--arch", "plain20", "--lr", "0.5"])
    err = capsys.readouterr().err
    assert code != 0
    assert "arch resnet20 -> plain20" in err and "lr 0.1 -> 0.5" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "run/config.json").read_bytes() == config


def test_resume_may_change_how_it_runs_but_not_what_it_computes(tmp_path):
    train(tiny(tmp_path, epochs=1))
    finished = train(tiny(tmp_path, epochs=2, threads=2, eval_batch_size=7, resume=True))
    assert finished.status == "completed" and finished.epochs_done == {"resnet20": 2}


def test_resume_without_the_state_never_starts_over_silently(tmp_path):
    train(tiny(tmp_path, epochs=1))
    (tmp_path / "run/resnet20/state.safetensors").unlink()
    before = (tmp_path / MODEL).read_bytes()
    with pytest.raises(UserInputError, match="state.safetensors is missing"):
        list(TrainingRun(tiny(tmp_path, resume=True)).events())
    assert (tmp_path / MODEL).read_bytes() == before


# -- damaged state ----------------------------------------------------------------------------------------
def test_flipped_bytes_in_the_state_are_refused_with_one_line(tmp_path):
    train(tiny(tmp_path, epochs=1))
    path = tmp_path / "run/resnet20/state.safetensors"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF  # inside the tensors, after the header
    path.write_bytes(bytes(data))
    with pytest.raises(UserInputError, match="damaged") as raised:
        list(TrainingRun(tiny(tmp_path, resume=True)).events())
    assert "\n" not in str(raised.value)


def test_a_damaged_state_header_is_one_short_line(tmp_path):
    train(tiny(tmp_path, epochs=1))
    path = tmp_path / "run/resnet20/state.safetensors"
    data = bytearray(path.read_bytes())
    data[20:40] = b"\x00" * 20  # inside the JSON header
    path.write_bytes(bytes(data))
    with pytest.raises(UserInputError) as raised:
        training_state.load_state(path.parent)
    message = str(raised.value)
    assert "\n" not in message and len(message) < 400


@pytest.mark.timeout(20)
def test_a_config_json_that_is_a_pipe_or_not_an_object_is_one_line_never_a_hang(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / "config.json")
    assert main(["train", "--resume", "--out", str(out)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "named pipe" in err
    (out / "config.json").unlink()
    (out / "config.json").write_text("[1, 2]")
    assert main(["train", "--resume", "--out", str(out)]) != 0
    assert "not a run's settings" in capsys.readouterr().err
