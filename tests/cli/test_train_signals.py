"""``resnet-explorer train`` and repeated signals: a second Ctrl-C aborts at once, a second SIGTERM does not.

The first signal's clean stop (checkpoint, exit 130, exact resume) is tested in a subprocess in
``tests/core/test_run_directory.py``; here the signals are raised in this process, from inside the run, so
both land at a known step without racing the training.
"""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

import pytest

from resnet_explorer.cli import main
from resnet_explorer.core import engine, training_state
from resnet_explorer.core.training_callbacks import TrainingCallback

# 128 synthetic 8x8 images, batches of 32: 4 steps per epoch, 2 epochs.
TRAIN = ["train", "--arch", "resnet20", "--dataset", "synthetic", "--image-size", "8", "--subset", "128",
         "--batch-size", "32", "--threads", "1", "--epochs", "2"]
SIGNAL_AFTER_STEP = 6  # epoch 2, step 2


class TwoSignals(TrainingCallback):
    """After global step ``SIGNAL_AFTER_STEP``: ``signals`` to this process, one after the other."""

    def __init__(self, signals: tuple[signal.Signals, ...]) -> None:
        self.signals, self.steps_seen = signals, []

    def on_iteration(self, run, event) -> None:
        self.steps_seen.append(event.global_step)
        if event.global_step == SIGNAL_AFTER_STEP:
            for signum in self.signals:
                signal.raise_signal(signum)  # the CLI's handler runs before raise_signal returns


def run_with_signals(monkeypatch, out: Path, signals: tuple[signal.Signals, ...]) -> tuple[int, TwoSignals]:
    """``resnet-explorer train`` in this process, with :class:`TwoSignals` among the run's callbacks."""
    sender = TwoSignals(signals)

    class SignalledRun(engine.TrainingRun):
        def __init__(self, config, *, data=None, callbacks=()) -> None:
            config = dataclasses.replace(config, events_per_second=1e6)  # an event after every step
            super().__init__(config, data=data, callbacks=[*callbacks, sender])

    monkeypatch.setattr(engine, "TrainingRun", SignalledRun)  # the command imports it when it runs
    return main([*TRAIN, "--out", str(out)]), sender


def test_a_second_ctrl_c_aborts_at_once_and_keeps_the_last_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, sender = run_with_signals(monkeypatch, out, (signal.SIGINT, signal.SIGINT))
    err = capsys.readouterr().err
    assert code == 130 and "stopping after this step (Ctrl-C again to abort)" in err
    assert "resnet-explorer: interrupted" in err
    assert sender.steps_seen[-1] == SIGNAL_AFTER_STEP  # not one step more
    # No stop checkpoint: the state is epoch 1's, intact, and the lock is gone, so --resume goes on from it.
    state = training_state.load_state(out / "resnet20")[0]
    assert state["position"] == {"epoch": 1, "step": 0}
    monkeypatch.undo()
    assert main(["train", "--resume", "--out", str(out)]) == 0
    assert [r["epoch"] for r in training_state.read_metrics_csv(out / "resnet20/metrics.csv")] == [1, 2]
    assert "resuming: resnet20 from epoch 1" in capsys.readouterr().err


def test_a_second_sigterm_still_stops_cleanly_with_a_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    code, sender = run_with_signals(monkeypatch, out, (signal.SIGTERM, signal.SIGTERM))
    captured = capsys.readouterr()
    assert code == 130 and "interrupted" not in captured.err
    assert "stopped: resnet20 at epoch 1 + 2 steps; continue with --resume" in captured.out
    assert sender.steps_seen[-1] == SIGNAL_AFTER_STEP  # one process stops before the next step
    assert training_state.load_state(out / "resnet20")[0]["position"] == {"epoch": 1, "step": 2}
    monkeypatch.undo()
    assert main(["train", "--resume", "--out", str(out)]) == 0
    assert "resuming: resnet20 from epoch 1 + 2 steps" in capsys.readouterr().err  # where it stopped


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_command_puts_back_the_signal_handlers_it_replaced(tmp_path, monkeypatch, signum):
    before = signal.getsignal(signum)
    assert main([*TRAIN, "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    assert signal.getsignal(signum) is before
