"""Writing this project's files atomically, model files among them.

Everything written here is written atomically (temporary file, fsync, rename), so a crash or a full
disk never leaves a half-written file where a good one was. :func:`save_model` writes the model file
laid out as :mod:`core.model_file` describes; reading any model file is that module's job.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save

from .errors import ExplorerError
from .model_file import FORMAT, META_KEY, VERSION


class StorageError(ExplorerError):
    """Writing failed: full disk, no permission, read-only file system."""


def _describe_os_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk is full: could not write {path}; free some space and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: permission denied or read-only file system"
    return f"cannot write {path}: {exc.strerror or exc}"


def atomic_write(path: str | os.PathLike[str], write: Callable[[Any], None], mode: str = "wb") -> Path:
    """Write ``path`` through ``write(fileobj)`` into a temporary file, fsync, then rename over ``path``.

    Raises :class:`StorageError` with a one-line message on a full disk or missing permission; the
    previous file at ``path`` (if any) is left untouched and no temporary file remains.
    """
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        # mkstemp makes the file private (0600); give it the permissions a plain open() would.
        os.fchmod(fd, 0o666 & ~_current_umask())
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise StorageError(_describe_os_error(path, exc)) from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    # The rename itself is only durable once the directory entry is on disk (POSIX).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: str | os.PathLike[str], doc: Any) -> Path:
    """Atomically replace ``path`` with ``doc`` as indented JSON."""
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def save_tensors(path: str | os.PathLike[str], tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> Path:
    """Atomically write ``tensors`` (made contiguous, on CPU) as a safetensors file."""
    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    return atomic_write_bytes(path, st_save(clean, metadata=metadata))


def save_model(path: str | os.PathLike[str], model: torch.nn.Module, card: dict[str, Any]) -> Path:
    """Write ``model``'s state dict and its ``card`` into one file laid out as :mod:`core.model_file` says."""
    card = {"format": FORMAT, "version": VERSION, **card}
    if "model" not in card:
        raise ValueError("a model card needs a 'model' entry (arch, num_classes, in_chans, ...)")
    return save_tensors(path, model.state_dict(), {META_KEY: json.dumps(card)})
