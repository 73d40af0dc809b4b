"""``resnet-explorer gui [IMAGE...] [--model ID] [--tab NAME] [--screenshot OUT.png]``: the window."""

from __future__ import annotations

import argparse
import os

TAB_CHOICES = ("predict", "features", "residuals", "lesion", "architecture", "testset", "shortcuts", "train",
               "help")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop window (the default with no command)",
                       description="Open the window, optionally with images and a model. With "
                                   "--screenshot, render it offscreen once the analysis finished, save a "
                                   "PNG and exit.")
    p.add_argument("image", nargs="*", help="image file(s) to open")
    p.add_argument("--model", default=None,
                   help="model id (e.g. resnet20-fashion-mnist, resnet50-imagenet) or weights file")
    p.add_argument("--tab", default=None, choices=TAB_CHOICES, help="the tab to show first")
    p.add_argument("--screenshot", metavar="OUT.png", default=None,
                   help="render the window offscreen after the analysis, save it here, exit 0")
    p.add_argument("--compare", metavar="MODEL", default=None,
                   help="a second model whose residual measures are overlaid in the Residuals tab")
    p.add_argument("--lesion", metavar="BLOCKS", default=None,
                   help="comma-separated blocks to switch off at start, e.g. layer2.0,layer3.1")
    p.add_argument("--size", metavar="WxH", type=window_size, default=None,
                   help="window size in pixels, e.g. 1024x768 (a classroom projector); default 1360x860 "
                        "for --screenshot, else the last used")
    p.add_argument("--zoom", type=float, default=None, metavar="FACTOR",
                   help="presentation zoom, 0.8 to 2.0 (Ctrl++ / Ctrl+- / Ctrl+0 in the window; remembered)")
    p.add_argument("--language", default=None, choices=["en", "ko"],
                   help="interface language (default: the last used, else the system's)")


def window_size(text: str) -> tuple[int, int]:
    """``1024x768`` -> ``(1024, 768)``, each side within what a screen can show."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1024x768 (got {text!r})") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise argparse.ArgumentTypeError(f"must be between 320x240 and 7680x4320 (got {text})")
    return w, h


def check_screenshot_path(out: str) -> None:
    """Refuse, before any window is built, a screenshot path that cannot be written: one line.

    A missing folder is made (as before); a folder that cannot be made (a file in the way, no
    permission) or an existing folder given as the file name is reported by name.
    """
    from resnet_explorer.core.errors import UserInputError

    folder = os.path.dirname(os.path.abspath(out))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot save the screenshot {out}: cannot make the folder {folder} "
                             f"({exc.strerror or exc})") from None
    if os.path.isdir(out):
        raise UserInputError(f"cannot save the screenshot {out}: it is a folder; name a file, e.g. out.png")
    if not os.access(folder, os.W_OK):
        raise UserInputError(f"cannot save the screenshot {out}: {folder} is not writable")


def run(args: argparse.Namespace) -> int:
    if args.screenshot:
        check_screenshot_path(args.screenshot)
        # No display needed (CI, servers): set before Qt is imported anywhere.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from resnet_explorer.gui.app import run as run_app

    lesion = tuple(b.strip() for b in (args.lesion or "").split(",") if b.strip())
    return run_app(image=list(args.image or []), model=args.model, tab=args.tab,
                   screenshot=args.screenshot, language=args.language, compare=args.compare, lesion=lesion,
                   size=args.size, zoom=args.zoom)
