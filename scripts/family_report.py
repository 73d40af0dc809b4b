"""The README's Table-6-style report on the bundled Fashion-MNIST family, measured from the shipped files.

    python scripts/family_report.py [--images 1000] [--no-clean] [--json]

For every bundled ``<arch>-fashion-mnist`` model it prints the final training error (with augmentation,
from the recorded run: what the paper's Fig. 6 plots), the final weights' error on all 60,000 training
images without augmentation (``resnet-explorer evaluate --split train``; a second, noise-free view of the
same claim, skipped with ``--no-clean``), the test error (from the card, which ``evaluate`` reproduces),
the paper's CIFAR-10 test error and akamaster's reproduction beside it, and the Fig. 7 mean response
std on the first ``--images`` test images (:mod:`resnet_explorer.core.responses`). Then it checks the
paper's statements on these numbers, one line each: "holds" or "does NOT hold", with the numbers.
Nothing is tuned or hard-coded except the paper's own table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from resnet_explorer.commands.output import dumps
from resnet_explorer.core.data import load_dataset, normalize
from resnet_explorer.core.evaluation import evaluate
from resnet_explorer.core.recorded_runs import RecordedRunMissing, load_recorded_run
from resnet_explorer.core.resnet import ARCHS
from resnet_explorer.core.responses import layer_response_stds, response_summary
from resnet_explorer.core.training_budget import budget_differences, budget_of
from resnet_explorer.core.zoo import load_model

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "assets" / "models"
DATASET = "fashion-mnist"
# He et al. 2015, Table 6 (CIFAR-10 test error %), and akamaster/pytorch_resnet_cifar10's reproduction.
PAPER = {"resnet20": 8.75, "resnet32": 7.51, "resnet44": 7.17, "resnet56": 6.97, "resnet110": 6.43}
AKAMASTER = {"resnet20": 8.27, "resnet32": 7.37, "resnet44": 6.90, "resnet56": 6.61, "resnet110": 6.32}


@dataclass
class Member:
    """One bundled model's measured numbers (errors in %)."""

    arch: str
    depth: int
    residual: bool
    params: int
    train_error: float
    test_error: float
    response_std: float
    clean_train_error: float = math.nan  # final weights, un-augmented training split; nan: not measured


def members(images: int, clean: bool = False) -> list[Member]:
    """Measure every bundled family member: those of the recorded family run, or, before one is shipped,
    every bundled model trained like the default one (the others are named and left out). ``clean``: also
    the error on the whole un-augmented training split (one pass over 60k images per member)."""
    test_images = load_dataset(DATASET, download=False).test.images[:images]  # once, for every member
    try:
        run = load_recorded_run("family")
    except RecordedRunMissing:
        return [measure(arch, test_images, None, clean) for arch in bundled_alike()]
    return [measure(c.name, test_images, c.train_error, clean) for c in run.ordered()]


def bundled_alike() -> list[str]:
    """Archs of the bundled ``<arch>-fashion-mnist`` models trained like resnet20 (by their cards), plain
    nets first, then by depth."""
    reference = budget_of(read_card(MODELS / f"resnet20-{DATASET}.json"))
    archs = []
    for path in sorted(MODELS.glob(f"*-{DATASET}.json")):
        arch = path.name.removesuffix(f"-{DATASET}.json")
        differences = budget_differences(reference, budget_of(read_card(path)))
        if differences:
            # stderr: with --json, stdout is one JSON document
            print(f"({arch} left out: trained differently, {'; '.join(differences)})", file=sys.stderr)
        else:
            archs.append(arch)
    return sorted(archs, key=lambda a: (a.startswith("resnet"), ARCHS[a].depth))


def read_card(path: Path) -> dict:
    return json.loads(path.read_text())


def measure(arch: str, test_images: torch.Tensor, train_curve: np.ndarray | None,
            clean: bool = False) -> Member:
    """One member's numbers: training error from its recorded curve (else its card), test error from its
    card, the Fig. 7 mean response std on ``test_images`` and, with ``clean``, the error on the whole
    un-augmented training split."""
    loaded = load_model(f"{arch}-{DATASET}", device="cpu")
    card = loaded.card
    prep = card["preprocessing"]
    c = prep["input_size"][0]
    x = normalize(test_images, torch.tensor(prep["mean"]).view(1, c, 1, 1),
                  torch.tensor(prep["std"]).view(1, c, 1, 1))
    std = response_summary(layer_response_stds(loaded.model, x))
    if train_curve is None:
        train_error = 100 * float(card.get("final_train_error", math.nan))
    else:
        train = train_curve[np.isfinite(train_curve)]
        train_error = float(train[-1]) if train.size else math.nan
    clean_error = (100 * (1 - evaluate(loaded, DATASET, "train", download=False, device="cpu")["top1"])
                   if clean else math.nan)
    return Member(arch, ARCHS[arch].depth, arch.startswith("resnet"),
                  sum(p.numel() for p in loaded.model.parameters()), train_error,
                  100 * float(card["final_test_error"]), std, clean_error)


def table(rows: list[Member]) -> str:
    """Markdown: the family beside the paper's Table 6."""
    lines = ["| model | params | train error % (augmented, last epoch) | train error % (final weights, "
             "no augmentation) | test error % | Fig. 7 mean std | paper CIFAR-10 % | akamaster CIFAR-10 % |",
             "|---|---|---|---|---|---|---|---|"]
    for m in rows:
        paper = PAPER.get(m.arch)
        clean = "-" if math.isnan(m.clean_train_error) else f"{m.clean_train_error:.2f}"
        lines.append(f"| {m.arch} | {m.params:,} | {m.train_error:.2f} | {clean} | {m.test_error:.2f} | "
                     f"{m.response_std:.3f} | {paper if paper else '-'} | {AKAMASTER.get(m.arch, '-')} |")
    return "\n".join(lines)


def statements(rows: list[Member]) -> list[str]:
    """The paper's claims, each checked on the measured numbers (skipped when a member is missing)."""
    by = {m.arch: m for m in rows}
    out = []

    def check(claim: str, ok: bool, numbers: str) -> None:
        out.append(f"- {claim}: {'holds' if ok else 'does NOT hold'} ({numbers})")

    def have(*archs: str) -> bool:
        return all(a in by for a in archs)

    def training_errors(a: Member, b: Member) -> str:
        """The judged numbers (the recorded curves'), then the final weights' without augmentation."""
        text = f"{a.train_error:.2f}% vs {b.train_error:.2f}%"
        if not (math.isnan(a.clean_train_error) or math.isnan(b.clean_train_error)):
            text += f"; without augmentation {a.clean_train_error:.2f}% vs {b.clean_train_error:.2f}%"
        return text

    if have("plain20", "plain56"):
        a, b = by["plain56"], by["plain20"]
        check("plain56 ends with higher training error than plain20", a.train_error > b.train_error,
              training_errors(a, b))
    for deep, shallow in (("resnet56", "resnet20"), ("resnet110", "resnet56")):
        if have(deep, shallow):
            a, b = by[deep], by[shallow]
            check(f"{deep} <= {shallow} in final training error", a.train_error <= b.train_error,
                  training_errors(a, b))
    resnets = sorted((m for m in rows if m.residual), key=lambda m: m.depth)
    if len(resnets) >= 2:
        stds = [m.response_std for m in resnets]
        ordered = all(x > y for x, y in zip(stds, stds[1:], strict=False))
        check("Fig. 7: deeper ResNets respond less", ordered,
              ", ".join(f"{m.arch} {m.response_std:.3f}" for m in resnets))
    for m in resnets:
        plain = by.get(m.arch.replace("resnet", "plain"))
        if plain:
            check(f"Fig. 7: {m.arch} responds less than {plain.arch}", m.response_std < plain.response_std,
                  f"{m.response_std:.3f} vs {plain.response_std:.3f}")
    if "resnet20" in by:
        base = by["resnet20"].test_error
        check("resnet20 reaches 93.5% test accuracy", base <= 6.5, f"{100 - base:.2f}%")
        for m in resnets[1:]:
            check(f"{m.arch} tests at least as well as resnet20", m.test_error <= base,
                  f"{100 - m.test_error:.2f}% vs {100 - base:.2f}%")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="test images for Fig. 7 (default 1000)")
    parser.add_argument("--no-clean", action="store_true",
                        help="skip the error on the un-augmented training split (one 60k pass per member)")
    parser.add_argument("--json", action="store_true", help="one JSON document instead of Markdown")
    args = parser.parse_args()
    rows = members(args.images, clean=not args.no_clean)
    if args.json:
        # dumps: a value not measured (NaN) is null, as in every --json of the project
        print(dumps({"members": [asdict(m) for m in rows], "statements": statements(rows),
                     "images": args.images}))
        return
    print(table(rows))
    print()
    print("\n".join(statements(rows)))
    if any(math.isnan(m.train_error) for m in rows):
        print("(a member's recorded run has no training error)")


if __name__ == "__main__":
    main()
