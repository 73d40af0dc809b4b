"""The model card schema: one hand-written validator, applied wherever a card is read.

A card (see :mod:`core.checkpoint`) comes from a file anyone can edit, so every field a loader uses is
checked here, with bounds, before anything is built from it::

    format: str              version: int >= 1          dataset, description: str
    model:  {arch: a known architecture, num_classes: 1..100000, in_chans: 1 | 3,
             shortcut: A | B | C, variant: paper | torchvision, zero_init_residual: bool}
    class_names: [str of 1..200 printable characters] (as many as model.num_classes)
    preprocessing: {input_size: [1 | 3, 8..1024, 8..1024] (required), mean: [0..1] per channel
                    (required), std: [0.001..1] per channel (required), resize: 8..1024 | null,
                    crop: 8..1024 | null (= the input side), grayscale: bool}

Every field but ``preprocessing``'s three is optional (``null`` means absent); other keys (metrics, the
training command ...) are kept and not checked. A card that breaks the schema raises one
:class:`UserInputError` listing every problem on one line ("model card: model.num_classes must be an
integer in 1..100000 (got 2000000000); preprocessing.std[0] must be ...").

It is hand-written rather than a JSON-Schema library: the schema is small, the bounds and the
cross-checks (class names vs classes, mean vs channels) read more plainly as code, and the messages
name the field the way a user sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import limits
from .errors import UserInputError
from .limits import Range, show_value

CHANNELS = (1, 3)  # images are decoded as grey (L) or RGB, nothing else
MEAN = Range(0, 1)
STD = Range(0.001, 1)  # core.data clamps measured stds to >= 0.001 for the same reason: no division by ~0
SHORTCUTS = ("A", "B", "C")
VARIANTS = ("paper", "torchvision")
MAX_LISTED = 6  # problems named in the message; a card of garbage would otherwise fill the screen

Problems = list[str]


def validate_card(card: Any, source: str) -> dict[str, Any]:
    """``card`` if it follows the schema (see the module docstring), else :class:`UserInputError`.

    ``source`` names the file in the message: ``"x.safetensors: model card: <problem>; <problem>"``.
    """
    problems = card_problems(card)
    if problems:
        raise UserInputError(f"{source}: model card: {join_problems(problems)}")
    checked: dict[str, Any] = card  # card_problems found none, so it is a dict with string keys
    return checked


def card_problems(card: Any) -> Problems:
    """Every way ``card`` breaks the schema, one short phrase each (empty: it is a good card)."""
    if not isinstance(card, Mapping):
        return [f"must be a JSON object, not {_kind(card)}"]
    out: Problems = []
    _optional_type(card, "format", str, out)
    _optional_range(card, "version", Range(1, integer=True), out)
    _optional_type(card, "dataset", str, out)
    _optional_type(card, "description", str, out)
    model = _optional_object(card, "model", out)
    if model is not None:
        _check_model(model, out)
    names = card.get("class_names")
    if names is not None:
        _check_class_names(names, out)
    prep = _optional_object(card, "preprocessing", out)
    if prep is not None:
        out += preprocessing_problems(prep)
    if not out:
        _cross_check(card, out)
    return out


def preprocessing_problems(prep: Any, where: str = "preprocessing") -> Problems:
    """Problems of a card's ``preprocessing`` entry (also used on its own by ``Preprocessing.from_dict``)."""
    if not isinstance(prep, Mapping):
        return [f"{where} must be an object, not {_kind(prep)}"]
    out: Problems = []
    size = prep.get("input_size")
    channels = _check_input_size(size, f"{where}.input_size", out)
    for key, rule in (("mean", MEAN), ("std", STD)):
        _check_per_channel(prep.get(key), channels, rule, f"{where}.{key}", out)
    for key in ("resize", "crop"):
        _optional_range(prep, key, limits.IMAGE_SIDE, out, where)
    _optional_type(prep, "grayscale", bool, out, where)
    if not out:
        _check_geometry(prep, where, out)
    return out


def check_preprocessing(prep: Any, source: str = "model card") -> None:
    """Raise :class:`UserInputError` (one line) if ``prep`` is not a valid ``preprocessing`` entry."""
    problems = preprocessing_problems(prep)
    if problems:
        raise UserInputError(f"{source}: {join_problems(problems)}")


def join_problems(problems: Problems) -> str:
    """``"a; b; c"``, at most :data:`MAX_LISTED` of them, then how many more."""
    shown = "; ".join(problems[:MAX_LISTED])
    more = len(problems) - MAX_LISTED
    return shown + (f"; and {more} more problem{'s' * (more > 1)}" if more > 0 else "")


# ----- the parts ---------------------------------------------------------------------------------------
def _check_model(model: Mapping[str, Any], out: Problems) -> None:
    from .resnet import ARCHS  # late: resnet pulls in torch.nn, cards are read before it is needed

    arch = model.get("arch")
    if arch is not None and (not isinstance(arch, str) or arch.strip().lower() not in ARCHS):
        out.append(f"model.arch {show_value(arch)} is not a known architecture (e.g. resnet20, resnet50)")
    _optional_range(model, "num_classes", limits.NUM_CLASSES, out, "model")
    _optional_choice(model, "in_chans", CHANNELS, out, "model")
    shortcut = model.get("shortcut")
    if shortcut is not None and (not isinstance(shortcut, str) or shortcut.upper() not in SHORTCUTS):
        out.append(f"model.shortcut must be A, B or C (got {show_value(shortcut)})")
    _optional_choice(model, "variant", VARIANTS, out, "model")
    _optional_type(model, "zero_init_residual", bool, out, "model")


def _check_class_names(names: Any, out: Problems) -> None:
    if not isinstance(names, list):
        out.append(f"class_names must be a list of strings, not {_kind(names)}")
        return
    if not limits.NUM_CLASSES.contains(len(names)):
        out.append(f"class_names has {len(names)} entries; must have 1..{limits.NUM_CLASSES.hi}")
        return
    for i, name in enumerate(names):
        problem = _class_name_problem(name)
        if problem:
            out.append(f"class_names[{i}] {problem}")
            return  # one is enough: they are usually all wrong the same way


def _class_name_problem(name: Any) -> str | None:
    if not isinstance(name, str):
        return f"must be a string, not {_kind(name)}"
    if not 1 <= len(name) <= limits.CLASS_NAME_CHARS:
        return f"must have 1..{limits.CLASS_NAME_CHARS} characters (has {len(name)})"
    # A line break or escape code in a name would break the one-line-per-class text output.
    if not name.isprintable():
        return f"{show_value(name)} contains a control character"
    return None


def _check_input_size(size: Any, where: str, out: Problems) -> int | None:
    """Checks ``[C, H, W]``; returns C when it is usable for the per-channel checks."""
    if not isinstance(size, list) or len(size) != 3:
        out.append(f"{where} must be a list [C, H, W] (got {show_value(size)})")
        return None
    channels, height, width = size
    ok = _choice(channels, CHANNELS, f"{where}[0]", out)
    for i, side in ((1, height), (2, width)):
        problem = limits.IMAGE_SIDE.problem(side)
        if problem:
            out.append(f"{where}[{i}] {problem}")
    return channels if ok else None


def _check_per_channel(values: Any, channels: int | None, rule: Range, where: str, out: Problems) -> None:
    if not isinstance(values, list):
        out.append(f"{where} must be a list with one number per channel (got {show_value(values)})")
        return
    if channels is not None and len(values) != channels:
        out.append(f"{where} has {len(values)} values for {channels} channel{'s' * (channels > 1)}")
        return
    for i, value in enumerate(values):
        problem = rule.problem(value)
        if problem:
            out.append(f"{where}[{i}] {problem}")


def _check_geometry(prep: Mapping[str, Any], where: str, out: Problems) -> None:
    """A centre crop gives the network its input: the crop must be the input size and fit the resize."""
    _, height, width = prep["input_size"]
    crop, resize = prep.get("crop"), prep.get("resize")
    if crop is not None and (crop != height or crop != width):
        out.append(f"{where}.crop {crop} differs from input_size {height}x{width}")
    if crop is not None and resize is not None and crop > resize:
        out.append(f"{where}.crop {crop} is larger than resize {resize}")


def _cross_check(card: Mapping[str, Any], out: Problems) -> None:
    model = card.get("model") or {}
    names, prep = card.get("class_names"), card.get("preprocessing") or {}
    n = model.get("num_classes")
    if names is not None and n is not None and len(names) != n:
        out.append(f"class_names has {len(names)} entries but model.num_classes is {n}")
    chans, size = model.get("in_chans"), prep.get("input_size")
    if chans is not None and size is not None and size[0] != chans:
        out.append(f"preprocessing.input_size has {size[0]} channels but model.in_chans is {chans}")


# ----- small helpers -----------------------------------------------------------------------------------
def _kind(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    for kind, name in ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"),
                       (list, "a list"), (Mapping, "an object")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _label(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _optional_object(doc: Mapping[str, Any], key: str, out: Problems) -> Mapping[str, Any] | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, Mapping):
        out.append(f"{key} must be an object, not {_kind(value)}")
        return None
    return value


def _optional_type(doc: Mapping[str, Any], key: str, kind: type, out: Problems, where: str = "") -> None:
    value = doc.get(key)
    if value is not None and not isinstance(value, kind):
        out.append(f"{_label(where, key)} must be {_kind(kind())}, not {_kind(value)}")


def _optional_range(doc: Mapping[str, Any], key: str, rule: Range, out: Problems, where: str = "") -> None:
    value = doc.get(key)
    problem = None if value is None else rule.problem(value)
    if problem:
        out.append(f"{_label(where, key)} {problem}")


def _optional_choice(doc: Mapping[str, Any], key: str, choices: tuple[object, ...], out: Problems,
                     where: str = "") -> None:
    value = doc.get(key)
    if value is not None:
        _choice(value, choices, _label(where, key), out)


def _choice(value: Any, choices: tuple[object, ...], where: str, out: Problems) -> bool:
    # bool is an int in Python: true must not pass for 1 channel.
    if isinstance(value, bool) or value not in choices:
        listed = " or ".join(show_value(c) for c in choices)
        out.append(f"{where} must be {listed} (got {show_value(value)})")
        return False
    return True
