"""Model cards: one schema with bounds, applied wherever a card is read (embedded, sidecar, listing)."""

from __future__ import annotations

import contextlib
import copy
import json
import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from resnet_explorer import build_model
from resnet_explorer.core import cards, checkpoint, evaluation, model_file, zoo
from resnet_explorer.core.errors import ExplorerError, UserInputError

GOOD = {"model": {"arch": "resnet20", "num_classes": 10, "in_chans": 1, "shortcut": "A",
                  "variant": "torchvision", "zero_init_residual": False},
        "class_names": [f"item {i}" for i in range(10)], "dataset": "fashion-mnist",
        "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353],
                          "resize": None, "crop": None, "grayscale": True}}


def card_with(path: str, value: object, base: dict | None = None) -> dict:
    """A copy of ``base`` (default GOOD) with the field at ``path`` ("a.b.0") replaced by ``value``."""
    card = copy.deepcopy(GOOD if base is None else base)
    *parents, last = path.split(".")
    target = card
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return card


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_model("resnet20", in_chans=1).state_dict()


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text
    return text


# ----- the bugs of issue 13, each through every reader --------------------------------------------------
BAD_CARDS = [
    ([1, 2, 3], "must be a JSON object, not a list"),
    ("a card", "must be a JSON object, not a string"),
    (card_with("model.num_classes", 2_000_000_000),
     "model.num_classes must be an integer in 1..100000 (got 2000000000)"),
    (card_with("preprocessing.input_size", [1, 0, 0]),
     "preprocessing.input_size[1] must be an integer in 8..1024"),
    (card_with("preprocessing.mean", [0.5, 0.5, 0.5]), "preprocessing.mean has 3 values for 1 channel"),
    (card_with("preprocessing.std", [0]), "preprocessing.std[0] must be a number in 0.001..1 (got 0)"),
    (card_with("class_names", "0123456789"), "class_names must be a list of strings, not a string"),
    (card_with("class_names", [{"name": "a"}] * 10), "class_names[0] must be a string, not an object"),
    (card_with("preprocessing.resize", 100000), "preprocessing.resize must be an integer in 8..1024"),
    (card_with("model.in_chans", True), "model.in_chans must be 1 or 3"),
    (card_with("model.arch", "resnet21"), "model.arch 'resnet21' is not a known architecture"),
    (card_with("preprocessing.crop", 24), "preprocessing.crop 24 differs from input_size 28x28"),
    (card_with("class_names", ["a\nb"] * 10), "contains a control character"),
    (card_with("class_names", ["a"] * 9), "class_names has 9 entries but model.num_classes is 10"),
]


@pytest.mark.parametrize(("card", "expected"), BAD_CARDS)
def test_an_embedded_bad_card_is_one_line_from_every_loader(tmp_path, weights, card, expected):
    path = checkpoint.save_tensors(tmp_path / "m.safetensors", weights,
                                   {model_file.META_KEY: json.dumps(card)})
    for load in (lambda: model_file.read_model(path), lambda: zoo.load_model(str(path), "cpu"),
                 lambda: evaluation.load_model_file(path, torch.device("cpu"))):
        with pytest.raises(UserInputError) as info:
            load()
        assert one_line(info.value).startswith(f"{path}: model card: ") and expected in str(info.value)


@pytest.mark.parametrize(("card", "expected"), BAD_CARDS[:4])
def test_a_bad_sidecar_card_is_one_line_for_safetensors_and_pth(tmp_path, weights, card, expected):
    (tmp_path / "m.json").write_text(json.dumps(card))
    for path in (checkpoint.save_tensors(tmp_path / "m.safetensors", weights), tmp_path / "m.pth"):
        if path.suffix == ".pth":
            torch.save(weights, path)
        with pytest.raises(UserInputError) as info:
            zoo.load_model(str(path), "cpu")
        assert one_line(info.value).startswith(f"{tmp_path / 'm.json'}: model card: ")
        assert expected in str(info.value)


def test_every_problem_is_listed_on_one_line():
    card = card_with("model.num_classes", 2_000_000_000)
    card["preprocessing"]["std"] = [0]
    with pytest.raises(UserInputError) as info:
        cards.validate_card(card, "x.safetensors")
    assert one_line(info.value) == (
        "x.safetensors: model card: model.num_classes must be an integer in 1..100000 (got 2000000000); "
        "preprocessing.std[0] must be a number in 0.001..1 (got 0)")


def test_the_message_stays_short_for_a_card_of_garbage():
    card = {"model": {k: "x" for k in ("arch", "num_classes", "in_chans", "shortcut", "variant")},
            "preprocessing": {"input_size": "x", "mean": "x", "std": "x", "resize": "x", "crop": "x"}}
    message = one_line(pytest.raises(UserInputError, cards.validate_card, card, "f").value)
    assert message.endswith("more problems") and len(message) < 600


def test_preprocessing_from_dict_checks_the_schema_too():
    with pytest.raises(UserInputError, match="std"):
        zoo.Preprocessing.from_dict({"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.0] * 3})
    assert zoo.Preprocessing.from_dict(GOOD["preprocessing"]).input_size == (1, 28, 28)


def test_good_cards_pass_unchanged_bundled_ones_included():
    assert cards.validate_card(GOOD, "x") is GOOD
    assert cards.card_problems({}) == []  # a card may say nothing (a bare state dict's sidecar)
    directory = zoo.bundled_dir()
    for path in sorted(directory.glob("*.json")) if directory else []:
        assert cards.card_problems(json.loads(path.read_text())) == [], path.name


def test_a_broken_bundled_card_is_listed_with_why_and_refused_on_load(tmp_path, monkeypatch, weights):
    checkpoint.save_tensors(tmp_path / "broken.safetensors", weights,
                            {model_file.META_KEY: json.dumps({"model": [1]})})
    monkeypatch.setattr(zoo, "bundled_dir", lambda: tmp_path)
    entry = next(e for e in zoo.list_models() if e.id == "broken")
    assert entry.present and entry.description.startswith("unusable model card: model must be an object")
    with pytest.raises(UserInputError, match="model card"):
        zoo.load_model("broken", "cpu")


def test_json_that_python_cannot_even_parse_is_one_line(tmp_path, weights):
    for text in ("[" * 100_000, "1" * 5000):  # RecursionError, and ValueError (int digit limit)
        path = checkpoint.save_tensors(tmp_path / "m.safetensors", weights, {model_file.META_KEY: text})
        with pytest.raises(UserInputError, match="not valid JSON"):
            zoo.load_model(str(path), "cpu")


# ----- property-based: generated cards ------------------------------------------------------------------
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
FIELDS = ["model", "model.arch", "model.num_classes", "model.in_chans", "model.shortcut", "model.variant",
          "class_names", "class_names.0", "preprocessing", "preprocessing.input_size",
          "preprocessing.input_size.0", "preprocessing.input_size.1", "preprocessing.mean",
          "preprocessing.mean.0", "preprocessing.std", "preprocessing.std.0", "preprocessing.resize",
          "preprocessing.crop", "preprocessing.grayscale", "dataset"]
NEAR = st.sampled_from([None, 0, 1, 3, 7, 8, 10, 28, 32, 224, 1024, 1025, -1, 0.5, 1e-4, 2e9, math.inf,
                        "A", "paper", "resnet20", "plain20", "x", [], [1, 28, 28], [0.5], [0.5] * 3])


@st.composite
def mutated_cards(draw) -> object:
    """The good card with a few fields replaced by plausible or arbitrary JSON, or arbitrary JSON."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON)
    card = copy.deepcopy(GOOD)
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3)):
        value = draw(NEAR | JSON)
        with contextlib.suppress(KeyError, IndexError, TypeError, ValueError):  # the parent was replaced
            card = card_with(field, value, card)
    return card


@settings(max_examples=200, deadline=None)
@given(mutated_cards())
def test_generated_cards_are_accepted_or_refused_in_one_line(card):
    try:
        result = cards.validate_card(card, "gen.safetensors")
    except UserInputError as exc:
        one_line(exc)
        return
    # Accepted: everything a loader builds from it must then work.
    if result.get("preprocessing") is not None:
        pre = zoo.Preprocessing.from_dict(result["preprocessing"])
        assert pre(Image.new("RGB", (40, 30))).shape == pre.input_size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(card=mutated_cards())
def test_generated_cards_in_a_model_file_load_or_fail_in_one_line(tmp_path, weights, card):
    path = checkpoint.save_tensors(tmp_path / "gen.safetensors", weights,
                                   {model_file.META_KEY: json.dumps(card)})
    try:
        loaded = zoo.load_model(str(path), "cpu")
    except ExplorerError as exc:
        one_line(exc)
        return
    assert len(loaded.class_names) == loaded.model.config["num_classes"]
