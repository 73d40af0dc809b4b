"""The names and ranges of the class-activation-map options (``classify --cam``, ``sanity-check``).

Kept apart from :mod:`cams` (which imports torch) so that the command-line parser can offer the choices
without importing torch; the core checks the same names, so the GUI gets the same messages.
"""

from __future__ import annotations

from .limits import NUM_CLASSES, Range

METHODS = ("gradcam", "gradcam++", "layercam", "scorecam", "occlusion")
GRADIENT_METHODS = frozenset({"gradcam", "gradcam++", "layercam"})  # one backward pass each
INPUT_METHODS = frozenset({"occlusion"})  # perturbs the input: no layer, no stage
# |rho| above this after the whole network is re-initialised: the map barely changed (Adebayo et al.).
THRESHOLD = Range(0, 1, lo_open=True)
SANITY_THRESHOLD = 0.9
CLASS_INDEX = Range(0, NUM_CLASSES.hi - 1, integer=True)  # the model's own class count is checked later


def file_slug(method: str) -> str:
    """The method's name in a file name: ``gradcam++`` -> ``gradcampp`` (no shell-special characters)."""
    return method.replace("+", "p")
