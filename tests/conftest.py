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
os.environ.setdefault("RESNET_EXPLORER_THREADS", "2")

import torch  # noqa: E402

torch.set_num_threads(2)
