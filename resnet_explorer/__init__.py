"""resnet-explorer: see and feel how deep residual networks (He et al. 2015) work.

The public Python API, importable without Qt::

    from resnet_explorer import build_model, load_model, analyze, train

Names are resolved lazily so that ``import resnet_explorer`` (and the CLI's start-up) stays fast and a
notebook never pays for modules it does not use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "build_model": "resnet_explorer.core.resnet",
    "ARCHS": "resnet_explorer.core.resnet",
    "ResNet": "resnet_explorer.core.resnet",
    "summarize": "resnet_explorer.core.summary",
    "load_model": "resnet_explorer.core.zoo",
    "LoadedModel": "resnet_explorer.core.zoo",
    "list_models": "resnet_explorer.core.zoo",
    "open_image": "resnet_explorer.core.images",
    "analyze": "resnet_explorer.core.probe",
    "describe_domain": "resnet_explorer.core.domain",
    "convert_like_fashion_mnist": "resnet_explorer.core.domain",
    "Analysis": "resnet_explorer.core.probe",
    "train": "resnet_explorer.core.engine",
    "TrainConfig": "resnet_explorer.core.engine",
    "evaluate": "resnet_explorer.core.engine",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'resnet_explorer' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
