"""Compute the lesion study and the loss landscape of each bundled model once, to ship in assets/studies.

    python scripts/precompute_studies.py [--model ID ...] [--kind lesion|landscape ...] [--threads N]

With the settings the window opens with (so its Lesion study and "Why shortcuts work" tabs show them at
once): the lesion study on 1,000 test images with 5 draws per k (``resnet-explorer lesion-study --model
ID --dataset fashion-mnist --subset 1000``), the landscape as an 11 x 11 map over 256 test images
(``resnet-explorer landscape --model ID --dataset fashion-mnist --dims 2 --grid 11 --subset 256 --split
test``: the window measures test images), both seed 0. Each file records that command, this machine,
and the SHA-256 of the model file: run this again whenever the bundled models change (the window
ignores a result computed from other weights).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from resnet_explorer.core.devices import cpu_name
from resnet_explorer.core.landscape import loss_landscape
from resnet_explorer.core.lesion import lesion_study
from resnet_explorer.core.precomputed import (
    landscape_kind,
    read_study,
    study_path,
    weights_sha256,
    write_study,
)
from resnet_explorer.core.studies import load_eval_set
from resnet_explorer.core.zoo import BUNDLED_IDS, bundled_dir

# The window's defaults: gui/views/lesion_study.py (DEFAULT_SUBSET, DRAWS) and
# gui/views/shortcuts_landscape.py (DEFAULT_DIMS, DEFAULT_GRID, DEFAULT_SUBSET, SPAN, SEED).
LESION = {"subset": 1000, "draws": 5}
LANDSCAPE = {"dims": 2, "grid": 11, "subset": 256, "span": 1.0}
DATASET = "fashion-mnist"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="a bundled model id (default: every bundled model)")
    parser.add_argument("--kind", action="append", choices=["lesion", "landscape"],
                        help="what to compute (default: both)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None, help="folder to write to (default: assets/studies)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = args.model or list(BUNDLED_IDS)
    kinds = args.kind or ["lesion", "landscape"]
    folder = bundled_dir()
    if folder is None:
        print("precompute_studies: no assets/models here", file=sys.stderr)
        return 1
    hardware = f"{cpu_name()}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    for model_id in models:
        weights = folder / f"{model_id}.safetensors"
        for kind in kinds:
            start = time.monotonic()
            fingerprint = weights_sha256(weights)  # before computing: a file rewritten meanwhile shows below
            file_kind, result, command = compute(model_id, kind)
            path = study_path(model_id, file_kind, args.out)
            assert path is not None
            write_study(path, file_kind, model_id, fingerprint, result, command, hardware)
            read_study(path, file_kind, model_id, weights)  # what the window will read: fail here, not there
            print(f"{model_id}: {file_kind} in {time.monotonic() - start:.0f} s -> {path}", flush=True)
    return 0


def compute(model_id: str, kind: str) -> tuple[str, object, str]:
    """(file kind, result, the equivalent command) of one study of ``model_id``."""
    if kind == "lesion":
        target = load_eval_set(model_id, DATASET, subset=LESION["subset"], download=False)
        command = (f"resnet-explorer lesion-study --model {model_id} --dataset {DATASET} "
                   f"--subset {LESION['subset']} --draws {LESION['draws']}")
        return "lesion", lesion_study(target, draws=LESION["draws"]), command
    s = LANDSCAPE
    target = load_eval_set(model_id, DATASET, subset=s["subset"], download=False)
    command = (f"resnet-explorer landscape --model {model_id} --dataset {DATASET} --dims {s['dims']} "
               f"--grid {s['grid']} --span {s['span']:g} --subset {s['subset']} --split test")
    result = loss_landscape(target, dims=s["dims"], grid=s["grid"], span=s["span"])
    return landscape_kind(s["dims"], s["grid"]), result, command


if __name__ == "__main__":
    sys.exit(main())
