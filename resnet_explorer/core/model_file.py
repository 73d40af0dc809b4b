"""Model files: the one place that knows how one is laid out on disk, and that reads one.

This project's model file is ``NAME.safetensors`` whose safetensors header holds, under the metadata key
``resnet_explorer`` (:data:`META_KEY`), a JSON document, the *card*::

    {
      "format": "resnet-explorer-model", "version": 1,
      "model": {"arch": "resnet20", "num_classes": 10, "in_chans": 1, "shortcut": "A",
                "variant": "torchvision"},
      "class_names": ["T-shirt/top", ...],
      "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353],
                        "resize": null, "crop": null, "grayscale": true},
      "dataset": "fashion-mnist", ... anything else (metrics, command, epochs) ...
    }

(:func:`core.checkpoint.save_model` writes it; the card's schema is :mod:`core.cards`.) A sibling
``NAME.json`` with the same card may sit beside it, for humans; when both exist the embedded one wins.
Other files are read too, and never by running code from them:

* a plain safetensors state dict (no card; a sidecar card is honoured);
* a pickled state dict (``.pth``, ``.pt``, ``.bin``, ``.ckpt``, ``.tar``) through
  ``torch.load(weights_only=True)`` and nothing weaker, after its zip directory is checked against a
  zip bomb; ``{"state_dict": ...}`` wrappers and DataParallel's ``module.`` prefix are unwrapped.

Every size a file *declares* is checked before anything is allocated for it: the safetensors header
against :data:`MAX_HEADER_BYTES` (the one cap on it), every tensor's byte range against the file's size,
a zip ``.pth``'s members against :data:`MAX_ZIP_EXPANSION` times the file. Files themselves are capped by
``files.MAX_WEIGHTS_BYTES`` and cards by ``files.MAX_CARD_BYTES``.

Building a network is not done here: the zoo and ``evaluation`` build one from the :class:`ModelFile` that
:func:`read_model` returns (as timm's ``_builder`` builds from what ``_pretrained`` loads), so a change to
the layout is a change to this module only.
"""

from __future__ import annotations

import io
import json
import math
import os
import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch

from . import files
from .cards import validate_card
from .errors import UserInputError
from .files import format_bytes, open_regular_file, read_file_text
from .suffixes import CARD_SUFFIX, SAFETENSORS_SUFFIX

FORMAT = "resnet-explorer-model"
VERSION = 1
META_KEY = "resnet_explorer"
# The JSON header (tensor index and metadata, the card among it): a few KiB in practice.
MAX_HEADER_BYTES = 16 * files.MiB
# A zip .pth may unpack to this many times its size on disk (torch.save does not compress, so real
# ones are about 1x), or MIN_ZIP_ALLOWANCE for tiny files; never beyond files.MAX_WEIGHTS_BYTES.
MAX_ZIP_EXPANSION = 4
MIN_ZIP_ALLOWANCE = 16 * files.MiB
# Keys under which training scripts commonly nest the state dict of a whole checkpoint.
NESTED_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")
_NOUN = "a weights file"
# safetensors dtype names; the float8 ones exist in recent torch only.
_DTYPES = {name: getattr(torch, attr) for name, attr in (
    ("F64", "float64"), ("F32", "float32"), ("F16", "float16"), ("BF16", "bfloat16"), ("I64", "int64"),
    ("I32", "int32"), ("I16", "int16"), ("I8", "int8"), ("U8", "uint8"), ("BOOL", "bool"),
    ("U16", "uint16"), ("U32", "uint32"), ("U64", "uint64"), ("F8_E4M3", "float8_e4m3fn"),
    ("F8_E5M2", "float8_e5m2")) if hasattr(torch, attr)}


class ModelFile(NamedTuple):
    """What a weights file holds: a flat ``name -> tensor`` state dict and its validated card (or None).

    A tuple, so ``state, card = read_model(path)`` reads as it always did.
    """

    state: dict[str, torch.Tensor]
    card: dict[str, Any] | None


# ----- whole files -----------------------------------------------------------------------------------
def read_model(path: str | os.PathLike[str]) -> ModelFile:
    """State dict and card of any weights file (see the module docstring), read safely.

    safetensors is recognised by its name or its content (an 8-byte length, then a JSON object), anything
    else is read as a pickle. The card is the embedded one, else a sibling ``NAME.json``; both are checked
    against :mod:`core.cards`. Every failure is one :class:`UserInputError` line naming the file.
    """
    path = Path(path)
    with open_regular_file(path, files.MAX_WEIGHTS_BYTES, noun=_NOUN) as (f, size):
        if size == 0:
            raise UserInputError(f"{path} is empty (0 bytes), not a weights file")
        if _is_safetensors(f, path):
            state, metadata = _read_safetensors(f, size, path)
            embedded = metadata.get(META_KEY)
        else:
            state, embedded = _read_pickle(f, size, path), None
    # The state dict's shape is judged after the card is read, as it always was: a bad card is named first.
    card = (validate_card(_parse_embedded(embedded, path), str(path)) if embedded is not None
            else read_sidecar_card(path))
    return ModelFile(_normalise_state(state, path), card)


def read_safetensors(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and raw header metadata of a safetensors file (any, not only a model file).

    Only a regular file of at most ``files.MAX_WEIGHTS_BYTES`` is opened. Its header is read and checked
    first (its length, and every tensor's dtype, shape and offsets against the file's size), then each
    tensor is read into a buffer of its own: a header that lies fails before anything large is allocated,
    and a good file costs its tensors' size in memory once (not a copy of the file plus the tensors).
    """
    path = Path(path)
    with open_regular_file(path, files.MAX_WEIGHTS_BYTES, noun=_NOUN) as (f, size):
        return _read_safetensors(f, size, path)


def peek_card(path: str | os.PathLike[str]) -> Any:
    """The card of the model file at ``path`` as :func:`read_model` would take it, not validated.

    For listings: reads the safetensors header only (not the weights), falls back to the sidecar card
    (also when the weights file itself is missing), and returns ``None`` when there is no card. Raises
    :class:`UserInputError` when either cannot be read; the caller decides what a listing shows then.
    """
    path = Path(path)
    embedded = None
    if os.path.isfile(path):  # not Path.is_file: a name over 255 bytes raises there
        with open_regular_file(path, files.MAX_WEIGHTS_BYTES, noun=_NOUN) as (f, size):
            header, _ = _read_header(f, size, path)
        embedded = _metadata(header, path).get(META_KEY)
    return _parse_embedded(embedded, path) if embedded is not None else _read_json(card_path(path))


def card_path(path: str | os.PathLike[str]) -> Path:
    """Where the sidecar card of the weights file ``path`` sits: ``NAME.json`` beside it."""
    return Path(path).with_suffix(CARD_SUFFIX)


def read_sidecar_card(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The validated sidecar card of the weights file ``path``, or ``None`` when there is none."""
    sidecar = card_path(path)
    card = _read_json(sidecar)
    return None if card is None else validate_card(card, str(sidecar))


def _parse_embedded(text: str, path: Path) -> Any:
    """The card embedded in ``path``'s header metadata, parsed (not validated)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # ValueError: bad JSON, or an integer of 5000 digits
        raise UserInputError(f"{path}: its embedded model card is not valid JSON") from None


def _read_json(path: Path) -> Any:
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


def _is_safetensors(f: io.BufferedReader, path: Path) -> bool:
    """By name, else by content: a JSON object right after the 8-byte header length.

    The length itself is left to :func:`_read_header`, so the header has one cap and one message. Neither
    a zip (``PK``, then version bytes) nor a pickle (``\\x80``, opcodes) has ``{`` at offset 8.
    """
    if path.suffix.lower() == SAFETENSORS_SUFFIX:
        return True
    head = f.read(9)
    f.seek(0)
    return len(head) == 9 and head[8:9] == b"{"


# ----- safetensors -----------------------------------------------------------------------------------
def _read_safetensors(f: io.BufferedReader, size: int,
                      path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    header, start = _read_header(f, size, path)
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


def _read_header(f: io.BufferedReader, size: int, path: Path) -> tuple[dict[str, Any], int]:
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


class _Entry(NamedTuple):
    dtype: torch.dtype
    shape: tuple[int, ...]
    begin: int
    end: int


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


def _read_tensor(f: io.BufferedReader, start: int, entry: _Entry, path: Path) -> torch.Tensor:
    """One tensor, read straight from the file into its own (aligned) buffer."""
    buffer = torch.empty(entry.end - entry.begin, dtype=torch.uint8)
    f.seek(start + entry.begin)
    view, done = buffer.numpy().data, 0
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


# ----- pickles ---------------------------------------------------------------------------------------
def _read_pickle(f: io.BufferedReader, size: int, path: Path) -> Any:
    _check_archive(f, size, path)
    f.seek(0)
    return _torch_load(f, path)


def _check_archive(f: io.BufferedReader, size: int, path: Path) -> None:
    """Refuse a zip ``.pth`` whose members would unpack to too much, before torch.load inflates them.

    torch.save stores its members uncompressed, so a real checkpoint unpacks to about its own size; a
    1 MB file that unpacks to 1 GiB is a zip bomb. The sizes come from the zip directory, which is also
    what torch's reader allocates by. Old (non-zip) pickles hold at most the file's own bytes.
    """
    # torch's zip files start with a member header, old pickles with b"\x80"; not zipfile.is_zipfile,
    # which also says yes to any file whose last 64 KiB happen to hold the end-of-directory signature.
    if f.read(4) != b"PK\x03\x04":
        return
    try:
        with zipfile.ZipFile(f) as archive:
            total = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UserInputError(f"{path} is not a readable PyTorch weights file "
                             f"({_first_line(exc)})") from None
    limit = min(files.MAX_WEIGHTS_BYTES, max(MAX_ZIP_EXPANSION * size, MIN_ZIP_ALLOWANCE))
    if total > limit:
        raise UserInputError(f"{path} would unpack to {format_bytes(total)} from {format_bytes(size)} on "
                             f"disk (at most {format_bytes(limit)}); refusing to load it (a zip bomb?)")


def _torch_load(f: io.BufferedReader, path: Path) -> Any:
    try:
        # weights_only=True: the unpickler accepts tensors and plain containers only, so a crafted
        # file cannot run code. There is deliberately no fallback to the unsafe loader.
        return torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise UserInputError(
                f"refused to load {path}: it holds Python objects other than tensors (a pickle that "
                "could run code when loaded); only plain state dicts are loaded. Convert it to "
                ".safetensors where it was made"
            ) from None
        raise UserInputError(f"{path} is not a PyTorch weights file (unreadable pickle)") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt pickle raises almost anything (IndexError, EOFError...)
        raise UserInputError(f"{path} is not a readable PyTorch weights file ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _normalise_state(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """A flat ``name -> tensor`` dict: unwraps ``{"state_dict": ...}`` and DataParallel's ``module.``."""
    for _ in range(3):  # checkpoints nest at most a couple of levels in practice
        if isinstance(obj, Mapping) and not _all_tensors(obj):
            inner = next((obj[k] for k in NESTED_STATE_KEYS if isinstance(obj.get(k), Mapping)), None)
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping) or not obj or not _all_tensors(obj):
        raise UserInputError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    state = {str(k): v for k, v in obj.items()}
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _all_tensors(obj: Mapping[Any, object]) -> bool:
    return all(isinstance(v, torch.Tensor) for v in obj.values())
