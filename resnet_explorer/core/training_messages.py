"""The lines a training run says to people: its start notes and how it ended (``RunFinished.message``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from .run_state import ModelState
from .training_setup import RunSetup


def start_notes(setup: RunSetup) -> list[str]:
    """``RunStarted.notes``: the data, their normalisation and the recipe, one line each."""
    data, cfg = setup.data, setup.config
    flip = " + flip" if setup.hflip and setup.augment != "none" else ""
    warmup = f", warm-up {setup.warmup} iterations at lr {cfg.warmup_lr:g}" if setup.warmup else ""
    return [f"data: {data.name} from {data.source}: {len(data.train)} training, {len(data.test)} "
            f"test images of {'x'.join(map(str, data.input_size))}",
            f"normalisation from the training split: mean {list(data.mean)}, std {list(data.std)}",
            f"recipe: SGD lr {cfg.lr:g} momentum {cfg.momentum:g} weight decay {cfg.weight_decay:g}, "
            f"{cfg.schedule} schedule, batch {cfg.batch_size}, augmentation {setup.augment}{flip}"
            f"{warmup}{', bf16 autocast' if setup.amp else ''}",
            *data.notes]


def nothing_to_resume(out: Path | None) -> str:
    """The note of a ``--resume`` that found no checkpoint."""
    return f"nothing to resume in {out} yet (no checkpoint): starting from the beginning"


def completed_message(epochs: int, members: Sequence[ModelState]) -> str:
    """E.g. "trained 30 epochs: resnet20 test error 8.75%"."""
    done = ", ".join(f"{m.name} test error {m.history[-1]['test_error']:.2%}" for m in members if m.history)
    return f"trained {epochs} epochs: {done}"


def stopped_message(members: Sequence[ModelState], out: Path | None) -> str:
    """Where each model stopped, and how to continue."""
    where = ", ".join(f"{m.name} at epoch {m.epoch}" + (f" + {m.step} steps" if m.step else "")
                      for m in members)
    saved = f"; continue with --resume --out {out}" if out is not None else ""
    return f"stopped: {where}{saved}"


def diverged_message(m: ModelState, loss: float, lr: float, global_step: int) -> str:
    """Where ``m``'s loss stopped being finite, the likely causes, and which checkpoint is kept."""
    what = "NaN" if math.isnan(loss) else "infinite"
    kept = ("no checkpoint was written before it" if m.saved_at is None or m.run_dir is None
            else f"the last good checkpoint (epoch {m.saved_at[0]}"
                 f"{f' + {m.saved_at[1]} steps' if m.saved_at[1] else ''}) is kept in {m.run_dir}")
    return (f"{m.name}: the training loss became {what} at epoch {m.epoch + 1}, step {m.step + 1} "
            f"(global step {global_step}, lr {lr:g}). The learning rate is most likely too high "
            f"for this network (try --lr {lr / 10:g}, or a warm-up with --warmup-iters); "
            f"corrupt input data or a very large --weight-decay can also cause it. {kept}.")
