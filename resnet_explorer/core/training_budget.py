"""How a model was trained, as far as comparing two models needs it: the *budget* in its model card.

Two models can only be compared as "deeper vs shallower" or "residual vs plain" if they were trained
alike: on the same data, for as long, with the same recipe. A model card written by training carries a
``budget`` entry (:func:`budget_from_run`); older cards are read from their ``recipe`` and
``training_subset`` (:func:`budget_of`). :func:`budget_differences` says, one short phrase per setting,
where two budgets differ, so the window can warn that a difference may come from training, not depth.
"""

from __future__ import annotations

from typing import Any

# The settings that make two runs "trained alike", in the order a reader cares about them.
BUDGET_KEYS = ("dataset", "train_images", "epochs", "batch_size", "lr", "schedule", "milestones",
               "warmup_iters", "augment", "hflip", "weight_decay", "momentum", "seed", "zero_init_residual",
               "precision")

# Training-split sizes of the built-in datasets, for older cards that record only "no subset".
FULL_TRAINING_SPLIT = {"fashion-mnist": 60_000, "mnist": 60_000, "cifar10": 50_000, "cifar100": 50_000}

_LABELS = {"train_images": "training images", "batch_size": "batch", "warmup_iters": "warm-up iterations",
           "weight_decay": "weight decay", "hflip": "flips",
           "zero_init_residual": "branches started at zero", "precision": "precision"}

# What a training run's arithmetic was, as its card records it (``precision`` in the recipe).
BF16_AUTOCAST = "bfloat16 autocast"
FLOAT32 = "float32"


def budget_from_run(recipe: dict[str, Any], dataset: str, train_images: int, steps_per_epoch: int,
                    warmup_iters: int) -> dict[str, Any]:
    """The budget a training run writes into its cards (``recipe`` as the engine records it)."""
    budget = {"dataset": dataset, "train_images": int(train_images), "warmup_iters": int(warmup_iters),
              "steps": int(steps_per_epoch) * int(recipe.get("epochs", 0))}
    for key in BUDGET_KEYS:
        if key not in budget and key in recipe:
            budget[key] = recipe[key]
    return budget


def budget_of(card: dict[str, Any] | None) -> dict[str, Any] | None:
    """A card's budget (written by training, or rebuilt from an older card's recipe); ``None`` if unknown.

    A residual net's budget also says whether its branches started at zero (``zero_init_residual``, from
    the card's model): two ResNets that differ in it were not trained alike. A plain net has no branch to
    start at zero, so its budget leaves the key out, and a plain net vs a ResNet is never flagged for it.
    """
    budget = _recorded_budget(card)
    model = card.get("model") if isinstance(card, dict) else None
    if budget is None or not isinstance(model, dict):
        return budget
    zero = model.get("zero_init_residual")
    if isinstance(zero, bool) and str(model.get("arch", "")).lower().startswith("resnet"):
        budget["zero_init_residual"] = zero
    return budget


def _recorded_budget(card: dict[str, Any] | None) -> dict[str, Any] | None:
    if not isinstance(card, dict):
        return None
    if isinstance(card.get("budget"), dict):
        return dict(card["budget"])
    recipe = card.get("recipe")
    if not isinstance(recipe, dict):
        return None
    budget = {k: recipe[k] for k in BUDGET_KEYS if k in recipe}
    budget["dataset"] = card.get("dataset")
    subset = card.get("training_subset", recipe.get("subset"))
    if subset:
        budget["train_images"] = subset
    elif card.get("dataset") in FULL_TRAINING_SPLIT:
        budget["train_images"] = FULL_TRAINING_SPLIT[card["dataset"]]
    # Otherwise the card does not say how large the whole training split was: left unknown.
    return budget


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(_shown(v) for v in value)
    if isinstance(value, int) and value >= 1_000:
        return f"{value:,}"
    return str(value)


def budget_differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """Where budgets ``a`` and ``b`` differ, e.g. ``["epochs 20 vs 12", "training images 60,000 vs 5,000"]``.

    An unknown budget on either side is one difference of its own ("how X was trained is unknown" is
    for the caller to phrase): the list is ``["unknown"]``.
    """
    if a is None or b is None:
        return ["unknown"]
    return [f"{label} {left} vs {right}" for label, left, right in budget_difference_items(a, b)]


def budget_difference_items(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Where budgets ``a`` and ``b`` differ, as (setting's label, value in ``a``, value in ``b``), the values
    written for a reader (a window translates the labels; "yes"/"no" for a switch)."""
    items = []
    for key in BUDGET_KEYS:
        if a.get(key) is None or b.get(key) is None:
            continue  # not recorded on one side (an older card, or "the default"): no evidence either way
        if settings_differ(a[key], b[key]):
            items.append((_LABELS.get(key, key), _shown(a[key]), _shown(b[key])))
    return items


def settings_differ(old: Any, new: Any) -> bool:
    """Whether two values of one setting differ, a JSON list and a tuple counting as the same sequence."""
    def plain(v: Any) -> object:
        return tuple(v) if isinstance(v, list) else v

    return plain(old) != plain(new)
