"""``resnet-explorer install-desktop``: a launcher and an icon in the user's own data directory."""

from __future__ import annotations

import configparser
import json
import sys

import pytest

from resnet_explorer.cli import main

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="freedesktop.org menus")


def test_install_writes_a_launcher_that_runs_this_python_and_the_icon(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert main(["install-desktop", "--json"]) == 0
    paths = json.loads(capsys.readouterr().out)
    launcher = tmp_path / "applications" / "resnet-explorer.desktop"
    icon = tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "resnet-explorer.svg"
    assert paths == {"launcher": str(launcher), "icon": str(icon)}
    assert icon.read_text().startswith("<svg")
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive in desktop files
    entry.read(launcher, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "resnet-explorer"
    assert section["Exec"].startswith(sys.executable) or section["Exec"].startswith(f'"{sys.executable}')
    assert section["Exec"].endswith("-m resnet_explorer gui %F")
    assert "image/png" in section["MimeType"] and section["Name[ko]"]


def test_uninstall_removes_exactly_what_install_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    other = tmp_path / "applications" / "someone-else.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\n")
    assert main(["install-desktop"]) == 0
    assert main(["install-desktop", "--uninstall"]) == 0
    assert not (tmp_path / "applications" / "resnet-explorer.desktop").exists()
    assert not (tmp_path / "icons" / "hicolor" / "scalable" / "apps" / "resnet-explorer.svg").exists()
    assert other.is_file()


def test_a_path_with_spaces_is_quoted_as_the_desktop_entry_spec_says(monkeypatch):
    from resnet_explorer.commands import install_desktop

    monkeypatch.setattr(sys, "executable", '/opt/my "env"/bin/python')
    exec_line = [line for line in install_desktop.desktop_entry().splitlines() if line.startswith("Exec=")][0]
    assert exec_line == 'Exec="/opt/my \\"env\\"/bin/python" -m resnet_explorer gui %F'
