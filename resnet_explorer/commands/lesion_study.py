"""``resnet-explorer lesion-study``: Veit et al. 2016, the error with blocks deleted at test time."""

from __future__ import annotations

import argparse
from typing import Any

from resnet_explorer.commands.options import in_range
from resnet_explorer.commands.output import printable, report
from resnet_explorer.commands.study_args import add_model_data_options, load_target
from resnet_explorer.core import study_limits


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "lesion-study", help="error with each block deleted, and with k random blocks deleted (Veit et al.)",
        description="Veit et al. 2016: delete blocks of a trained network at test time (a block's F(x) "
                    "removed, its shortcut kept) and measure the test error: each block alone, then k "
                    "random blocks for every k. A plain net's block can only be deleted where it keeps the "
                    "feature map's shape (its input is passed on); the others are marked not deletable.")
    add_model_data_options(p, subset_help="use a fixed seeded subset of N test images (default: all)")
    p.add_argument("--draws", type=in_range(study_limits.DRAWS), default=5,
                   help="random sets of blocks per k (default 5; all sets where there are fewer)")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.commands.progress import StderrProgress

    target = load_target(args, "test")
    from resnet_explorer.core.lesion import lesion_study

    study = lesion_study(target, draws=args.draws, seed=args.seed, batch_size=args.batch_size,
                         progress=StderrProgress("lesion-study", "passes over the test images"))
    return report(args.json, study, _print_text)


def _print_text(study: Any, out: Any) -> None:
    base = study.base.error
    print(f"{printable(study.model_id)} on {study.dataset} ({study.split}, n={study.n}): error {base:.2%}  "
          f"(chance {study.chance_error:.2%})", file=out)
    how = "F(x) removed, shortcut kept" if study.residual else "its input passed on unchanged"
    print(f"\neach block deleted alone ({how}):", file=out)
    print(f"{'block':<10}  {'':<12}  {'error':>7}  {'change':>8}", file=out)
    for b in study.blocks:
        shape = "downsampling" if b.downsampling else ""
        if b.deletable:
            print(f"{b.name:<10}  {shape:<12}  {b.error:>7.2%}  {100 * (b.error - base):>+7.2f}%", file=out)
        else:
            print(f"{b.name:<10}  {shape:<12}  {'not deletable (no shortcut, shape changes)'}", file=out)
    print(f"\nk random blocks deleted ({study.draws} draws each, or every set where there are fewer):",
          file=out)
    print(f"{'k':>3}  {'sets':>4}  {'mean':>7}  {'std':>6}  {'min':>7}  {'max':>7}", file=out)
    for d in study.deletions:
        print(f"{d.k:>3}  {len(d.errors):>4}  {d.mean:>7.2%}  {d.std:>6.2%}  {min(d.errors):>7.2%}  "
              f"{max(d.errors):>7.2%}", file=out)
    for note in study.notes:
        print(f"note: {note}", file=out)
