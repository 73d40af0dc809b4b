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
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import torch
from safetensors.torch import save as st_save

from . import files
from .cards import validate_card
from .errors import ExplorerError, UserInputError
from .files import format_bytes, open_regular_file, read_file_text

FORMAT = "resnet-explorer-model"
VERSION = 1
META_KEY = "resnet_explorer"
# The JSON header (tensor index and metadata, the card among it): a few KiB in practice.
MAX_HEADER_BYTES = 16 * 2**20
# safetensors dtype names; the float8 ones exist in recent torch only.
_DTYPES = {name: getattr(torch, attr) for name, attr in (
    ("F64", "float64"), ("F32", "float32"), ("F16", "float16"), ("BF16", "bfloat16"), ("I64", "int64"),
    ("I32", "int32"), ("I16", "int16"), ("I8", "int8"), ("U8", "uint8"), ("BOOL", "bool"),
    ("U16", "uint16"), ("U32", "uint32"), ("U64", "uint64"), ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2")) if hasattr(torch, attr)}


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
    """Tensors and raw header metadata of a safetensors file; a clear error if it is not one.

    Only a regular file of at most ``files.MAX_WEIGHTS_BYTES`` is opened. Its header is read and checked
    first (its length, and every tensor's dtype, shape and offsets against the file's size), then each
    tensor is read into a buffer of its own: a header that lies fails before anything large is allocated,
    and a good file costs its tensors' size in memory once (not a copy of the file plus the tensors).
    """
    path = Path(path)
    with open_regular_file(path, files.MAX_WEIGHTS_BYTES, noun="a weights file") as (f, size):
        header, start = read_safetensors_header(f, size, path)
        index = _tensor_index(header, size - start, path)
        tensors = {name: _read_tensor(f, start, entry, path) for name, entry in index.items()}
    return tensors, _metadata(header, path)


# Files often renamed to .safetensors by mistake: said for what they are, not as "header too large".
_OTHER_FORMATS = ((b"PK\x03\x04", "a PyTorch .pth file (zip), not safetensors; rename it to .pth"),
                  (b"\x80\x02", "a PyTorch .pth file (pickle), not safetensors; rename it to .pth"),
                  (b"\x89HDF", "an HDF5 (Keras) file, not safetensors"),
                  (b"\x89PNG", "a PNG image, not a weights file"),
                  (b"\xff\xd8\xff", "a JPEG image, not a weights file"))


def _refuse_other_formats(data: bytes, path: Path) -> None:
    if data[8:9] == b"{":  # a safetensors header (whatever its length bytes look like): safetensors decides
        return
    for magic, what in _OTHER_FORMATS:
        if data.startswith(magic):
            raise UserInputError(f"{path} is {what}")


def read_sidecar_card(path: Path) -> Any:
    """The JSON document in ``path`` (a card beside its weights), or ``None`` when no file is there.

    A pipe or a device there is refused rather than read (it could block or never end), as is a file
    over ``files.MAX_CARD_BYTES``; bad JSON is one line.
    """
    # os.path, not Path: a sidecar name over 255 bytes (x.pt -> x.json) is "no card", not an OSError.
    if not os.path.exists(path) or os.path.isdir(path):
        return None
    text = read_file_text(path, files.MAX_CARD_BYTES, noun="a model card")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: bad JSON, or an integer of 5000 digits
        raise UserInputError(f"{path}: model card is unreadable ({exc})") from None


def read_safetensors_header(f: BinaryIO, size: int, path: Path) -> tuple[dict[str, Any], int]:
    """The JSON header of the safetensors file open as ``f`` (``size`` bytes), and where its data starts.

    The format is documented: an 8-byte little-endian length, then that many bytes of JSON.
    """
    head = f.read(8)
    if len(head) < 8:
        raise UserInputError(f"{path} is empty or truncated, not a weights file")
    _refuse_other_formats(head + f.read(1), path)
    n = int.from_bytes(head, "little")
    if n > size - 8:
        raise UserInputError(f"{path} is not a valid safetensors file (its header claims "
                             f"{format_bytes(n)}, the file holds {format_bytes(size - 8)})")
    if n > MAX_HEADER_BYTES:
        raise UserInputError(f"{path}: its safetensors header is {format_bytes(n)}, over the "
                             f"{format_bytes(MAX_HEADER_BYTES)} accepted; not a model file of this project")
    f.seek(8)
    try:
        header = json.loads(f.read(n))
    except (ValueError, RecursionError):  # ValueError: bad JSON or UTF-8
        raise UserInputError(f"{path} is not a valid safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise UserInputError(f"{path} is not a valid safetensors file (its header is not a JSON object)")
    return header, 8 + n


def _tensor_index(header: dict[str, Any], data_bytes: int, path: Path) -> dict[str, _Entry]:
    """Every tensor's entry, checked as safetensors does: known dtype, shape filling its byte range,
    ranges back to back from 0 to exactly the end of the file (so the total is bounded by the file size)."""
    index = {name: _entry(name, info, path) for name, info in header.items() if name != "__metadata__"}
    end = 0
    for name, entry in sorted(index.items(), key=lambda item: item[1].begin):
        if entry.begin != end:
            raise UserInputError(f"{path} is not a valid safetensors file (tensor {name!r} does not start "
                                 f"where the previous one ends)")
        end = entry.end
    if end > data_bytes:
        raise UserInputError(f"{path} is truncated: its header declares {format_bytes(end)} of tensors, the "
                             f"file holds {format_bytes(data_bytes)}")
    if end < data_bytes:
        raise UserInputError(f"{path} is not a valid safetensors file ({data_bytes - end} bytes after the "
                             f"last tensor)")
    return index


class _Entry(NamedTuple):
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


def _entry(name: str, info: Any, path: Path) -> _Entry:
    try:
        dtype = _DTYPES[info["dtype"]]
        shape = tuple(int(d) for d in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise UserInputError(f"{path} is not a valid safetensors file (bad entry for tensor "
                             f"{name!r})") from None
    if min(shape, default=0) < 0 or not 0 <= begin <= end or math.prod(shape) * dtype.itemsize != end - begin:
        raise UserInputError(f"{path} is not a valid safetensors file (tensor {name!r}: shape {list(shape)} "
                             f"does not fill bytes {begin}..{end})")
    return _Entry(dtype, shape, begin, end)


def _read_tensor(f: BinaryIO, start: int, entry: _Entry, path: Path) -> torch.Tensor:
    """One tensor, read straight from the file into its own (aligned) buffer."""
    buffer = torch.empty(entry.end - entry.begin, dtype=torch.uint8)
    f.seek(start + entry.begin)
    view, done = memoryview(buffer.numpy()), 0
    while done < len(view):
        got = f.readinto(view[done:])
        if not got:
            raise UserInputError(f"{path} changed while it was read; try again when it is complete")
        done += got
    return buffer.view(entry.dtype).reshape(entry.shape)


def _metadata(header: dict[str, Any], path: Path) -> dict[str, str]:
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise UserInputError(f"{path} is not a valid safetensors file (its metadata is not text)")
    return dict(meta)


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
        except (ValueError, RecursionError):  # ValueError: bad JSON, or an integer of 5000 digits
            raise UserInputError(f"{path}: its embedded model card is not valid JSON") from None
    else:
        sidecar = path.with_suffix(".json")
        card = read_sidecar_card(sidecar)
        if card is not None:
            return tensors, validate_card(card, str(sidecar))
    return tensors, None if card is None else validate_card(card, str(path))
