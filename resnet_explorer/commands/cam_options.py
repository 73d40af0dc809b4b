"""``--cam METHOD --cam-stage STAGE --cam-out DIR``: class activation maps from the command line.

Shared by ``classify`` (an overlay per image and method) and ``sanity-check``. The parser part imports
nothing heavy (the method names come from the torch-free :mod:`core.cam_limits`).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from resnet_explorer.core import cam_limits

STAGE_HELP = ("where the map is computed: stem, a stage (layer1 ..., its last block's output; default: the "
              "last stage) or a block such as layer2.1 (its output after the addition and ReLU)")


class SlowProgress:
    """A ``progress(done, total)`` that stays quiet unless the work takes more than ``delay`` seconds.

    Score-CAM and occlusion take a fraction of a second on a 28 px model and minutes on ResNet-50 on a
    CPU: only the slow ones are worth a progress line on stderr.
    """

    def __init__(self, label: str, unit: str, delay: float = 2.0) -> None:
        self.label, self.unit, self.delay = label, unit, delay
        self.start = time.monotonic()
        self.shown: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.shown is None and time.monotonic() - self.start > self.delay:
            from resnet_explorer.commands.output import printable
            from resnet_explorer.commands.progress import StderrProgress

            self.shown = StderrProgress(printable(self.label), self.unit)
        if self.shown is not None:
            self.shown(done, total)


def add_cam_options(p: argparse.ArgumentParser, *, out_help: str) -> None:
    """``--cam`` (repeatable), ``--cam-stage`` and ``--cam-out``."""
    p.add_argument("--cam", action="append", choices=cam_limits.METHODS, metavar="METHOD",
                   help=f"class activation map of the top-1 class: {', '.join(cam_limits.METHODS)} "
                        "(repeat for several)")
    p.add_argument("--cam-stage", metavar="STAGE", default=None, help=STAGE_HELP)
    p.add_argument("--cam-out", metavar="DIR", default=None, help=out_help)


def classify_cam_methods(args: argparse.Namespace) -> list[str]:
    """The methods ``classify`` should draw; raises ``UserInputError`` for an incomplete request."""
    from resnet_explorer.core.errors import UserInputError

    methods = list(dict.fromkeys(getattr(args, "cam", None) or []))
    out = getattr(args, "cam_out", None)
    if methods and not out:
        raise UserInputError("--cam needs --cam-out DIR: the folder the overlays (PNG) are written to")
    if out and not methods:
        methods = ["gradcam"]  # --cam-out alone: the classic map
    if getattr(args, "cam_stage", None) and not methods:
        raise UserInputError("--cam-stage applies with --cam METHOD only")
    return methods


def overlay_stem(path: str, all_paths: list[str]) -> str:
    """The file-name stem for ``path``'s overlays: its own stem, made unique among ``all_paths``.

    Two inputs a/x.png and b/x.png would overwrite each other's overlays; the second and later get
    their position in the command line (1-based) appended: ``x-2``.
    """
    stem = Path(path).stem or "image"
    same = [p for p in dict.fromkeys(all_paths) if (Path(p).stem or "image") == stem]
    return stem if not same or same[0] == path else f"{stem}-{all_paths.index(path) + 1}"


def save_cams(loaded: Any, image: Any, path: str, args: argparse.Namespace,
              methods: list[str]) -> list[dict[str, Any]]:
    """Compute each method's map of the top-1 class and write its overlay into ``--cam-out``.

    Returns one entry per method for the JSON output: method, class, stage, layer and the file written.
    """
    if not methods:
        return []
    from resnet_explorer.core.heatmaps import save_overlay
    from resnet_explorer.core.probe import analyze

    out_dir = Path(args.cam_out)
    stem = overlay_stem(path, list(args.images))
    entries = []
    for method in methods:
        a = analyze(loaded, image, top_k=1, cam=method, cam_stage=args.cam_stage, feature_maps=False,
                    measures=False, ten_crop=bool(getattr(args, "ten_crop", False)),
                    progress=SlowProgress(f"{method} {path}", "forward passes"))
        target = out_dir / f"{stem}.{cam_limits.file_slug(method)}.png"
        assert a.cam is not None  # a CAM method was asked for, so there is a map
        save_overlay(target, a.display_image, a.cam)
        entries.append({"method": method, "class": a.cam_class, "class_name": loaded.class_names[a.cam_class],
                        "stage": a.cam_stage, "layer": a.cam_layer, "path": os.fspath(target)})
    return entries
