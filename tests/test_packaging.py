"""The package's shape: the core stays headless, assets are found, the CLI entry points work."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_core_never_imports_qt_or_the_gui_import_linter_contract():
    exe = shutil.which("lint-imports")
    if exe is None:
        pytest.fail("import-linter is part of the test extras and must be installed")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout


def test_core_imports_in_a_fresh_interpreter_without_loading_qt():
    code = (
        "import sys, resnet_explorer.core.resnet, resnet_explorer.core.summary\n"
        "import resnet_explorer.core as c, pkgutil, importlib\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('resnet_explorer.core.' + m.name)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph', 'resnet_explorer.gui'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_assets_directory_is_found():
    from resnet_explorer.resources import assets_dir

    d = assets_dir()
    assert (d / "models").is_dir() and (d / "samples").is_dir()


def test_python_dash_m_and_console_script_agree():
    out = subprocess.run([sys.executable, "-m", "resnet_explorer", "--version"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("resnet-explorer ")
