"""Printing file names the operating system handed over: always valid UTF-8, in text and in JSON.

On Linux a file name is bytes; Python decodes the ones that are not UTF-8 with ``surrogateescape``,
leaving lone surrogates in the ``str`` (``b"caf\\xe9.jpg"`` -> ``"caf\\udce9.jpg"``). Printed as is,
those raise ``UnicodeEncodeError`` on a strict stdout, and ``json.dumps`` writes them as ``\\udce9``
escapes that JSON parsers in other languages reject. Here the undecodable bytes are written as the
visible text ``\\xe9`` instead, the way Python's own error messages show them.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any


def printable(text: str) -> str:
    """``text`` with every lone surrogate written as ``\\xNN`` (its original byte) or ``\\udNNN``."""
    try:
        raw = text.encode("utf-8", "surrogateescape")  # the file name's original bytes
    except UnicodeEncodeError:  # a surrogate that no file name decoded to (from JSON, say)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def clean(doc: Any) -> Any:
    """``doc`` (dicts, lists, strings, numbers) with every string passed through :func:`printable`, and
    NaN or infinite numbers (a diverged run's loss) as ``null``: JSON has no NaN, only Python reads it."""
    if isinstance(doc, str):
        return printable(doc)
    if isinstance(doc, float) and not math.isfinite(doc):
        return None
    if isinstance(doc, dict):
        return {clean(k): clean(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [clean(v) for v in doc]
    return doc


def dumps(doc: Any) -> str:
    """``json.dumps(doc, indent=2)`` that is valid UTF-8 and parseable anywhere, whatever the file names."""
    return json.dumps(clean(doc), indent=2)


def report(as_json: bool, result: Any, print_text: Callable[[Any, Any], None]) -> int:
    """A study's result on stdout: one JSON document (``result.to_dict()``) or its text; exit status 0."""
    if as_json:
        print(dumps(result.to_dict()))
    else:
        print_text(result, sys.stdout)
    return 0
