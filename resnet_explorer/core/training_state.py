"""Training state on disk: everything ``--resume`` needs, in one atomically written file.

``state.safetensors`` holds the model's state dict (``model/<key>``), the optimizer's tensors
(``optimizer/<path>``) and the torch RNG state, and, in its safetensors metadata under
``resnet_explorer_state``, a JSON document with the rest: config, position in the data order (epoch and
step), partial-epoch sums, metric history, optimizer scalars, python and numpy RNG states. Because all of
it sits in one file written by rename, a crash leaves either the previous complete state or the new one,
never a mix. ``state.json`` beside it is the same JSON for people and tools to read (not used to resume).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from .checkpoint import atomic_write_bytes, atomic_write_json, save_tensors
from .errors import UserInputError
from .files import MAX_TABLE_BYTES, read_file_text
from .model_file import read_safetensors

STATE_FILE = "state.safetensors"
STATE_JSON = "state.json"
METRICS_FILE = "metrics.csv"
MODEL_FILE = "model.safetensors"
STATE_META_KEY = "resnet_explorer_state"
STATE_FORMAT = "resnet-explorer-training-state"

METRIC_COLUMNS = ["epoch", "train_loss", "train_error", "test_loss", "test_error", "test_top5_error", "lr",
                  "epoch_time_s", "elapsed_s", "images_per_s"]


def flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON-able copy of ``obj`` with each tensor moved into ``tensors`` and replaced by a reference."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().cpu()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        # JSON keys are strings; remember which ones were ints (optimizer state is keyed by param index).
        return {"__dict__": [[k, flatten(v, f"{prefix}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
    return obj


def unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten`."""
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def capture_rng() -> tuple[dict[str, Any], torch.Tensor]:
    """Python and numpy RNG states (JSON-able) and torch's CPU RNG state (a tensor)."""
    version, internal, gauss = random.getstate()
    # numpy's stubs type the argument-less call as the dict form (legacy=False), but the default is
    # legacy=True: this tuple, for the global MT19937 generator.
    state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())
    kind, keys, pos, has_gauss, cached = state
    doc = {"python": [version, list(internal), gauss],
           "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]}
    return doc, torch.get_rng_state()


def restore_rng(doc: dict[str, Any], torch_state: torch.Tensor | None) -> None:
    """Undo :func:`capture_rng`."""
    if "python" in doc:
        version, internal, gauss = doc["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in doc:
        kind, keys, pos, has_gauss, cached = doc["numpy"]
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if torch_state is not None:
        torch.set_rng_state(torch_state)


def save_state(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
               meta: dict[str, Any]) -> Path:
    """Atomically write ``run_dir/state.safetensors`` (and its readable copy ``state.json``)."""
    tensors: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        tensors[f"model/{key}"] = value
    rng_doc, torch_rng = capture_rng()
    tensors["rng/torch"] = torch_rng
    doc = {"format": STATE_FORMAT, "version": 1, **meta, "rng": rng_doc,
           "optimizer": flatten(optimizer.state_dict(), "optimizer", tensors)}
    doc["checksum"] = tensors_digest(tensors)
    path = save_tensors(run_dir / STATE_FILE, tensors, {STATE_META_KEY: json.dumps(doc)})
    readable = {k: v for k, v in doc.items() if k not in ("rng", "optimizer")}
    atomic_write_json(run_dir / STATE_JSON, readable)
    return path


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order (detects flipped bytes)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return "sha256:" + digest.hexdigest()


def has_state(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a training state to resume from."""
    return (run_dir / STATE_FILE).is_file()


def load_state(run_dir: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any], torch.Tensor]:
    """``(meta, model_state_dict, optimizer_state_dict, torch_rng_state)`` from ``run_dir``."""
    path = run_dir / STATE_FILE
    tensors, metadata = read_safetensors(path)
    try:
        doc = json.loads(metadata[STATE_META_KEY])
    except (KeyError, json.JSONDecodeError):
        raise UserInputError(f"{path}: not a resnet-explorer training state") from None
    if doc.get("format") != STATE_FORMAT:
        raise UserInputError(f"{path}: not a resnet-explorer training state")
    # States written before checksums existed have none; every state written since carries one.
    if "checksum" in doc and doc["checksum"] != tensors_digest(tensors):
        raise UserInputError(f"{path} is damaged (its checksum does not match): it cannot be resumed; "
                             f"restore a copy, or start again with --overwrite")
    model_sd = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
    optimizer_sd = unflatten(doc.pop("optimizer"), tensors)
    return doc, model_sd, optimizer_sd, tensors["rng/torch"]


def write_metrics_csv(run_dir: Path, history: list[dict[str, Any]]) -> Path:
    """Atomically (re)write ``metrics.csv``: a header and one row per completed epoch."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: _fmt(row.get(k)) for k in METRIC_COLUMNS})
    return atomic_write_bytes(run_dir / METRICS_FILE, buf.getvalue().encode())


def read_metrics_csv(path: Path) -> list[dict[str, float]]:
    """The rows of a ``metrics.csv`` as dicts of floats (``epoch`` as int)."""
    text = read_file_text(path, MAX_TABLE_BYTES, noun="a metrics table")  # never a pipe or a device
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [{k: (int(v) if k == "epoch" else float(v)) for k, v in r.items() if v != ""} for r in rows]


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value
