"""``resnet-explorer classify IMAGE...``: top-k classes per image.

A bad image gets one line on stderr and the others still run; the exit status is 2 if any image failed.
With ``--json`` stdout carries one JSON document and nothing else; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from resnet_explorer.commands.cam_options import add_cam_options, classify_cam_methods, save_cams
from resnet_explorer.commands.options import in_range
from resnet_explorer.commands.output import dumps, printable
from resnet_explorer.core import limits


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="top-k predictions for one or more images",
                       description="Classify images with a bundled model, torchvision's ImageNet "
                                   "weights (downloaded on first use) or a checkpoint file.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="JPEG, PNG, GIF, BMP, TIFF or WebP files")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", metavar="ID", default=None,
                       help="a model id from 'resnet-explorer models' (default: resnet20-fashion-mnist)")
    which.add_argument("--weights", metavar="PATH", default=None,
                       help="a checkpoint: this project's .safetensors, or a torchvision-style "
                            ".safetensors/.pth state dict")
    p.add_argument("--arch", default=None,
                   help="architecture of a bare --weights state dict when its keys cannot tell "
                        "(e.g. resnet20 vs plain20)")
    p.add_argument("--top-k", type=in_range(limits.TOP_K), default=5,
                   help="how many classes to show (default 5)")
    p.add_argument("--ten-crop", action="store_true",
                   help="average the softmax over 10 crops (corners, centre, mirrored), as the paper tests")
    p.add_argument("--convert", action="store_true",
                   help="first make each image like the model's training pictures, as Fashion-MNIST's were "
                        "made (grey, light background inverted, trimmed, centred on black, 28x28); for "
                        "Fashion-MNIST / MNIST models")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    add_cam_options(p, out_help="folder for the overlays: IMAGE-STEM.METHOD.png per image and method, the "
                                "map over what the network saw")


class _StderrProgress:
    """Download progress on stderr: a redrawn line on a terminal, every 10% otherwise."""

    def __init__(self, label: str) -> None:
        self.label, self.tty = label, sys.stderr.isatty()
        self.last_step, self.last_draw = -1, 0.0

    def __call__(self, done: int, total: int) -> None:
        from resnet_explorer.core.files import format_bytes

        step = int(done * 10 / total) if total else -1
        now = time.monotonic()
        finished = total and done >= total
        if self.tty and (now - self.last_draw > 0.1 or finished):
            pct = f" {100 * done / total:5.1f}%" if total else ""
            # total 0: the server did not say
            print(f"\rdownloading {self.label}: {format_bytes(done)} of {format_bytes(total or None)}{pct}",
                  end="\n" if finished else "", file=sys.stderr, flush=True)
            self.last_draw = now
        elif not self.tty and step != self.last_step and total:
            print(f"downloading {self.label}: {step * 10}% of {format_bytes(total)}", file=sys.stderr)
            self.last_step = step


def _load(args: argparse.Namespace) -> Any:
    from resnet_explorer.core import zoo
    from resnet_explorer.core.errors import UserInputError

    target = args.weights or args.model or zoo.DEFAULT_MODEL
    if args.arch and not args.weights:
        raise UserInputError("--arch applies to --weights PATH only")
    if args.weights is None and args.model is None:
        entry = next((e for e in zoo.list_models() if e.id == zoo.DEFAULT_MODEL), None)
        if entry is not None and not entry.present:
            raise UserInputError(f"no --model given and the default model {zoo.DEFAULT_MODEL} is not in "
                                 f"this installation yet; {zoo.availability_hint()}")
    return zoo.load_model(target, args.device, progress=_StderrProgress(str(target)), arch=args.arch)


def _classify_one(loaded: Any, path: str, args: argparse.Namespace) -> dict[str, Any]:
    from resnet_explorer.core.images import open_image
    from resnet_explorer.core.probe import analyze

    image = open_image(path, keep_alpha=True)  # transparency goes over the model's own background
    domain = loaded.domain
    reasons = domain.check(image)
    shown = domain.convert(image) if args.convert else image
    result = analyze(loaded, shown, top_k=args.top_k, gradcam=False, feature_maps=False, measures=False,
                     ten_crop=args.ten_crop)
    return {"image": path, "size": list(image.size), "converted": bool(args.convert),
            "unlike_training": [r.to_dict() for r in reasons],
            "top_k": [{"index": p.index, "name": p.name, "prob": p.prob} for p in result.top_k],
            "cams": save_cams(loaded, shown, path, args, classify_cam_methods(args))}


def _print_text(loaded: Any, result: dict[str, Any]) -> None:
    print(f"{printable(result['image'])}  ({printable(loaded.model_id)})")
    width = max(len(p["name"]) for p in result["top_k"])
    for rank, p in enumerate(result["top_k"], 1):
        print(f"  {rank}. {p['name']:<{width}}  {100 * p['prob']:6.2f}%  (class {p['index']})")
    for cam in result.get("cams", []):
        print(f"  {cam['method']} of {cam['class_name']} at {cam['layer']}: {printable(cam['path'])}")
    _print_domain_note(loaded, result)


def _print_domain_note(loaded: Any, result: dict[str, Any]) -> None:
    """Why the answer may be wrong: the picture is unlike the training pictures (and what was done)."""
    domain = loaded.domain
    reasons = "; ".join(r["text"] for r in result["unlike_training"])
    if result["converted"]:
        print(f"  converted like {domain.name} (grey; a light background inverted; trimmed to the object; "
              f"centred on black)" + (f"; the original: {reasons}" if reasons else ""))
    elif reasons:
        print(f"  note: unlike the training pictures ({domain.describe()}): {reasons}; "
              "--convert makes it like them")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.core.errors import ExplorerError, UserInputError

    classify_cam_methods(args)  # an incomplete --cam request fails before the model loads
    loaded = _load(args)
    if args.convert and not loaded.domain.convertible:
        raise UserInputError(f"--convert makes images like Fashion-MNIST's or MNIST's; {loaded.model_id} "
                             f"was trained on {loaded.domain.describe()}: give it the photos as they are")
    results, errors = [], []
    for path in args.images:
        try:
            result = _classify_one(loaded, path, args)
        except (ExplorerError, OSError) as exc:  # OSError: any path error the reader did not word itself
            message = str(exc) if isinstance(exc, ExplorerError) else f"{path}: {exc.strerror or exc}"
            print(f"resnet-explorer classify: error: {printable(message)}", file=sys.stderr)
            errors.append({"image": path, "error": message})
            continue
        results.append(result)
        if not args.json:
            _print_text(loaded, result)
    if args.json:
        doc = {"model": loaded.model_id, "arch": loaded.arch, "device": str(loaded.device),
               "ten_crop": bool(args.ten_crop), "domain": loaded.domain.to_dict(), "results": results,
               "errors": errors}
        print(dumps(doc))
    return 2 if errors else 0
