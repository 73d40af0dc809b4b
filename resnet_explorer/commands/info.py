"""``resnet-explorer info ARCH``: the paper's Table 1 for one network."""

from __future__ import annotations

import argparse
import json

from resnet_explorer.commands.options import in_range
from resnet_explorer.core import limits


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print the paper's Table 1 (output sizes, params, MACs) for a net",
                       description="Per stage: output size, block spec, blocks, params and MACs "
                                   "(counted by running the model), then totals.")
    p.add_argument("arch", help="e.g. resnet50, resnet56, plain20 (see the README for all)")
    p.add_argument("--variant", default="torchvision", choices=["paper", "torchvision"],
                   help="bottleneck stride placement: paper (on the 1x1) or torchvision (on the 3x3)")
    p.add_argument("--shortcut", default=None, type=str.upper, choices=["A", "B", "C"],
                   help="A zero-padding, B projection where the shape changes, C projection everywhere "
                        "(default: B for ImageNet nets, A for CIFAR nets)")
    p.add_argument("--num-classes", type=in_range(limits.NUM_CLASSES), default=None,
                   help="classifier outputs")
    p.add_argument("--in-chans", type=in_range(limits.IN_CHANS), default=3, help="input channels")
    p.add_argument("--input-size", type=in_range(limits.IMAGE_SIDE), default=None,
                   help="input side in pixels (default 224 for ImageNet nets, 32 for CIFAR nets)")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    import torch

    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.resnet import build_model
    from resnet_explorer.core.summary import format_table, summarize

    try:
        # On the meta device: shapes, parameter counts and MACs need no weights and no arithmetic, so a
        # ResNet-152 at a large --input-size is counted in seconds without allocating its activations.
        with torch.device("meta"):
            model = build_model(args.arch, num_classes=args.num_classes, in_chans=args.in_chans,
                                shortcut=args.shortcut, variant=args.variant)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None
    size = None if args.input_size is None else (args.in_chans, args.input_size, args.input_size)
    summary = summarize(model, size)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(format_table(summary))
    return 0
