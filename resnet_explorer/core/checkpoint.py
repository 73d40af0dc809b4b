"""This project's weights format: a ``.safetensors`` file that carries its own metadata.

A model file is ``NAME.safetensors`` whose safetensors header holds, under the key ``resnet_explorer``,
a JSON document (the *card*)::

    {
      "format": "resnet-explorer-model", "version": 1,
      "model": {"arch": "resnet20", "num_classes": 10, "in_chans": 1, "shortcut": "A",
                "variant": "torchvision"},
      "class_names": ["T-shirt/top", ...],
      "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353],
                        "resize": null, "crop": null, "grayscale": true},
      "dataset": "fashion-mnist", ... anything else (metrics, command, epochs) ...
    }

A sibling ``NAME.json`` with the same card (plus whatever a human wants to read) may sit beside it;
when both exist, the embedded one wins for loading. safetensors cannot run code when read, unlike pickle.

Everything written here is written atomically (temporary file, fsync, rename), so a crash or a full
disk never leaves a half-written file where a good one was.
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
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .errors import ExplorerError, UserInputError

FORMAT = "resnet-explorer-model"
VERSION = 1
META_KEY = "resnet_explorer"


class StorageError(ExplorerError):
    """Writing failed: full disk, no permission, read-only file system."""


def _describe_os_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk is full: could not write {path}; free some space and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write {path}: permission denied or read-only file system"
    return f"cannot write {path}: {exc.strerror or exc}"


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], mode: str = "wb") -> Path:
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


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically replace ``path`` with ``data``."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_json(path: str | os.PathLike, doc: Any) -> Path:
    """Atomically replace ``path`` with ``doc`` as indented JSON."""
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    return atomic_write(path, lambda f: f.write(text), mode="w")


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor],
                 metadata: dict[str, str] | None = None) -> Path:
    """Atomically write ``tensors`` (made contiguous, on CPU) as a safetensors file."""
    clean = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    return atomic_write_bytes(path, st_save(clean, metadata=metadata))


def save_model(path: str | os.PathLike, model: torch.nn.Module, card: dict[str, Any]) -> Path:
    """Write ``model``'s state dict and its ``card`` (see module docstring) into one safetensors file."""
    card = {"format": FORMAT, "version": VERSION, **card}
    if "model" not in card:
        raise ValueError("a model card needs a 'model' entry (arch, num_classes, in_chans, ...)")
    return save_tensors(path, model.state_dict(), {META_KEY: json.dumps(card)})


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and raw header metadata of a safetensors file; a clear error if it is not one."""
    path = Path(path)
    data = _read_bytes(path)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise UserInputError(f"{path} is not a valid safetensors file ({exc})") from None
    return tensors, _header_metadata(data)


def _header_metadata(data: bytes) -> dict[str, str]:
    # safetensors' Python API exposes metadata only through safe_open on a path; the header is
    # documented: 8-byte little-endian length, then that many bytes of JSON.
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    return dict(header.get("__metadata__") or {})


def read_model(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """State dict and card of a model file written by :func:`save_model`.

    The card comes from the embedded metadata, else from a sibling ``.json``; ``None`` when neither
    exists (a plain safetensors state dict, e.g. from another project).
    """
    path = Path(path)
    tensors, meta = read_safetensors(path)
    card = None
    if META_KEY in meta:
        try:
            card = json.loads(meta[META_KEY])
        except json.JSONDecodeError:
            raise UserInputError(f"{path}: its embedded model card is not valid JSON") from None
    else:
        sidecar = path.with_suffix(".json")
        if sidecar.is_file():
            try:
                card = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise UserInputError(f"{sidecar}: model card is unreadable ({exc})") from None
    return tensors, card


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise UserInputError(f"{path}: no such file")
    if path.is_dir():
        raise UserInputError(f"{path} is a directory, not a weights file")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise UserInputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UserInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) < 8:
        raise UserInputError(f"{path} is empty or truncated, not a weights file")
    return data
