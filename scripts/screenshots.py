#!/usr/bin/env python3
"""Regenerate the README's screenshots: every tab of the window, rendered offscreen.

Each picture is made by the real command, ``resnet-explorer gui --screenshot OUT.png IMAGE --model ID
--tab TAB``, which waits until the analysis finished; the tab a PNG really shows is read back from
the PNG itself and checked.

    python scripts/screenshots.py                       # bundled models and a bundled sample
    python scripts/screenshots.py --model resnet50-imagenet --image photo.jpg --out /tmp/shots

Without bundled models yet, pass ``--model PATH`` to any model file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABS = ("predict", "features", "residuals", "architecture", "testset", "train", "help")
DEFAULT_IMAGE = ROOT / "assets" / "samples" / "fmnist-7-sneaker-00009.png"
PNG_TAB_KEY = "resnet-explorer-tab"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet20-fashion-mnist", help="model id or weights file")
    p.add_argument("--compare", default="plain20-fashion-mnist",
                   help="model overlaid in the Residuals tab ('' for none)")
    p.add_argument("--lesion", default="layer2.1", help="block switched off in the Residuals shot")
    p.add_argument("--image", default=str(DEFAULT_IMAGE), help="the image analysed")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"), help="output folder")
    p.add_argument("--tabs", default=",".join(TABS), help="comma-separated tabs to render")
    p.add_argument("--korean", action="store_true", default=True,
                   help="also render the Predict and Residuals tabs in Korean (default)")
    p.add_argument("--no-korean", dest="korean", action="store_false")
    return p.parse_args(argv)


def shots(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """(file name, tab, extra arguments) of every picture to make."""
    plan = []
    for tab in args.tabs.split(","):
        extra = ["--language", "en"]
        if tab == "residuals":
            extra += (["--compare", args.compare] if args.compare else []) + ["--lesion", args.lesion]
        plan.append((f"{tab}.png", tab, extra))
    if args.korean:
        plan.append(("predict-ko.png", "predict", ["--language", "ko"]))
        ko_residuals = ["--language", "ko", "--lesion", args.lesion]
        plan.append(("residuals-ko.png", "residuals",
                     ko_residuals + (["--compare", args.compare] if args.compare else [])))
    return plan


def render(name: str, tab: str, extra: list[str], args: argparse.Namespace, out: Path) -> str | None:
    """Make one screenshot; returns an error line or None."""
    target = out / name
    cmd = [sys.executable, "-m", "resnet_explorer", "gui", args.image, "--model", args.model,
           "--tab", tab, "--screenshot", str(target), *extra]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:
        return f"{name}: exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
    from PIL import Image

    with Image.open(target) as png:
        shown = png.info.get(PNG_TAB_KEY)
    if shown != tab:
        return f"{name}: shows the {shown!r} tab, not {tab!r}"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failures = []
    for name, tab, extra in shots(args):
        print(f"rendering {name} ...", file=sys.stderr)
        error = render(name, tab, extra, args, out)
        if error:
            failures.append(error)
            print(f"  failed: {error}", file=sys.stderr)
    for line in failures:
        print(line, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
