"""The allowed ranges of the explanation studies' options (``lesion-study``, ``landscape``, ``gradients``).

Kept apart from the studies themselves so that the command-line parser can range-check options without
importing torch; the core functions check the same ranges, so the GUI gets the same messages.
"""

from __future__ import annotations

from typing import Any

from .errors import UserInputError
from .limits import Range

# Random subsets drawn per number of deleted blocks (Veit et al. 2016); each costs one pass over the data.
DRAWS = Range(1, 1000, integer=True)
# Points per landscape axis: 2 at least to draw a line; 201^2 = 40,401 passes over the data is plenty.
GRID = Range(2, 201, integer=True)
# How far along each direction the landscape reaches (Li et al. plot -1..1 of a filter-normalised step).
SPAN = Range(0, 100, lo_open=True)
LANDSCAPE_DIMS = (1, 2)
# Images in the batch that the gradients at initialisation are measured on (BatchNorm needs 2).
GRADIENT_BATCH = Range(2, 4096, integer=True)
# Inputs on the line between two images for the shattered-gradients correlation; 0 skips it.
LINE_POINTS = Range(0, 4096, integer=True)
MAX_ARCHS = 24


def check(option: str, rule: Range, value: Any) -> None:
    """Raise :class:`UserInputError` ``"--grid must be an integer in 2..201 (got 1)"`` if ``value`` is out of
    ``rule``."""
    problem = rule.problem(value)
    if problem:
        raise UserInputError(f"{option} {problem}")
