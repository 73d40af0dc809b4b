"""Weights: torchvision's published ImageNet weights on demand, and the architecture of a bare state dict.

Local weights files, these downloads among them, are read by :mod:`core.model_file` (safely: no code in a
file ever runs). torchvision's weights are downloaded on first use into ``torch.hub.get_dir()/checkpoints``,
the directory torchvision itself reads, so a file fetched by either is found by both. The download reports
progress (bytes done / total), can be cancelled through a ``threading.Event``, is checked against the sha256
prefix in the file name (``resnet50-0676ba61.pth``: torch.hub's convention) and is written to a temporary
file that is renamed only when complete and verified: an interrupted download never leaves a cache file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ExplorerError, UserInputError
from .files import format_bytes

ProgressFn = Callable[[int, int], None]

CHUNK_BYTES = 1 << 16
DEFAULT_TIMEOUT_S = 30.0


class DownloadError(ExplorerError):
    """A download failed (offline, server error, interrupted, wrong hash)."""


class DownloadCancelled(ExplorerError):
    """The user cancelled a download; nothing was written to the cache."""


# ----- torchvision's published weights ---------------------------------------------------------------
@dataclass(frozen=True)
class RemoteWeights:
    """One of torchvision's published ResNet weights, identified by this project's model id."""

    model_id: str
    arch: str
    url: str
    size_bytes: int
    weights_name: str  # e.g. "ResNet50_Weights.IMAGENET1K_V1", to find its metadata again
    top1: float

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def cache_path(self) -> Path:
        """Where torch.hub (and so torchvision) keeps this file."""
        return hub_checkpoint_dir() / self.filename

    @property
    def present(self) -> bool:
        return self.cache_path.is_file()

    def torchvision_weights(self) -> Any:
        """The torchvision ``WeightsEnum`` member (for its categories and transforms)."""
        import torchvision.models as tvm

        enum_name, member = self.weights_name.split(".")
        return getattr(getattr(tvm, enum_name), member)


def hub_checkpoint_dir() -> Path:
    """``torch.hub.get_dir()/checkpoints``: where torchvision looks for downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


@functools.lru_cache(maxsize=1)
def torchvision_catalog() -> dict[str, RemoteWeights]:
    """Model id -> torchvision weights: ``resnetN-imagenet`` (V1) and ``resnetN-imagenet-v2`` (V2)."""
    import torchvision.models as tvm

    catalog: dict[str, RemoteWeights] = {}
    for depth in (18, 34, 50, 101, 152):
        enum = getattr(tvm, f"ResNet{depth}_Weights")
        for member in enum:
            suffix = "" if member.name.endswith("V1") else "-" + member.name.rsplit("_", 1)[-1].lower()
            model_id = f"resnet{depth}-imagenet{suffix}"
            # torchvision records the size in MiB ("_file_size"); exact enough for a message.
            size = int(round(float(member.meta.get("_file_size", 0.0)) * 2**20))
            top1 = float(member.meta["_metrics"]["ImageNet-1K"]["acc@1"])
            catalog[model_id] = RemoteWeights(model_id, f"resnet{depth}", member.url, size,
                                              f"{enum.__name__}.{member.name}", top1)
    return catalog


def fetch(remote: RemoteWeights, *, progress: ProgressFn | None = None,
          cancel: threading.Event | None = None, timeout: float = DEFAULT_TIMEOUT_S) -> Path:
    """The cached file of ``remote``, downloading it first if needed.

    Offline (or on any network failure) the error names the model, the download size and the
    ``--weights PATH`` alternative.
    """
    if remote.present:
        return remote.cache_path
    try:
        return download(remote.url, remote.cache_path, progress=progress, cancel=cancel, timeout=timeout)
    except DownloadCancelled:
        raise
    except DownloadError as exc:
        size = format_bytes(remote.size_bytes or None)  # 0: torchvision did not say
        raise DownloadError(
            f"cannot download the weights of {remote.model_id} ({size} from "
            f"{remote.url}): {exc}. Connect to the internet once, or fetch that file elsewhere and use "
            f"--weights PATH (e.g. --weights {remote.filename}), or copy it to {remote.cache_path}"
        ) from None


# ----- the download itself ---------------------------------------------------------------------------
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{6,64})$")


def expected_hash_prefix(filename: str) -> str | None:
    """The sha256 prefix in a torch.hub-style file name (``resnet18-f37072fd.pth`` -> ``f37072fd``)."""
    stem = filename.split(".", 1)[0]
    match = _HASH_IN_NAME.search(stem)
    return match.group(1) if match else None


def download(url: str, dest: str | os.PathLike[str], *, progress: ProgressFn | None = None,
             cancel: threading.Event | None = None, timeout: float = DEFAULT_TIMEOUT_S,
             check_hash: bool = True) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying the hash prefix in ``dest``'s name.

    ``progress(done, total)`` is called after every chunk (``total`` is 0 when the server does not say);
    ``cancel.set()`` from any thread stops within one chunk or ``timeout`` seconds. ``timeout`` bounds
    every network wait (connect and each read), so a stalled server cannot hang the caller.
    Raises :class:`DownloadCancelled` or :class:`DownloadError`; either way no file is left behind.
    """
    dest = Path(dest)
    tmp_name: str | None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    except OSError as exc:
        raise DownloadError(f"cannot write to {dest.parent} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, progress=progress, cancel=cancel, timeout=timeout)
            out.flush()
            os.fsync(out.fileno())
        expected = expected_hash_prefix(dest.name) if check_hash else None
        if expected and not digest.startswith(expected):
            raise DownloadError(f"the downloaded file is corrupt: its sha256 starts "
                                f"{digest[:len(expected)]}, expected {expected}")
        os.replace(tmp_name, dest)
        tmp_name = None
    except OSError as exc:
        raise DownloadError(f"cannot write {dest} ({exc.strerror or exc})") from None
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return dest


def _stream(url: str, out: Any, *, progress: ProgressFn | None, cancel: threading.Event | None,
            timeout: float) -> str:
    """Copy ``url`` into ``out`` chunk by chunk; returns the sha256 hex digest of what was written."""
    sha = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": "resnet-explorer"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            if progress:
                progress(0, total)
            while True:
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled("download cancelled")
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (urllib.error.HTTPError) as exc:
        raise DownloadError(f"the server answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(f"no connection ({exc.reason})") from None
    except TimeoutError:  # socket.timeout is an alias
        raise DownloadError(f"no data for {timeout:g} s (network too slow or offline)") from None
    except OSError as exc:  # connection reset and the like
        raise DownloadError(f"the connection broke ({exc})") from None
    except Exception as exc:  # http.client.IncompleteRead and other protocol errors
        if isinstance(exc, ExplorerError):
            raise
        raise DownloadError(f"the transfer was interrupted ({type(exc).__name__})") from None
    if total and done != total:
        raise DownloadError(f"the transfer was interrupted after {done} of {total} bytes")
    return sha.hexdigest()


# ----- telling the architecture from the keys --------------------------------------------------------
_BLOCK_KEY = re.compile(r"^layer(\d+)\.(\d+)\.")


def infer_config(state: Mapping[str, torch.Tensor],
                 path: str | os.PathLike[str] = "weights") -> dict[str, Any]:
    """``build_model`` options (arch, num_classes, in_chans, shortcut) read off a bare state dict.

    The family comes from the stem's kernel (7x7 ImageNet, 3x3 CIFAR), depth from the blocks per stage,
    the block type from ``conv3``, classes and channels from the shapes. A residual net with parameter-free
    shortcuts (option A) has exactly the keys of its plain twin, so that case needs ``--arch``.
    """
    from .resnet import ARCHS, Bottleneck

    stem = state.get("conv1.weight")
    fc = state.get("fc.weight")
    if stem is None or fc is None or stem.dim() != 4 or fc.dim() != 2:
        raise UserInputError(f"{path} is not a ResNet state dict (no conv1.weight / fc.weight); "
                             "only torchvision-style ResNet keys are understood")
    family = "imagenet" if stem.shape[-1] == 7 else "cifar"
    layers = _blocks_per_stage(state)
    bottleneck = any(k.endswith(".conv3.weight") for k in state)
    has_projection = any(".downsample." in k for k in state)
    every_block_projects = bool(layers) and all(f"layer{s + 1}.{i}.downsample.0.weight" in state
                                                for s, n in enumerate(layers) for i in range(n))
    matches = [name for name, spec in ARCHS.items() if spec.family == family and spec.layers == layers
               and (spec.block is Bottleneck) == bottleneck]
    residual_matches = [m for m in matches if m.startswith("resnet")]
    if not residual_matches:
        raise UserInputError(f"{path}: no known ResNet has {list(layers)} blocks per stage "
                             f"({'bottleneck' if bottleneck else 'basic'} blocks, {family} stem)")
    resnet_name = residual_matches[0]
    if not has_projection:
        plain_name = resnet_name.replace("resnet", "plain")
        raise UserInputError(f"{path} could be {resnet_name} with zero-padding shortcuts or {plain_name} "
                             f"(their keys are the same); say which with --arch {resnet_name} or "
                             f"--arch {plain_name}")
    return {"arch": resnet_name, "num_classes": int(fc.shape[0]), "in_chans": int(stem.shape[1]),
            "shortcut": "C" if every_block_projects else "B"}


def _blocks_per_stage(state: Mapping[str, torch.Tensor]) -> tuple[int, ...]:
    counts: dict[int, int] = {}
    for key in state:
        m = _BLOCK_KEY.match(key)
        if m:
            stage, index = int(m.group(1)), int(m.group(2))
            counts[stage] = max(counts.get(stage, 0), index + 1)
    return tuple(counts[s] for s in sorted(counts))
