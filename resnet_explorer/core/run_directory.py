"""A training run directory's safety rules: one run at a time, nothing overwritten by accident.

- :class:`RunLock`: while a run uses ``OUT`` it holds an OS lock on ``OUT/.lock`` (flock / LockFileEx
  through the ``filelock`` package; the kernel drops it when the process dies, even on ``kill -9``, so a
  lock is never stale). Its pid sits in ``OUT/.lock.owner`` so a second run can name the holder.
- :func:`check_start`: starting into a directory that holds any run (a ``config.json``, or any model's
  state, weights or metrics) needs ``resume`` or ``overwrite``; ``resume`` must not contradict the saved
  settings (:func:`config_conflicts` lists every difference) and must find a state to continue from
  wherever a model already wrote weights or metrics.
- :func:`clear_run`: what ``overwrite`` deletes (only the files a run writes, never anything else).
- :class:`RunDirectory`: ``OUT`` while a run uses it: opened (locked, checked, ``config.json`` written),
  each model's resume (:meth:`RunDirectory.restore`) and checkpoint with its model card
  (:meth:`RunDirectory.save`), closed (unlocked). Under torchrun rank 0 alone touches the files; every
  rank calls the same methods, which agree on errors and share what rank 0 read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import training_state as ts
from .checkpoint import StorageError, atomic_write_json, save_model
from .distributed import DistContext
from .errors import ExplorerError, UserInputError
from .files import MAX_CARD_BYTES, read_file_text
from .run_state import ModelState, StepSums
from .training_budget import BF16_AUTOCAST, FLOAT32, budget_from_run, settings_differ
from .training_setup import RunSetup

LOCK_FILE = ".lock"
OWNER_FILE = ".lock.owner"
CONFIG_FILE = "config.json"

# Settings that change how a run is executed, not what it computes: a resume may change them freely.
RUNTIME_KEYS = frozenset({"out", "resume", "overwrite", "command", "resumed_with", "threads", "device",
                          "data_dir", "download", "eval_batch_size", "events_per_second", "tensorboard",
                          "save"})
# The files a run writes into OUT/<arch>/ (TensorBoard's event files are matched by prefix).
RUN_FILES = (ts.STATE_FILE, ts.STATE_JSON, ts.METRICS_FILE, ts.MODEL_FILE)


class RunLock:
    """Exclusive use of a run directory by one process; a second one gets one line naming the holder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self._lock = FileLock(str(out / LOCK_FILE))

    def acquire(self) -> None:
        """Take the lock at once, or raise :class:`UserInputError` with the holder's pid."""
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            holder = self._holder()
            who = f" (pid {holder})" if holder else ""
            raise UserInputError(f"{self.out} is in use by another training run{who}; wait for it to "
                                 f"finish or stop it, or choose another --out") from None
        with contextlib.suppress(OSError):
            (self.out / OWNER_FILE).write_text(json.dumps({"pid": os.getpid()}), encoding="utf-8")

    def release(self) -> None:
        """Give the lock back (idempotent)."""
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                (self.out / OWNER_FILE).unlink()
            self._lock.release(force=True)

    def _holder(self) -> int | None:
        try:
            pid = json.loads((self.out / OWNER_FILE).read_text(encoding="utf-8"))["pid"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if isinstance(pid, int) else None


def held_runs(out: Path) -> list[str]:
    """What ``out`` holds of earlier runs: "config.json" and the names of model folders with run files."""
    found = [CONFIG_FILE] if (out / CONFIG_FILE).is_file() else []
    if out.is_dir():
        for sub in sorted(p for p in out.iterdir() if p.is_dir()):
            if any((sub / name).is_file() for name in RUN_FILES):
                found.append(sub.name)
    return found


def read_config(out: Path) -> dict[str, Any] | None:
    """``OUT/config.json`` as a dict, ``None`` when there is none; one line when it is not a run's config
    (a pipe or a device is refused before it is opened, a huge file before it is read)."""
    path = out / CONFIG_FILE
    if not os.path.lexists(path):
        return None
    text = read_file_text(path, MAX_CARD_BYTES, noun="a run's config.json")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserInputError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise UserInputError(f"{path} is not a run's settings (a JSON object was expected)")
    return doc


def saved_config(out: Path) -> dict[str, Any] | None:
    """``OUT/config.json`` as a dict, ``None`` when absent or unreadable (the resume check's view)."""
    try:
        return read_config(out)
    except UserInputError:
        return None


def _models(config: dict[str, Any]) -> list[str]:
    archs = config.get("archs") or str(config.get("arch", "")).split(",")
    return [str(a).strip().lower() for a in archs if str(a).strip()]


def config_conflicts(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Every setting of ``current`` that differs from ``saved`` and changes what the run computes.

    Keys absent from ``saved`` (written by an older version) are not compared.
    """
    conflicts = []
    if _models(saved) != _models(current):
        conflicts.append(f"arch {','.join(_models(saved))} -> {','.join(_models(current))}")
    for key in sorted(current):
        if key in RUNTIME_KEYS or key in ("arch", "archs") or key not in saved:
            continue
        if key == "epochs":
            continue  # training longer or shorter is allowed: the step schedule follows the new length
        old, new = saved[key], current[key]
        if settings_differ(old, new):
            conflicts.append(f"{key} {old!r} -> {new!r}")
    return conflicts


def check_start(out: Path, config: dict[str, Any], models: list[str], *, resume: bool,
                overwrite: bool) -> None:
    """Refuse (``UserInputError``) a start that would overwrite a run or resume it inconsistently."""
    held = held_runs(out)
    if not resume:
        if held and not overwrite:
            raise UserInputError(f"{out} already holds a training run ({', '.join(held)}); pass --resume "
                                 f"to continue it, --overwrite to start again, or choose another --out")
        return
    saved = saved_config(out)
    if saved is not None:
        conflicts = config_conflicts(saved, config)
        if conflicts:
            raise UserInputError(f"cannot resume {out}: these settings differ from the saved run: "
                                 f"{'; '.join(conflicts)} (drop them to resume, or use --overwrite)")
    for m in models:
        lost = [name for name in (ts.MODEL_FILE, ts.METRICS_FILE) if (out / m / name).is_file()]
        if lost and not ts.has_state(out / m):
            raise UserInputError(f"cannot resume {out / m}: its {ts.STATE_FILE} is missing but "
                                 f"{' and '.join(lost)} exist; restore the state, or use --overwrite "
                                 f"to start again")


def clear_run(out: Path) -> None:
    """Delete what earlier runs wrote into ``out`` (config, and each model folder's run files)."""
    for entry in held_runs(out):
        if entry == CONFIG_FILE:
            with contextlib.suppress(FileNotFoundError):
                (out / CONFIG_FILE).unlink()
            continue
        folder = out / entry
        for name in RUN_FILES:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
        for events in folder.glob("events.out.tfevents.*"):
            with contextlib.suppress(OSError):
                events.unlink()


def remove_stale_temporaries(folder: Path) -> None:
    """A process killed inside an atomic write leaves its temporary file behind; never the target."""
    for stale in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


# The TrainConfig fields a model card records as its training recipe.
RECIPE_KEYS = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "nesterov", "schedule", "milestones",
               "gamma", "warmup_iters", "warmup_lr", "label_smoothing", "seed", "subset")


class RunDirectory:
    """``OUT`` while a run uses it: check, lock, resume, checkpoints and model cards.

    Build it with :meth:`open`; :meth:`close` gives the lock back. ``setup`` says how the run trains
    (what each card and state records); ``dist`` which process this is: rank 0 alone writes.
    """

    def __init__(self, out: Path, setup: RunSetup, dist: DistContext) -> None:
        self.out = out
        self.setup = setup
        self.dist = dist
        self._lock: RunLock | None = None

    @classmethod
    def open(cls, setup: RunSetup, dist: DistContext) -> RunDirectory:
        """Lock, check and create the run directory (rank 0), agreeing on any error across processes."""
        config = setup.config
        directory = cls(config.out_dir(), setup, dist)
        out = directory.out
        error = None
        if dist.is_main:
            try:
                directory._lock = RunLock(out)
                directory._lock.acquire()
                check_start(out, config.to_dict(), config.models, resume=config.resume,
                            overwrite=config.overwrite)
                if config.overwrite and not config.resume:
                    clear_run(out)
                for m in config.models:
                    remove_stale_temporaries(out / m)
                atomic_write_json(out / CONFIG_FILE, config.to_dict())
            except ExplorerError as exc:
                directory.close()
                error = (isinstance(exc, StorageError), str(exc))
            except OSError as exc:  # the directory itself cannot be made (a file in the way, no permission)
                directory.close()
                error = (True, f"cannot write {out} (the run directory): {exc.strerror or exc}")
        error = dist.broadcast(error)
        if error:
            raise (StorageError if error[0] else UserInputError)(error[1])
        return directory

    def close(self) -> None:
        """Give the lock back (idempotent)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def model_dir(self, name: str) -> Path:
        """``OUT/<name>``: one model's state, weights, metrics (and TensorBoard files)."""
        return self.out / name

    # -- resume -----------------------------------------------------------------------------------------
    def restore(self, m: ModelState) -> None:
        """Continue ``m`` from its saved state, if it has one (rank 0 reads it; every rank gets a copy)."""
        folder = self.model_dir(m.name)
        loaded = None
        if self.dist.is_main and ts.has_state(folder):
            loaded = ts.load_state(folder)
        loaded = self.dist.broadcast(loaded)
        if loaded is None:
            return  # killed before this model's first checkpoint: it starts from the beginning
        meta, model_sd, optim_sd, torch_rng = loaded
        self._check_compatible(folder, meta)
        m.model.load_state_dict(model_sd)
        m.optimizer.load_state_dict(optim_sd)
        ts.restore_rng(meta.get("rng", {}), torch_rng)
        m.epoch, m.step = meta["position"]["epoch"], meta["position"]["step"]
        m.history = meta.get("history", [])
        m.elapsed = meta.get("elapsed_s", 0.0)
        m.precisions = [p for p in meta.get("precisions", []) if isinstance(p, str)]
        if self.dist.is_main:  # partial-epoch sums were summed over ranks when saved
            m.epoch_sums = StepSums(**meta.get("epoch_sums", {}))
        m.saved_at = m.position

    def _check_compatible(self, folder: Path, meta: dict[str, Any]) -> None:
        steps = self.setup.steps
        conflicts = config_conflicts(meta.get("config", {}), self.setup.config.to_dict())
        if conflicts:
            raise UserInputError(f"cannot resume {folder}: it was trained with other settings "
                                 f"({'; '.join(conflicts)})")
        if meta.get("steps_per_epoch", steps) != steps:
            raise UserInputError(f"cannot resume {folder}: the data differ (steps per epoch "
                                 f"{meta['steps_per_epoch']} -> {steps})")

    # -- checkpoints ------------------------------------------------------------------------------------
    def save(self, m: ModelState) -> None:
        """Rank 0 writes ``m``'s state (resume), model file (load_model) and metrics.csv, each atomically."""
        if not self.dist.is_main:
            return
        setup, folder = self.setup, self.model_dir(m.name)
        meta = {"model_name": m.name, "config": setup.config.to_dict(),
                "position": {"epoch": m.epoch, "step": m.step}, "steps_per_epoch": setup.steps,
                "epochs": setup.config.epochs, "history": m.history, "elapsed_s": m.elapsed,
                "epoch_sums": dataclasses.asdict(m.epoch_sums), "world_size": self.dist.world_size,
                "precisions": self.precisions_used(m)}
        # The state first: it is what --resume trusts; the rest can be rebuilt from it.
        ts.save_state(folder, m.model, m.optimizer, meta)
        save_model(folder / ts.MODEL_FILE, m.model, self.card(m))
        ts.write_metrics_csv(folder, m.history)

    def precision(self) -> str:
        """The arithmetic of this session's training steps."""
        return BF16_AUTOCAST if self.setup.amp else FLOAT32

    def precisions_used(self, m: ModelState) -> list[str]:
        """The arithmetic of every session that trained ``m`` so far, this one included, sorted."""
        return sorted(set(m.precisions) | {self.precision()})

    def card(self, m: ModelState) -> dict[str, Any]:
        """``m``'s model card: what it is, how to feed it, how it was trained and how well it does."""
        from resnet_explorer import __version__

        setup = self.setup
        cfg, data = setup.config, setup.data
        last = m.history[-1] if m.history else {}
        recipe = {k: v for k, v in cfg.to_dict().items() if k in RECIPE_KEYS}
        # A run resumed on other hardware (CPU float32, then CUDA bf16) says so: "mixed (...)".
        used = self.precisions_used(m)
        recipe.update(augment=setup.augment, hflip=setup.hflip, world_size=self.dist.world_size,
                      precision=used[0] if len(used) == 1 else f"mixed ({', '.join(used)})")
        return {"model": m.model.config, "class_names": list(data.class_names),
                "preprocessing": data.preprocessing(), "dataset": data.name, "epoch": m.epoch,
                "step": m.step, "steps_per_epoch": setup.steps, "epochs": cfg.epochs,
                "accuracy": None if not last else 1.0 - last["test_error"], "metrics": last,
                "recipe": recipe, "command": cfg.command, "resumed_with": list(cfg.resumed_with),
                "trained_with": f"resnet-explorer {__version__}",
                "budget": budget_from_run(recipe, data.name, len(data.train), setup.steps, setup.warmup)}
