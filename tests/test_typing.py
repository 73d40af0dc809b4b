"""The typed boundaries: mypy, with the project's configuration, finds nothing in the core, commands and GUI.

CI runs ``python -m pytest`` only, so this is where mypy runs. ``[tool.mypy]`` in pyproject.toml holds the
core (``resnet_explorer.core``) to strict mode and everything else (commands, the CLI, the GUI) to mypy's
default mode.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ["resnet_explorer/core", "resnet_explorer/commands", "resnet_explorer/cli.py",
           "resnet_explorer/gui"]


def _cache_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mypy's incremental cache: pytest's cache folder (kept between runs), else a temporary one."""
    cache = getattr(config, "cache", None)  # absent with -p no:cacheprovider
    if cache is not None:
        return Path(cache.mkdir("mypy"))
    return tmp_path_factory.mktemp("mypy-cache")


@pytest.mark.slow
@pytest.mark.timeout(600)  # a cold cache (first run, fresh CI machine) takes one to two minutes
def test_mypy_is_clean_on_core_and_commands(request: pytest.FixtureRequest,
                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    # No importorskip: mypy is a declared test dependency, so a missing mypy is a broken install (red),
    # not a reason to pass quietly.
    import mypy  # noqa: F401
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("pyproject.toml (mypy's configuration) is not beside the tests")
    command = [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
               "--cache-dir", str(_cache_dir(request.config, tmp_path_factory)),
               "--no-color-output", "--no-error-summary", *CHECKED]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=570)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, f"mypy found problems (exit status {done.returncode}):\n{output}"
