"""The ``resnet-explorer`` command: argparse sub-commands, each in ``resnet_explorer.commands``.

With no sub-command it opens the window, as a desktop user expects.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from resnet_explorer import __version__

# sub-command -> module in resnet_explorer.commands (each has add_parser and run)
COMMANDS = {
    "gui": "gui",
    "classify": "classify",
    "info": "info",
    "models": "models",
    "train": "train",
    "evaluate": "evaluate",
    "lesion-study": "lesion_study",
    "landscape": "landscape",
    "gradients": "gradients",
    "sanity-check": "sanity_check",
    "install-desktop": "install_desktop",
}


def _available_commands() -> dict[str, object]:
    """Import each command module; a command whose module is absent is simply not offered."""
    found: dict[str, object] = {}
    for name, module in COMMANDS.items():
        try:
            found[name] = importlib.import_module(f"resnet_explorer.commands.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"resnet_explorer.commands.{module}":
                raise
    return found


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    """The top-level parser and the command modules it dispatches to."""
    parser = argparse.ArgumentParser(
        prog="resnet-explorer",
        description="See and feel how deep residual networks work (He et al. 2015).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = _available_commands()
    for module in modules.values():
        module.add_parser(sub)  # type: ignore[attr-defined]
    return parser, modules


def _passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin (before torch is imported, when libgomp reads it).

    On a CPU shared with anything else (the GUI thread, a browser, a second job) spinning threads wait
    for descheduled siblings: resnet20 training fell from 123 to 26 images/s on a busy 2-core machine.
    A user's own setting wins.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command; returns the exit status."""
    _passive_openmp()
    from resnet_explorer.core.errors import ExplorerError

    argv = sys.argv[1:] if argv is None else argv
    parser, modules = build_parser()
    if not argv and "gui" in modules:
        argv = ["gui"]
    args = parser.parse_args(argv)
    args.argv = list(argv)  # what was typed: `train` records it in the run's config and model card
    if args.command is None:
        parser.print_help()
        return 1
    try:
        return int(modules[args.command].run(args) or 0)  # type: ignore[attr-defined]
    except ExplorerError as exc:
        print(f"resnet-explorer {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("resnet-explorer: interrupted", file=sys.stderr)
        return 130
