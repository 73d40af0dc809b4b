"""The package's shape: the core stays headless, assets are found, the CLI entry points work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
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


def _console_script() -> Path:
    """The ``resnet-explorer`` launcher pip installed next to this interpreter (the venv's bin)."""
    name = "resnet-explorer.exe" if sys.platform == "win32" else "resnet-explorer"
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if (folder / name).is_file():
            return folder / name
    pytest.fail(f"the console script {name} is not installed next to {sys.executable}: "
                "pip install -e . creates it ([project.scripts] in pyproject.toml)")


def test_python_dash_m_and_console_script_agree():
    script = _console_script()
    by_module = subprocess.run([sys.executable, "-m", "resnet_explorer", "--version"],
                               capture_output=True, text=True, check=True).stdout
    by_script = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True).stdout
    assert by_module.startswith("resnet-explorer ") and by_script == by_module


def test_console_script_runs_a_command():
    result = subprocess.run([str(_console_script()), "info", "resnet20", "--json"], capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["arch"] == "resnet20" and doc["params"] == 269_722
