"""``resnet-explorer install-desktop``: a menu entry and an icon, so a teacher starts the app from the menu.

Writes, the way pip-installed Linux apps do it (freedesktop.org Desktop Entry and Icon Theme specs), into
the user's own data directory (``$XDG_DATA_HOME``, default ``~/.local/share``): nothing system-wide, no
root. ``--uninstall`` removes exactly those two files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

APP_ID = "resnet-explorer"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/bmp", "image/gif", "image/tiff")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("install-desktop", help="add ResNet Explorer to the desktop's application menu",
                       description="Write a .desktop launcher and the app's icon into your own "
                                   "~/.local/share (Linux desktops), so the app starts from the menu and "
                                   "images can be opened with it.")
    p.add_argument("--uninstall", action="store_true", help="remove the launcher and the icon again")
    p.add_argument("--json", action="store_true", help="print the paths as one JSON document")


def data_home() -> Path:
    """``$XDG_DATA_HOME`` if absolute (the spec ignores a relative one), else ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def targets(home: Path) -> dict[str, Path]:
    """Where the launcher and the icon go."""
    return {"launcher": home / "applications" / f"{APP_ID}.desktop",
            "icon": home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"}


def _exec_quoted(arg: str) -> str:
    # Desktop Entry spec: an argument with reserved characters is double-quoted, with ", `, $ and \ escaped.
    if not any(c in arg for c in ' \t\n"\'\\><~|&;$*?#()`'):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


def desktop_entry() -> str:
    """The launcher's text: this Python runs the app, so it works from a virtual environment too."""
    command = " ".join(_exec_quoted(a) for a in (sys.executable, "-m", "resnet_explorer", "gui"))
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=ResNet Explorer",
        "Name[ko]=ResNet 탐색기",
        "GenericName=Neural network explorer",
        "Comment=See and feel how deep residual networks work",
        "Comment[ko]=깊은 잔차 신경망이 어떻게 동작하는지 보고 느껴 보세요",
        f"Exec={command} %F",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Education;Science;ArtificialIntelligence;",
        f"MimeType={';'.join(IMAGE_TYPES)};",
        "StartupNotify=true",
        "",
    ])


def run(args: argparse.Namespace) -> int:
    from resnet_explorer.core.checkpoint import atomic_write_bytes
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.resources import asset

    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise UserInputError("install-desktop writes a freedesktop.org menu entry, for Linux and BSD "
                             "desktops; on this system start the app with 'resnet-explorer'")
    paths = targets(data_home())
    if args.uninstall:
        removed = [str(p) for p in paths.values() if p.is_file()]
        for p in paths.values():
            p.unlink(missing_ok=True)
        _report(args, {"removed": removed}, "removed" if removed else "nothing to remove")
        return 0
    atomic_write_bytes(paths["icon"], asset("icons", f"{APP_ID}.svg").read_bytes())
    atomic_write_bytes(paths["launcher"], desktop_entry().encode("utf-8"))
    _report(args, {k: str(v) for k, v in paths.items()}, "installed")
    return 0


def _report(args: argparse.Namespace, doc: dict, verb: str) -> None:
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    print(f"resnet-explorer: {verb}")
    for value in doc.values():
        for path in value if isinstance(value, list) else [value]:
            print(f"  {path}")
    if verb == "installed":
        print("ResNet Explorer is now in the application menu (Education); some desktops show it after "
              "logging in again.")
