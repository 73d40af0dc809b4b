"""Where the shipped assets (bundled models, recorded runs, samples, translations) are.

An installed wheel carries them inside the package (``resnet_explorer/assets``, force-included by
hatchling); an editable checkout has them at the top level (``assets/``). Both are found through
``importlib.resources`` first, so zip-safe installs keep working.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def assets_dir() -> Path:
    """The directory holding ``models/``, ``runs/``, ``samples/`` and ``i18n/``."""
    packaged = resources.files("resnet_explorer").joinpath("assets")
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / "assets"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "resnet-explorer's assets are missing: reinstall the package (pip install resnet-explorer)"
    )


def asset(*parts: str) -> Path:
    """Path of one asset, e.g. ``asset("models", "resnet20-fashion-mnist.json")``."""
    return assets_dir().joinpath(*parts)
