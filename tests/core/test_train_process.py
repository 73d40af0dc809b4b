"""Training in a child process (what the GUI uses): same events and results, control, crashes, errors."""

from __future__ import annotations

import os
import signal

import pytest

from resnet_explorer.core.engine import EpochEvent, IterationEvent, RunFinished, RunStarted, train
from resnet_explorer.core.errors import ExplorerError, UserInputError
from resnet_explorer.core.train_process import ProcessRun, TrainingProcessError
from tests.core.test_engine import assert_same_weights, pause_resume_stop, same_metrics, tiny, weights


def collect(run: ProcessRun) -> list:
    return list(run.events())


def test_a_child_process_trains_exactly_like_the_engine_in_this_process(tmp_path):
    here = train(tiny(tmp_path / "here"))
    run = ProcessRun(tiny(tmp_path / "child"))

    events = collect(run)

    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert [e.epoch for e in events if isinstance(e, EpochEvent)] == [1, 2]
    assert any(isinstance(e, IterationEvent) for e in events)
    finished = events[-1]
    assert finished.status == "completed" and same_metrics(here, finished)
    assert_same_weights(weights(tmp_path / "here/run/resnet20/model.safetensors"),
                        weights(tmp_path / "child/run/resnet20/model.safetensors"))
    assert run._process.exitcode == 0


def test_pause_holds_the_child_resume_continues_and_stop_keeps_a_checkpoint(tmp_path):
    run = ProcessRun(tiny(tmp_path, epochs=500, events_per_second=1e6))
    seen, _ = pause_resume_stop(run, join_s=60.0)  # pipe + queue: a little more slack
    assert isinstance(seen[-1], RunFinished) and seen[-1].status == "stopped"
    assert (tmp_path / "run/resnet20/model.safetensors").is_file()
    assert not run._process.is_alive()


def test_a_killed_child_is_a_clear_error_and_the_run_resumes_from_its_checkpoint(tmp_path):
    run = ProcessRun(tiny(tmp_path, epochs=400))
    with pytest.raises(TrainingProcessError, match="killed by signal 9.*resume"):
        for event in run.events():
            if isinstance(event, EpochEvent) and event.epoch == 1:
                os.kill(run.pid, signal.SIGKILL)

    resumed = train(tiny(tmp_path, epochs=2, resume=True))
    assert resumed.status == "completed" and resumed.epochs_done == {"resnet20": 2}


def test_engine_errors_come_back_with_their_type_and_message(tmp_path):
    missing = tmp_path / "no-such-folder"
    run = ProcessRun(tiny(tmp_path, dataset=f"imagefolder:{missing}"))
    with pytest.raises(ExplorerError, match="no-such-folder") as raised:
        collect(run)
    assert isinstance(raised.value, UserInputError)


def test_leaving_the_loop_early_stops_the_child_cleanly(tmp_path):
    run = ProcessRun(tiny(tmp_path, epochs=500, events_per_second=1e6))
    events = run.events()
    for event in events:
        if isinstance(event, IterationEvent):
            break
    events.close()  # what a consumer that goes away does

    assert not run._process.is_alive() and run._process.exitcode == 0
    assert (tmp_path / "run/resnet20/model.safetensors").is_file()


def test_a_stop_before_the_start_ends_at_once(tmp_path):
    run = ProcessRun(tiny(tmp_path, epochs=500))
    run.stop()
    events = collect(run)
    assert events[-1].status == "stopped" and len(events) <= 3


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX nice values")
def test_the_child_runs_at_the_lower_priority_it_was_given(tmp_path):
    run = ProcessRun(tiny(tmp_path, epochs=50), niceness=5)
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    seen = None
    events = []
    for event in run.events():
        events.append(event)
        if seen is None:  # the child is alive and past set-up: read its nice value, then stop it
            seen = os.getpriority(os.PRIO_PROCESS, run.pid)
            run.stop()
    assert seen == min(19, mine + 5)
    assert isinstance(events[-1], RunFinished) and events[-1].status == "stopped"
