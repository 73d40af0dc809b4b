"""``resnet-explorer models``: every model id, where its weights come from and whether they are here."""

from __future__ import annotations

import argparse

from resnet_explorer.commands.output import dumps


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list model ids, their weights' source and whether they are present",
                       description="Bundled models (trained by this project) and torchvision's ImageNet "
                                   "weights (downloaded on first use into torch's hub cache).")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.core.files import format_bytes
    from resnet_explorer.core.zoo import DEFAULT_MODEL, list_models

    entries = list_models()
    if args.json:
        print(dumps({"default": DEFAULT_MODEL, "models": [e.to_dict() for e in entries]}))
        return 0
    rows = [(e.id + (" *" if e.id == DEFAULT_MODEL else ""), e.arch, e.source,
             "yes" if e.present else ("download" if e.source == "torchvision" else "missing"),
             format_bytes(e.size_bytes) if e.size_bytes else "-", e.description) for e in entries]
    header = ("id", "arch", "source", "present", "size", "description")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths) + ("-" * 11,), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row[:5], widths, strict=True)) + "  " + row[5])
    print(f"* default model. Weights cache: torch hub ({_cache_dir()}). "
          "Any checkpoint file also works: --weights PATH")
    return 0


def _cache_dir() -> str:
    from resnet_explorer.core.weights import hub_checkpoint_dir

    return str(hub_checkpoint_dir())
