"""A training run directory's safety rules: one run at a time, nothing overwritten by accident.

- :class:`RunLock`: while a run uses ``OUT`` it holds an OS lock on ``OUT/.lock`` (flock / LockFileEx
  through the ``filelock`` package; the kernel drops it when the process dies, even on ``kill -9``, so a
  lock is never stale). Its pid sits in ``OUT/.lock.owner`` so a second run can name the holder.
- :func:`check_start`: starting into a directory that holds any run (a ``config.json``, or any model's
  state, weights or metrics) needs ``resume`` or ``overwrite``; ``resume`` must not contradict the saved
  settings (:func:`config_conflicts` lists every difference) and must find a state to continue from
  wherever a model already wrote weights or metrics.
- :func:`clear_run`: what ``overwrite`` deletes (only the files a run writes, never anything else).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import training_state as ts
from .errors import UserInputError
from .files import MAX_CARD_BYTES, read_file_text
from .training_budget import settings_differ

LOCK_FILE = ".lock"
OWNER_FILE = ".lock.owner"
CONFIG_FILE = "config.json"

# Settings that change how a run is executed, not what it computes: a resume may change them freely.
RUNTIME_KEYS = frozenset({"out", "resume", "overwrite", "command", "threads", "device", "data_dir",
                          "download", "eval_batch_size", "events_per_second", "tensorboard", "save"})
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
    except ValueError as exc:
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
