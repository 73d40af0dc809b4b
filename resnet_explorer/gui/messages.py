"""The core's messages, reworded for the window: in the interface's language, with the window's remedies.

The core speaks English to the CLI and to notebooks ("... use --weights PATH"). At the GUI boundary (the
worker layer's one error formatter) :func:`localize` matches a message against the patterns of
``assets/i18n/messages.json`` and fills the template of the current language; the English templates only
reword CLI remedies as the window's ("File > Open weights..."). A message no pattern knows is shown as the
core wrote it: a pattern list can lag behind the core, but it never hides a message.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from functools import cache

from resnet_explorer.resources import asset

from . import i18n

log = logging.getLogger(__name__)

MAX_DEPTH = 2  # a message's parts are reworded too (a download error inside "Could not load ..."), once


@dataclass(frozen=True)
class MessagePattern:
    """One core message shape and its templates by language code."""

    pattern: re.Pattern[str]
    templates: dict[str, str]


@cache
def patterns() -> tuple[MessagePattern, ...]:
    """The message patterns shipped in assets/i18n/messages.json (none if the file is broken: logged)."""
    try:
        doc = json.loads(asset("i18n/messages.json").read_text(encoding="utf-8"))
        return tuple(MessagePattern(re.compile(entry["pattern"], re.DOTALL),
                                    {k: v for k, v in entry.items() if k != "pattern"})
                     for entry in doc["messages"])
    except (OSError, ValueError, KeyError, TypeError, re.error) as exc:
        log.warning("message patterns unusable, core messages stay as written: %s", exc)
        return ()


def localize(text: str, language: str | None = None, depth: int = 0) -> str:
    """``text`` from the core in ``language`` (default: the interface's), or unchanged if not known."""
    language = language or i18n.current_language()
    for entry in patterns():
        match = entry.pattern.fullmatch(text)
        if match is None:
            continue
        template = entry.templates.get(language) or entry.templates.get("en")
        if template is None:
            return text
        parts = match.groupdict()
        if depth < MAX_DEPTH:
            parts = {k: localize(v, language, depth + 1) for k, v in parts.items()}
        return template.format(**parts)
    return text
