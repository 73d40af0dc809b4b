"""Options and model loading shared by ``lesion-study`` and ``landscape`` (a model measured on data)."""

from __future__ import annotations

import argparse
from typing import Any

from resnet_explorer.commands.options import in_range
from resnet_explorer.core import limits


def add_model_data_options(p: argparse.ArgumentParser, *, subset_help: str) -> None:
    """``--model --dataset --subset --seed --batch-size --data-dir --device --json``."""
    p.add_argument("--model", required=True, metavar="ID",
                   help="a model id from `resnet-explorer models` (e.g. resnet56-fashion-mnist) or a "
                        "model file")
    p.add_argument("--dataset", required=True,
                   help="fashion-mnist, mnist, cifar10, cifar100, imagefolder:PATH, synthetic")
    p.add_argument("--subset", type=in_range(limits.SUBSET), help=subset_help)
    p.add_argument("--seed", type=in_range(limits.SEED), default=0,
                   help="seed of the subset and of the random draws (default 0)")
    p.add_argument("--batch-size", type=in_range(limits.EVAL_BATCH), default=500,
                   help="images per forward pass (default 500)")
    p.add_argument("--data-dir", help="where datasets are looked for (default: per-user data dir)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where to run")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def load_target(args: argparse.Namespace, split: str) -> Any:
    """The ``EvalSet`` the options describe (model on its device, the chosen images beside it)."""
    from resnet_explorer.commands.train import passive_openmp

    passive_openmp()  # before torch is imported
    from resnet_explorer.core.studies import load_eval_set

    return load_eval_set(args.model, args.dataset, split=split, subset=args.subset, seed=args.seed,
                         data_dir=args.data_dir, device=args.device)
