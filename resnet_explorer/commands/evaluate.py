"""``resnet-explorer evaluate``: top-1 / top-5 accuracy and loss of a model on a dataset split."""

from __future__ import annotations

import argparse

from resnet_explorer.commands.options import in_range
from resnet_explorer.commands.output import dumps, printable
from resnet_explorer.core import limits


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="top-1 / top-5 accuracy and loss of a model on a dataset",
                       description="Evaluate a model (an id from `resnet-explorer models`, or a model file "
                                   "written by `resnet-explorer train`) on a dataset split.")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="model id (e.g. resnet20-fashion-mnist) or path")
    which.add_argument("--weights", help="a model file with its card, e.g. OUT/resnet20/model.safetensors")
    p.add_argument("--dataset", required=True,
                   help="fashion-mnist, mnist, cifar10, cifar100, imagefolder:PATH, synthetic")
    p.add_argument("--split", default="test", choices=["test", "train"], help="which split (default test)")
    p.add_argument("--data-dir", help="where datasets are looked for (default: per-user data dir)")
    p.add_argument("--subset", type=in_range(limits.SUBSET),
                   help="evaluate on a fixed seeded subset of N images")
    p.add_argument("--batch-size", type=in_range(limits.EVAL_BATCH), default=500,
                   help="images per forward pass (default 500)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.commands.train import passive_openmp

    passive_openmp()
    from resnet_explorer.core.evaluation import evaluate, load_model_file, resolve_device

    ref = args.model
    if args.weights:
        ref = load_model_file(args.weights, resolve_device(args.device))
        ref.model_id = args.weights
    result = evaluate(ref, args.dataset, args.split, data_dir=args.data_dir, subset=args.subset,
                      batch_size=args.batch_size, device=args.device)
    if args.json:
        print(dumps(result))
    else:
        print(f"{printable(result['model'])} on {result['dataset']} ({result['split']}, n={result['n']}): "
              f"top-1 {result['top1']:.2%}  top-5 {result['top5']:.2%}  loss {result['loss']:.4f}")
    return 0
