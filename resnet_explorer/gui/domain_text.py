"""The core's domain messages (:mod:`resnet_explorer.core.domain`) in the interface language.

The core words every description and reason as a message id with values; the templates here are the
same sentences passed through :func:`tr`, so that the translation check sees each of them.
"""

from __future__ import annotations

from typing import Any

from .i18n import tr


def templates() -> dict[str, str]:
    """Message id -> its template in the current language (``str.format`` fields as in the core)."""
    return {
        "classes.clothing": tr("{n} clothing classes"),
        "classes.digits": tr("{n} handwritten digits"),
        "classes.imagenet": tr("{n} ImageNet classes (animals, objects, scenes)"),
        "classes.dataset": tr("{n} {dataset} classes"),
        "classes.other": tr("{n} classes"),
        "input.white-on-black": tr("{w}x{h} grey, white object on black"),
        "input.grey-photo": tr("{w}x{h} grey photos"),
        "input.colour-photo": tr("{w}x{h} colour photos"),
        "input.grey": tr("{w}x{h} grey"),
        "input.colour": tr("{w}x{h} colour"),
        "light-background": tr("its background is light ({level}% brightness at the edges); {dataset} "
                               "shows light objects on black"),
        "grey-background": tr("its background is grey ({level}% brightness at the edges), not black as in "
                              "{dataset}"),
        "colour": tr("it is a colour picture ({percent}% of it clearly coloured); {dataset} is grey"),
        "small-object": tr("the object fills only {percent}% of the picture; in {dataset} it fills the "
                           "frame"),
        "statistics": tr("its brightness (mean {mean}%, contrast {std}%) is far from {dataset}'s (mean "
                         "{ref_mean}%, contrast {ref_std}%)"),
    }


def message_text(message: Any) -> str:
    """A core ``Message`` in the current language (its English text when no template fits)."""
    template = templates().get(message.id)
    if template is None:
        return message.text
    try:
        return template.format(**message.params)
    except (KeyError, IndexError, ValueError):  # a broken translation must not break the view
        return message.text


def domain_text(domain: Any) -> str:
    """A model's domain in one line: "10 clothing classes, 28x28 grey, white object on black"."""
    return ", ".join(message_text(m) for m in domain.parts())
