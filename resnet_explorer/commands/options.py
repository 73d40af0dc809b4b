"""``type=`` helpers for argparse: every numeric option is range-checked by the parser itself.

A bad value then gets argparse's own one line and exit status 2, before anything is loaded::

    resnet-explorer train: error: argument --batch-size: must be an integer in 2..4096 (got -3)

The ranges come from :mod:`resnet_explorer.core.limits`, which ``TrainConfig.validate()`` and the model
card schema use too. This module imports nothing heavy (no torch): it runs while the parser is built.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from resnet_explorer.core import limits
from resnet_explorer.core.limits import Range, show_value


def _shown(text: str) -> str:
    """The user's text as typed, unless it is long or has control characters."""
    return text if text.isprintable() and len(text) <= 40 else show_value(text)


def in_range(rule: Range) -> Callable[[str], int | float]:
    """A ``type=`` that parses an int (``rule.integer``) or a float and checks it lies in ``rule``.

    ``type=in_range(limits.TRAIN_BATCH)``; the named ranges of :mod:`core.limits` are shared with
    ``TrainConfig.validate()`` and the model card schema, so the three cannot disagree.
    """
    parse = int if rule.integer else float

    def check(text: str) -> int | float:
        try:
            value = parse(text)
        except ValueError:  # also int("9" * 5000): over Python's digit limit
            value = None
        if value is None or not rule.contains(value):
            raise argparse.ArgumentTypeError(f"must be {rule.describe()} (got {_shown(text)})")
        return value

    check.__name__ = "integer" if rule.integer else "number"  # argparse names the type in some messages
    return check


def fractions(text: str) -> tuple[float, ...]:
    """``type=fractions``: comma-separated fractions of the training run, each in (0, 1]: ``0.5,0.75``."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) > limits.MAX_MILESTONES:
        raise argparse.ArgumentTypeError(f"at most {limits.MAX_MILESTONES} values (got {len(parts)})")
    check = in_range(limits.MILESTONE)
    try:
        return tuple(float(check(p)) for p in parts)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"each value must be {limits.MILESTONE.describe()}, e.g. 0.5,0.75 "
                                         f"(got {_shown(text)})") from None
