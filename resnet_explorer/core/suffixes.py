"""The file-name suffixes the app recognises, in one place, without importing torch.

The window's file dialogs and drop handling need them at start-up, before torch is imported (that import
takes 1-2 s and happens in a worker).
"""

from __future__ import annotations

SAFETENSORS_SUFFIX = ".safetensors"
# Loaded with torch.load(weights_only=True) when their content is not safetensors.
PICKLE_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")
# Every suffix a weights file is recognised by (a path with any other suffix may still be one).
MODEL_SUFFIXES = (SAFETENSORS_SUFFIX, *PICKLE_SUFFIXES)
# A model card beside its weights: NAME.json for NAME.safetensors.
CARD_SUFFIX = ".json"
# The file names taken as images (folders, samples, file dialogs): what core.images.FORMATS decode.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
