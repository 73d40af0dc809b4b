"""``resnet-explorer ARGS`` for torchrun, with each rank writing a hash of its final weights to
``$HASH_DIR/rank<N>.sha256`` when the run completes: rank 1 writes no files of its own, so this is how a
test sees that DDP kept every process's weights identical. A test helper, never shipped.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from resnet_explorer.cli import main
from resnet_explorer.core import engine
from resnet_explorer.core.training_callbacks import TrainingCallback


class WeightHashes(TrainingCallback):
    """On completion: SHA-256 over every model's state dict (names and bytes, in name order)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def on_run_end(self, run, event) -> None:
        if event.status != "completed":
            return
        h = hashlib.sha256()
        for m in run.state.members:
            for key, value in sorted(m.model.state_dict().items()):
                h.update(key.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"rank{run.state.dist.rank}.sha256").write_text(h.hexdigest() + "\n")


class HashingRun(engine.TrainingRun):
    """The engine's run with :class:`WeightHashes` appended to whatever callbacks the CLI passes."""

    def __init__(self, config, *, data=None, callbacks=()) -> None:
        hashes = WeightHashes(Path(os.environ["HASH_DIR"]))
        super().__init__(config, data=data, callbacks=[*callbacks, hashes])


if __name__ == "__main__":
    engine.TrainingRun = HashingRun  # the CLI imports it from the engine when it runs
    sys.exit(main(sys.argv[1:]))
