"""The README's numbers for Veit et al. (lesions) and Li et al. (landscapes), read from the shipped studies.

    python scripts/studies_report.py [--json]

Reads ``assets/studies/<id>.lesion.json`` and ``<id>.landscape-2d-11.json`` of every bundled model
(written by ``scripts/precompute_studies.py``; each is checked against the shipped model file, so a
study of other weights is refused) and prints, per model:

* lesions (1,000 test images): the intact error; the error with one non-downsampling block deleted
  (median and worst over those blocks); the downsampling blocks' (or "not deletable"); the mean error
  with k random blocks deleted at a few k, and the largest rise of that mean from one k to the next
  (a smooth curve has no big step);
* landscapes (11 x 11 over 256 test images, filter-normalised directions, span 1): the loss at the
  trained weights, the lowest and highest loss on the grid, and the number of strict local minima
  (points lower than all 8 neighbours; Li et al.'s plain-56 surface has many, ResNet-56's one).

Nothing is computed here: the numbers are the shipped files'.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import numpy as np

from resnet_explorer.commands.output import dumps
from resnet_explorer.core.precomputed import read_study, study_path
from resnet_explorer.core.zoo import BUNDLED_IDS, bundled_dir

LANDSCAPE_KIND = "landscape-2d-11"
K_SHOWN = (1, 2, 4, 8)


def lesion_summary(study: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one lesion study's ``to_dict()`` that the README quotes (errors in %)."""
    blocks = study["blocks"]
    plain = [100 * b["error"] for b in blocks if b["deletable"] and not b["downsampling"]]
    down = [(b["name"], None if b["error"] is None else 100 * b["error"])
            for b in blocks if b["downsampling"]]
    means = {d["k"]: 100 * d["mean"] for d in study["deletions"]}
    steps = [means[k] - means[k - 1] for k in sorted(means) if k - 1 in means]
    return {"model": study["model"], "residual": study["residual"], "n": study["n"],
            "intact_error": 100 * study["error"], "chance_error": 100 * study["chance_error"],
            "single_median": float(np.median(plain)) if plain else math.nan,
            "single_worst": max(plain, default=math.nan), "single_blocks": len(plain),
            "downsampling": down, "mean_at_k": {k: means[k] for k in K_SHOWN if k in means},
            "k_all": max(means, default=0), "mean_at_all": means[max(means)] if means else math.nan,
            "largest_step": max(steps, default=math.nan)}


def local_minima(loss: np.ndarray) -> int:
    """Grid points strictly lower than each of their (up to 8) neighbours; edges count too."""
    padded = np.pad(loss.astype(float), 1, constant_values=np.inf)
    rows, cols = loss.shape
    centre = padded[1:-1, 1:-1]
    lower = np.ones_like(centre, dtype=bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di or dj:
                lower &= centre < padded[1 + di:1 + di + rows, 1 + dj:1 + dj + cols]
    return int(lower.sum())


def landscape_summary(surface: dict[str, Any]) -> dict[str, Any]:
    """The numbers of one 2-D landscape's ``to_dict()`` that the README quotes."""
    loss = np.array([[math.nan if v is None else v for v in row] for row in surface["loss"]], dtype=float)
    mid = surface["grid"] // 2
    finite = loss[np.isfinite(loss)]
    return {"model": surface["model"], "n": surface["n"], "grid": surface["grid"], "span": surface["span"],
            "centre_loss": float(loss[mid, mid]), "min_loss": float(finite.min()),
            "max_loss": float(finite.max()), "non_finite": int(loss.size - finite.size),
            "local_minima": local_minima(np.where(np.isfinite(loss), loss, np.inf))}


def read(model_id: str, kind: str) -> dict[str, Any] | None:
    """The shipped study ``kind`` of ``model_id`` as its ``to_dict()``; None when none ships."""
    folder, path = bundled_dir(), study_path(model_id, kind)
    if folder is None or path is None or not path.is_file():
        return None
    result, _header = read_study(path, kind, model_id, folder / f"{model_id}.safetensors")  # refuses
    return result.to_dict()  # other weights; the same dict the file holds, every field checked


def markdown(lesions: list[dict[str, Any]], landscapes: list[dict[str, Any]]) -> str:
    """Two tables, as in the README."""
    lines = ["| model | intact error % | one non-downsampling block deleted: median / worst % | "
             "downsampling blocks deleted % | mean error with k blocks deleted (k = "
             + ", ".join(map(str, K_SHOWN)) + ", all) % | largest rise from k to k+1 (points) |",
             "|---|---|---|---|---|---|"]
    for s in lesions:
        down = ", ".join("not deletable" if e is None else f"{e:.1f}" for _, e in s["downsampling"])
        at_k = ", ".join(f"{v:.1f}" for v in s["mean_at_k"].values())
        lines.append(f"| {s['model']} | {s['intact_error']:.1f} | {s['single_median']:.1f} / "
                     f"{s['single_worst']:.1f} | {down} | {at_k}, {s['mean_at_all']:.1f} (k={s['k_all']}) | "
                     f"{s['largest_step']:.1f} |")
    lines += ["", "| model | loss at the trained weights | lowest / highest loss on the grid | "
                  "strict local minima on the grid |", "|---|---|---|---|"]
    for s in landscapes:
        lines.append(f"| {s['model']} | {s['centre_loss']:.3f} | {s['min_loss']:.3f} / {s['max_loss']:.2f} | "
                     f"{s['local_minima']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON document instead of Markdown")
    args = parser.parse_args(argv)
    lesions, landscapes = [], []
    for model_id in BUNDLED_IDS:
        if (study := read(model_id, "lesion")) is not None:
            lesions.append(lesion_summary(study))
        if (surface := read(model_id, LANDSCAPE_KIND)) is not None:
            landscapes.append(landscape_summary(surface))
        if study is None or surface is None:
            print(f"{model_id}: no shipped lesion study or landscape, left out", file=sys.stderr)
    if args.json:
        print(dumps({"lesion": lesions, "landscape": landscapes}))
    else:
        print(markdown(lesions, landscapes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
