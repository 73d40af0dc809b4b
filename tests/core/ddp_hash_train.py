"""``resnet-explorer ARGS`` for torchrun, with each rank writing a hash of its final weights to
``$HASH_DIR/rank<N>.sha256`` when the run completes: rank 1 writes no files of its own, so this is how a
test sees that DDP kept every process's weights identical; each rank also writes its exit status to
``$HASH_DIR/rank<N>.exit``. A test helper, never shipped.

With ``$SIGNAL_AT_STEP=N`` rank 0 holds still after its N-th training step of the run (counted from the
run's start, also when resumed), writes ``$HASH_DIR/ready`` and waits for the stop that a signal brings,
so a test can signal the launcher at a known step instead of racing the training.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path

from resnet_explorer.cli import main
from resnet_explorer.core import engine
from resnet_explorer.core.training_callbacks import TrainingCallback

READY_FILE = "ready"
WAIT_FOR_SIGNAL_S = 120.0  # a test that never signals fails this long after, instead of hanging


def weights_digest(run) -> str:
    """SHA-256 over every model's state dict (names and bytes, in name order)."""
    h = hashlib.sha256()
    for m in run.state.members:
        for key, value in sorted(m.model.state_dict().items()):
            h.update(key.encode())
            h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class WeightHashes(TrainingCallback):
    """On completion: each rank writes :func:`weights_digest` to ``rank<N>.sha256``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def on_run_end(self, run, event) -> None:
        if event.status != "completed":
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"rank{run.state.dist.rank}.sha256").write_text(weights_digest(run) + "\n")


class HoldForSignal(TrainingCallback):
    """Rank 0, after global step ``step``: announce ``ready``, then wait until a signal stops the run.

    The other rank meanwhile waits in the next step's collective, as it would at any moment of a real run.
    """

    def __init__(self, directory: Path, step: int) -> None:
        self.directory, self.step = directory, step

    def on_iteration(self, run, event) -> None:
        if not run.is_main or event.global_step != self.step:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / READY_FILE).write_text(f"{os.getpid()} {os.getppid()}\n")
        deadline = time.monotonic() + WAIT_FOR_SIGNAL_S
        while not run.stop_requested:  # the CLI's signal handler calls run.stop() in this thread
            if time.monotonic() > deadline:
                raise RuntimeError("no signal arrived")
            time.sleep(0.01)


class HashingRun(engine.TrainingRun):
    """The engine's run with :class:`WeightHashes` (and :class:`HoldForSignal`) after the CLI's callbacks."""

    def __init__(self, config, *, data=None, callbacks=()) -> None:
        directory = Path(os.environ["HASH_DIR"])
        extra: list[TrainingCallback] = [WeightHashes(directory)]
        if os.environ.get("SIGNAL_AT_STEP"):
            extra.append(HoldForSignal(directory, int(os.environ["SIGNAL_AT_STEP"])))
            # An IterationEvent after every step (the throttle changes no number the run computes).
            config = dataclasses.replace(config, events_per_second=1e6)
        super().__init__(config, data=data, callbacks=[*callbacks, *extra])


if __name__ == "__main__":
    engine.TrainingRun = HashingRun  # the CLI imports it from the engine when it runs
    code = main(sys.argv[1:])
    # Each rank's exit status: after a signal the launcher reports its own, not its workers'.
    hashes = Path(os.environ["HASH_DIR"])
    hashes.mkdir(parents=True, exist_ok=True)
    (hashes / f"rank{os.environ.get('RANK', '0')}.exit").write_text(f"{code}\n")
    sys.exit(code)
