"""``resnet-explorer sanity-check``: Adebayo et al. 2018, CAMs under cascading randomisation."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from resnet_explorer.commands.cam_options import STAGE_HELP
from resnet_explorer.commands.options import in_range
from resnet_explorer.commands.output import dumps, printable
from resnet_explorer.core import cam_limits, limits

DEFAULT_METHODS = ("gradcam", "gradcam++", "layercam")  # as core.sanity.DEFAULT_METHODS (torch-free here)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sanity-check", help="do the CAMs depend on the weights? cascading randomisation (Adebayo et al.)",
        description="Adebayo et al. 2018: on a copy of the network, re-initialise the layers from the head "
                    "down (fc, the last stage, ..., the stem) and after each step compare every CAM method's "
                    "map with the intact network's (Spearman's rank correlation). A method whose map barely "
                    "changes once every weight is random shows the image, not the model, and is flagged. "
                    "BatchNorm weight and bias are reset to (1, 0); its running statistics are kept.")
    p.add_argument("image", metavar="IMAGE", help="a JPEG, PNG, GIF, BMP, TIFF or WebP file")
    p.add_argument("--model", metavar="ID", default=None,
                   help="a model id from `resnet-explorer models` or a model file (default: "
                        "resnet20-fashion-mnist)")
    p.add_argument("--cam", action="append", choices=cam_limits.METHODS, metavar="METHOD",
                   help=f"a method to check: {', '.join(cam_limits.METHODS)}; repeat for several "
                        f"(default: {', '.join(DEFAULT_METHODS)}; Score-CAM and occlusion run many "
                        "forward passes per step)")
    p.add_argument("--cam-stage", metavar="STAGE", default=None, help=STAGE_HELP)
    p.add_argument("--class", dest="cam_class", type=in_range(cam_limits.CLASS_INDEX), default=None,
                   metavar="N", help="the class to map (default: the intact network's top-1)")
    p.add_argument("--seed", type=in_range(limits.SEED), default=0,
                   help="seed of the new weights (default 0)")
    p.add_argument("--threshold", type=in_range(cam_limits.THRESHOLD), default=cam_limits.SANITY_THRESHOLD,
                   help="flag a method whose |rho| after full randomisation is above this (default 0.9)")
    p.add_argument("--cam-out", metavar="DIR", default=None,
                   help="also write every map as an overlay: STEP-PART.METHOD.png")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.commands.progress import StderrProgress
    from resnet_explorer.commands.train import passive_openmp

    passive_openmp()  # before torch is imported
    from resnet_explorer.core import zoo
    from resnet_explorer.core.images import open_image
    from resnet_explorer.core.sanity import sanity_check

    target = args.model or zoo.DEFAULT_MODEL
    loaded = zoo.load_model(target, args.device, progress=StderrProgress(f"downloading {target}", "bytes"))
    image = open_image(args.image)
    check = sanity_check(loaded, image, methods=args.cam or DEFAULT_METHODS, cam_class=args.cam_class,
                         cam_stage=args.cam_stage, seed=args.seed, threshold=args.threshold,
                         progress=StderrProgress("sanity-check", "maps"))
    doc = {"image": args.image, **check.to_dict()}
    if args.cam_out:
        doc["files"] = _save_maps(check, Path(args.cam_out))
    if args.json:
        print(dumps(doc))
    else:
        _print_text(doc, sys.stdout)
    return 0


def _save_maps(check: Any, out: Path) -> list[str]:
    from resnet_explorer.core.heatmaps import save_overlay

    files = []
    for step in check.steps:
        for method, cam in step.maps.items():
            path = out / f"{step.step:02d}-{step.randomised}.{cam_limits.file_slug(method)}.png"
            files.append(str(save_overlay(path, check.display_image, cam)))
    return files


def _print_text(doc: dict[str, Any], out: Any) -> None:
    methods = doc["methods"]
    print(f"{printable(doc['image'])}  ({printable(doc['model'])}), class {doc['class']} "
          f"({printable(doc['class_name'])}), maps at {doc['cam_stage']}", file=out)
    bn = doc["randomisation"]["batchnorm"]
    print(f"cascading randomisation, head first; BatchNorm: weight/bias {bn['weight_bias']}, running "
          f"statistics {bn['running_stats']}", file=out)
    print("Spearman's rho with the intact network's map:", file=out)
    width = max(len(m) for m in methods) + 2
    print(f"{'step':>4}  {'re-initialised':<16}" + "".join(f"{m:>{width}}" for m in methods), file=out)
    for s in doc["steps"]:
        cells = "".join(f"{_rho(s['rho'][m]):>{width}}" for m in methods)
        print(f"{s['step']:>4}  {s['randomised']:<16}{cells}", file=out)
    for method, v in doc["verdicts"].items():
        print(f"{method}: {v['verdict']} (rho {_rho(v['final_rho'])} with every layer random; flagged "
              f"above |rho| {doc['threshold']:g})", file=out)
    for path in doc.get("files", []):
        print(f"wrote {printable(path)}", file=out)


def _rho(value: float | None) -> str:
    return "const" if value is None else f"{value:+.3f}"
