"""Shared test set-up: offscreen Qt, and caches/settings kept out of the user's home."""

from __future__ import annotations

import os
import tempfile

# Must happen before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_sandbox = tempfile.mkdtemp(prefix="resnet-explorer-tests-")
# Never touch the real torch hub cache, QSettings or data directory during tests.
os.environ["TORCH_HOME"] = os.path.join(_sandbox, "torch")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_sandbox, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_sandbox, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_sandbox, "cache")
# Torch threads per test process: the suite runs in parallel (pytest-xdist, `-n auto` in pyproject.toml),
# one process per core, so each takes its share of the cores and no more (more only adds contention).
_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
_threads = max(1, min(2, _cores // _workers))
os.environ.setdefault("RESNET_EXPLORER_THREADS", str(_threads))

import torch  # noqa: E402

torch.set_num_threads(_threads)
