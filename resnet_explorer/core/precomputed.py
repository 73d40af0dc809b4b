"""Studies computed once for the bundled models and shipped beside them: the window opens them at once.

``assets/studies/<model id>.<kind>.json`` holds one lesion study (``kind`` "lesion") or one loss landscape
("landscape-<dims>d-<grid>"), with the command that made it and the fingerprint of the network it was
computed from (:func:`weights_sha256`: its tensors and what its card says about its inputs and outputs, not
the card's notes such as hardware or wall time, which a re-packaging rewrites). A result whose network has
changed since (the bundled models are retrained) is stale: :func:`read_study` refuses it rather than show
the old network's numbers under the new one's name.
``scripts/precompute_studies.py`` writes them.

The files are read like any input: size-capped, every field type-checked (:func:`lesion_from_dict`,
:func:`landscape_from_dict`), one line naming the problem.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import UserInputError
from .files import read_file_text
from .landscape import Landscape
from .lesion import BlockLesion, DeletionPoint, LesionStudy
from .studies import Measurement

FORMAT = 2  # 2: the fingerprint covers the network, not the whole file (1 hashed the file's bytes)
MAX_STUDY_BYTES = 8 * 1024 * 1024  # a 41x41 landscape is ~100 kB as JSON
# The parts of a model card that decide what a study measures (the rest is notes about training).
CARD_KEYS = ("model", "preprocessing", "class_names")


def studies_dir() -> Path | None:
    """``assets/studies``, or None when this installation has no assets."""
    from resnet_explorer.resources import asset

    try:
        return asset("studies")
    except FileNotFoundError:
        return None


def landscape_kind(dims: int, grid: int) -> str:
    """The file kind of a landscape with these settings: ``landscape-2d-11``."""
    return f"landscape-{dims}d-{grid}"


def study_path(model_id: str, kind: str, root: Path | None = None) -> Path | None:
    """Where the study ``kind`` of the bundled model ``model_id`` is shipped (None: no assets)."""
    root = root if root is not None else studies_dir()
    return None if root is None else root / f"{model_id}.{kind}.json"


def weights_sha256(path: str | Path) -> str:
    """The SHA-256 (hex) of the network in a model file: every tensor's name, dtype, shape and bytes, and
    the card's :data:`CARD_KEYS`. Two files of the same network with different training notes agree."""
    from .model_file import read_model

    state, card = read_model(path)
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().contiguous().cpu()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    card_part = {k: (card or {}).get(k) for k in CARD_KEYS}
    digest.update(json.dumps(card_part, sort_keys=True).encode())
    return digest.hexdigest()


def write_study(path: Path, kind: str, model_id: str, fingerprint: str, result: Any, command: str,
                hardware: str) -> Path:
    """Save ``result`` (a LesionStudy or Landscape) for ``model_id``, tied to the network whose
    :func:`weights_sha256` is ``fingerprint`` (take it before computing: a file rewritten meanwhile then
    shows as stale)."""
    from .checkpoint import atomic_write_json

    doc = {"format": FORMAT, "kind": kind, "model": model_id, "weights_sha256": fingerprint,
           "command": command, "hardware": hardware, "result": result.to_dict()}
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_json(path, doc)


def read_study(path: Path, kind: str, model_id: str, model_file: str | Path,
               label: str | None = None) -> tuple[Any, dict[str, Any]]:
    """The study saved at ``path`` and its header (command, hardware), checked against ``model_file``.

    Raises :class:`UserInputError` (one line, naming the file as ``label``, default its path) when the
    file is broken, is for another model or kind, or was computed from another network than
    ``model_file`` holds now.
    """
    label = label or str(path)
    text = read_file_text(path, MAX_STUDY_BYTES, label=label, noun="a study file")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to be a study
        raise UserInputError(f"{label} is not valid JSON ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UserInputError(f"{label} is not a study file of format {FORMAT}")
    if doc.get("kind") != kind or doc.get("model") != model_id:
        raise UserInputError(f"{label} holds {doc.get('kind')!s} of {doc.get('model')!s}, "
                             f"not {kind} of {model_id}")
    if doc.get("weights_sha256") != weights_sha256(model_file):
        raise UserInputError(f"{label} was computed from another version of {Path(model_file).name} "
                             "(its weights have changed since)")
    body = _field(doc, "result", dict, label)
    result = lesion_from_dict(body, label) if kind == "lesion" else landscape_from_dict(body, label)
    # One line of at most 300 characters each: they are shown in the window as they are.
    header = {k: " ".join(str(doc.get(k, "")).split())[:300] for k in ("command", "hardware")}
    return result, header


# ----- parsing, every field checked --------------------------------------------------------------------
def _field(d: dict[str, Any], key: str, kind: type | tuple[type, ...], label: str) -> Any:
    value = d.get(key)
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        value = None  # JSON true is not a number here
    if not isinstance(value, kind):
        raise UserInputError(f"{label}: '{key}' is missing or has the wrong type")
    return value


def _fraction(d: dict[str, Any], key: str, label: str, *, optional: bool = False) -> float | None:
    number = _number(d, key, label, optional=optional)
    if number is not None and not (math.isfinite(number) and 0.0 <= number <= 1.0):
        raise UserInputError(f"{label}: '{key}' must be a fraction between 0 and 1")
    return number


def _number(d: dict[str, Any], key: str, label: str, *, optional: bool = False) -> float | None:
    """A finite number; ``None`` where ``optional`` and absent (an undeletable block has no loss)."""
    if d.get(key) is None and optional:
        return None
    try:
        number = float(_field(d, key, (int, float), label))
    except OverflowError:  # an integer of hundreds of digits
        number = math.inf
    if not math.isfinite(number):
        raise UserInputError(f"{label}: '{key}' must be a finite number")
    return number


def lesion_from_dict(d: dict[str, Any], label: str = "lesion study") -> LesionStudy:
    """A :class:`LesionStudy` from its ``to_dict()``, every field checked."""
    blocks = []
    for b in _field(d, "blocks", list, label):
        b = b if isinstance(b, dict) else {}
        blocks.append(BlockLesion(
            str(_field(b, "name", str, label)), bool(_field(b, "downsampling", bool, label)),
            bool(_field(b, "deletable", bool, label)), _fraction(b, "error", label, optional=True),
            _number(b, "loss", label, optional=True)))
    deletions = []
    for p in _field(d, "deletions", list, label):
        p = p if isinstance(p, dict) else {}
        errors = _field(p, "errors", list, label)
        if not errors:
            raise UserInputError(f"{label}: a deletion point has no errors")
        k = int(_field(p, "k", int, label))
        if not 0 <= k <= len(blocks):
            raise UserInputError(f"{label}: a deletion point deletes {k} of {len(blocks)} blocks")
        deletions.append(DeletionPoint(k, tuple(_fraction({"e": e}, "e", label) or 0.0 for e in errors)))
    notes = [str(n) for n in _field(d, "notes", list, label)]
    base = Measurement(float(_number(d, "loss", label) or 0.0), float(_fraction(d, "error", label) or 0.0))
    return LesionStudy(str(_field(d, "model", str, label)), str(_field(d, "arch", str, label)),
                       bool(_field(d, "residual", bool, label)), str(_field(d, "dataset", str, label)),
                       str(_field(d, "split", str, label)), _positive(d, "n", label),
                       _positive(d, "num_classes", label), base, blocks, deletions,
                       _positive(d, "draws", label), int(_field(d, "seed", int, label)), notes)


def landscape_from_dict(d: dict[str, Any], label: str = "landscape") -> Landscape:
    """A :class:`Landscape` from its ``to_dict()``, shapes and values checked (None: a diverged loss)."""
    dims, grid = _positive(d, "dims", label), _positive(d, "grid", label)
    if dims not in (1, 2) or grid > 1001:
        raise UserInputError(f"{label}: dims must be 1 or 2 and grid at most 1001")
    shape = (grid,) * dims
    coords = _array(d, "coords", (grid,), label)
    loss, error = _array(d, "loss", shape, label), _array(d, "error", shape, label)
    if np.any(~np.isnan(error) & ((error < 0) | (error > 1))):  # NaN (null): a diverged point
        raise UserInputError(f"{label}: 'error' must hold fractions between 0 and 1")
    if not np.all(np.isfinite(coords)):
        raise UserInputError(f"{label}: 'coords' must be finite numbers")
    return Landscape(str(_field(d, "model", str, label)), str(_field(d, "arch", str, label)),
                     str(_field(d, "dataset", str, label)), str(_field(d, "split", str, label)),
                     _positive(d, "n", label), dims, grid, float(_number(d, "span", label) or 0.0),
                     int(_field(d, "seed", int, label)), coords, loss, error)


def _positive(d: dict[str, Any], key: str, label: str) -> int:
    value = int(_field(d, key, int, label))
    if value < 1:
        raise UserInputError(f"{label}: '{key}' must be at least 1")
    return value


def _array(d: dict[str, Any], key: str, shape: tuple[int, ...], label: str) -> np.ndarray:
    """Nested lists of numbers (None for NaN) of exactly ``shape`` as float64."""
    try:
        values = np.array(_field(d, key, list, label), dtype=np.float64)  # None -> nan
    except (TypeError, ValueError):
        raise UserInputError(f"{label}: '{key}' must hold numbers") from None
    if values.shape != shape:
        raise UserInputError(f"{label}: '{key}' has shape {values.shape}, expected {shape}")
    return values


def shipped_study(model_id: str, kind: str, root: Path | None = None) -> tuple[Any, dict[str, Any]] | None:
    """The shipped study ``kind`` of the bundled model ``model_id`` and its header; None when none ships.

    Raises :class:`UserInputError` when one ships but cannot be used (broken, or stale: computed from
    other weights than the bundled file holds now).
    """
    from .zoo import _bundled_ids, bundled_dir

    models = bundled_dir()
    path = study_path(model_id, kind, root)
    if models is None or path is None or model_id not in _bundled_ids() or not path.is_file():
        return None  # only bundled models' own ids: never a path (slashes, "..")
    weights = models / f"{model_id}.safetensors"
    if not weights.is_file():
        return None
    return read_study(path, kind, model_id, weights, label=path.name)  # the window: the name says enough
