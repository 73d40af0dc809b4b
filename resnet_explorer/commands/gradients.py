"""``resnet-explorer gradients``: gradient norms at initialisation, plain vs residual (Balduzzi et al.)."""

from __future__ import annotations

import argparse
from typing import Any

from resnet_explorer.commands.options import in_range
from resnet_explorer.commands.output import report
from resnet_explorer.core import limits, study_limits


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gradients", help="per-layer gradient norms at initialisation, plain vs residual",
        description="On one seeded batch at He initialisation (train mode, as at the first training step): "
                    "the norm of the loss gradient at each block's output and for each conv layer's "
                    "weights, and Balduzzi et al.'s shattered-gradients measure (correlation of the input "
                    "gradient between neighbouring inputs on a line between two images).")
    p.add_argument("--arch", action="append", required=True,
                   help="an architecture, e.g. plain56; repeat to compare (--arch plain56 --arch resnet56)")
    p.add_argument("--dataset", default="synthetic",
                   help="where the batch comes from (default synthetic; fashion-mnist, cifar10, ...)")
    p.add_argument("--image-size", type=in_range(limits.IMAGE_SIDE),
                   help="side of synthetic / imagefolder images (default 16 / 32)")
    p.add_argument("--batch", type=in_range(study_limits.GRADIENT_BATCH), default=64,
                   help="images in the batch (default 64)")
    p.add_argument("--line-points", type=in_range(study_limits.LINE_POINTS), default=64,
                   help="inputs on the line for the shattered-gradients measure (default 64; 0 skips it)")
    p.add_argument("--seed", type=in_range(limits.SEED), default=0,
                   help="seed of the batch and of the initialisation (default 0)")
    p.add_argument("--data-dir", help="where datasets are looked for (default: per-user data dir)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.commands.train import passive_openmp

    passive_openmp()  # before torch is imported
    from resnet_explorer.commands.progress import StderrProgress
    from resnet_explorer.core.gradients import gradient_study

    study = gradient_study(args.arch, dataset=args.dataset, batch=args.batch, seed=args.seed,
                           image_size=args.image_size, line_points=args.line_points, data_dir=args.data_dir,
                           device=args.device, progress=StderrProgress("gradients", "networks"))
    return report(args.json, study, _print_text)


def _print_text(study: Any, out: Any) -> None:
    c, h, w = study.input_size
    print(f"at initialisation, seed {study.seed}, {study.batch} {study.dataset} images of {c}x{h}x{w}:",
          file=out)
    print(f"{'arch':<11}  {'loss':>6}  {'first/last block grad':>21}  {'conv grads span':>15}  "
          f"{'shattered corr':>14}", file=out)
    for a in study.archs:
        shattered = "-" if a.shattered is None else f"{a.shattered:.3f}"
        print(f"{a.arch:<11}  {a.loss:>6.3f}  {a.block_ratio:>21.3g}  {a.conv_spread:>10.2f} dec.  "
              f"{shattered:>14}", file=out)
    print("\n||dL/dh|| at each block's output h:", file=out)
    print("  ".join([f"{'#':>3}"] + [f"{a.arch:>11}" for a in study.archs]), file=out)
    for i in range(max(len(a.blocks) for a in study.archs)):
        cells = [f"{a.blocks[i].norm:>11.3e}" if i < len(a.blocks) else " " * 11 for a in study.archs]
        print("  ".join([f"{i + 1:>3}"] + cells), file=out)
