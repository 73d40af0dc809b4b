"""``resnet-explorer evaluate``: top-1 / top-5 accuracy and loss of a model on a dataset split."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

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
    p.add_argument("--misclassified", metavar="DIR", default=None,
                   help="write the most confident mistakes into DIR as PNGs named by rank, index in the "
                        "split, true and predicted class and confidence")
    p.add_argument("--top", type=in_range(limits.MISTAKES), default=16, metavar="N",
                   help="how many mistakes --misclassified writes (default 16)")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.commands.train import passive_openmp

    passive_openmp()
    from resnet_explorer.core.devices import resolve_device
    from resnet_explorer.core.evaluation import evaluate, load_model_file

    ref = args.model
    if args.weights:
        ref = load_model_file(args.weights, resolve_device(args.device))
        ref.model_id = args.weights
    result = evaluate(ref, args.dataset, args.split, data_dir=args.data_dir, subset=args.subset,
                      batch_size=args.batch_size, device=args.device,
                      misclassified=args.top if args.misclassified else 0)
    if args.misclassified:
        save_mistakes(result["misclassified"], args.misclassified)
    if args.json:
        print(dumps(result))
    else:
        print(f"{printable(result['model'])} on {result['dataset']} ({result['split']}, n={result['n']}): "
              f"top-1 {result['top1']:.2%}  top-5 {result['top5']:.2%}  loss {result['loss']:.4f}")
        print_per_class(result)
    return 0


def save_mistakes(mistakes: list[dict[str, Any]], folder: str) -> None:
    """Write each mistake's picture as a PNG in ``folder``; its ``image`` entry becomes ``path``."""
    from resnet_explorer.core.heatmaps import save_image

    width = len(str(len(mistakes)))
    for rank, m in enumerate(mistakes, 1):
        name = (f"{rank:0{width}d}_index{m['index']}_true-{_slug(m['true_name'])}_pred-"
                f"{_slug(m['predicted_name'])}_conf{m['confidence']:.3f}.png")
        image = m.pop("image")
        m["path"] = str(save_image(Path(folder) / name, image[..., 0] if image.shape[-1] == 1 else image))


def _slug(name: str) -> str:
    """A class name in a file name: "T-shirt/top" -> "T-shirt_top"."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("_")[:40] or "class"


def print_per_class(result: dict[str, Any]) -> None:
    """Accuracy per class (up to 30 classes), then the mistakes written, if any."""
    rows = result.get("per_class", [])
    if 1 < len(rows) <= 30:
        width = max(len(printable(r["name"])) for r in rows)
        for r in rows:
            acc = "-" if r["accuracy"] is None else f"{r['accuracy']:7.2%}"
            print(f"  {printable(r['name']):<{width}}  {acc:>7}  ({r['correct']}/{r['n']})")
    for m in result.get("misclassified", []):
        print(f"  mistake: #{m['index']} {printable(m['true_name'])} taken for "
              f"{printable(m['predicted_name'])} ({m['confidence']:.1%}): {printable(m['path'])}")
