"""``resnet-explorer landscape``: Li et al. 2018, the training loss along filter-normalised directions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from resnet_explorer.commands.options import in_range
from resnet_explorer.commands.output import dumps, printable
from resnet_explorer.commands.study_args import add_model_data_options, load_target
from resnet_explorer.core import study_limits

# Every grid point is one pass over the images: 31 x 31 passes over all 60k Fashion-MNIST training
# images would take a CPU days, over 1000 of them minutes.
DEFAULT_SUBSET = 1000


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "landscape", help="the loss along random filter-normalised directions (Li et al.)",
        description="Li et al. 2018: the loss and error (on training images, or test images with --split "
                    "test) at theta + a*d1 (+ b*d2) for a, b from "
                    "-SPAN to SPAN, around the trained weights theta, with seeded random directions "
                    "normalised filter by filter (each filter of d scaled to the norm of theta's filter; "
                    "zero for biases and BN parameters; BN statistics untouched, eval mode).")
    add_model_data_options(p, subset_help=f"a fixed seeded subset of N images of --split "
                                          f"(default {DEFAULT_SUBSET}; every grid point is one pass)")
    p.add_argument("--dims", type=int, choices=study_limits.LANDSCAPE_DIMS, default=1,
                   help="1: a line; 2: a surface (grid x grid points)")
    p.add_argument("--grid", type=in_range(study_limits.GRID), default=31,
                   help="points per direction (default 31; odd puts one on the trained weights)")
    p.add_argument("--span", type=in_range(study_limits.SPAN), default=1.0,
                   help="reach along each direction, in filter-normalised steps (default 1.0)")
    p.add_argument("--split", choices=["train", "test"], default="train",
                   help="whose images: the training set (default, as Li et al.) or the test set (what the "
                        "window's landscape view measures)")
    p.add_argument("--out", metavar="FILE", help="save the result as FILE.npz or FILE.json")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.commands.progress import StderrProgress

    _check_out(args.out)
    args.subset = args.subset or DEFAULT_SUBSET
    target = load_target(args, args.split)
    from resnet_explorer.core.landscape import loss_landscape

    result = loss_landscape(target, dims=args.dims, grid=args.grid, span=args.span, seed=args.seed,
                            batch_size=args.batch_size,
                            progress=StderrProgress("landscape", "grid points"))
    saved = str(result.save(args.out)) if args.out else None
    if args.json:
        print(dumps({**result.to_dict(), "saved": saved}))
    else:
        _print_text(result, saved, sys.stdout)
    return 0


def _check_out(out: str | None) -> None:
    """Refuse a bad suffix before the minutes of computing, not after."""
    from resnet_explorer.core.errors import UserInputError

    if out and not out.lower().endswith((".npz", ".json")):
        raise UserInputError(f"--out {printable(out)}: use a .npz or .json file name")


def _print_text(result: Any, saved: str | None, out: Any) -> None:
    print(f"{printable(result.model_id)} on {result.dataset} ({result.split}, n={result.n}), seed "
          f"{result.seed}: loss along {result.dims} filter-normalised direction(s)", file=out)
    if result.dims == 1:
        print(f"{'step':>7}  {'loss':>9}  {'error':>7}", file=out)
        for a, loss, err in zip(result.coords, result.loss, result.error, strict=True):
            print(f"{a:>+7.3f}  {loss:>9.4f}  {err:>7.2%}", file=out)
    else:
        mid = result.grid // 2
        print(f"loss from {result.loss.min():.4f} to {result.loss.max():.4f} over {result.grid}x"
              f"{result.grid} points; slices through the middle:", file=out)
        print(f"{'step':>7}  {'along d1':>9}  {'along d2':>9}", file=out)
        for i, a in enumerate(result.coords):
            print(f"{a:>+7.3f}  {result.loss[i, mid]:>9.4f}  {result.loss[mid, i]:>9.4f}", file=out)
    centre = result.centre()
    if centre is not None:
        print(f"at the trained weights: loss {centre.loss:.4f}, error {centre.error:.2%}", file=out)
    if saved:
        print(f"saved {printable(saved)}", file=out)
