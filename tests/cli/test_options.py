"""Numeric options: range-checked by the parser itself (one argparse line, exit 2), and by the core's API."""

from __future__ import annotations

import contextlib
import io
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_explorer.cli import build_parser, main
from resnet_explorer.core import limits
from resnet_explorer.core.engine import TrainConfig
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.evaluation import evaluate

TRAIN = ["train", "--arch", "resnet20", "--dataset", "synthetic"]
EVALUATE = ["evaluate", "--model", "resnet20-fashion-mnist", "--dataset", "synthetic"]


def parse(argv: list[str]) -> tuple[object, str]:
    """``(namespace or exit status, stderr)`` of parsing ``argv``; nothing runs."""
    parser, _ = build_parser()
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return parser.parse_args(argv), err.getvalue()
        except SystemExit as exc:
            return exc.code, err.getvalue()


def last_line(err: str) -> str:
    # argparse prints the usage, then exactly one error line.
    lines = err.strip().splitlines()
    assert lines and "Traceback" not in err
    return lines[-1]


@pytest.mark.parametrize(("argv", "expected"), [
    (["evaluate", "--weights", "m.safetensors", "--dataset", "synthetic", "--batch-size", "-3"],
     "resnet-explorer evaluate: error: argument --batch-size: must be an integer in 1..4096 (got -3)"),
    ([*EVALUATE, "--batch-size", "0"], "argument --batch-size: must be an integer in 1..4096 (got 0)"),
    ([*EVALUATE, "--subset", "0"], "argument --subset: must be an integer in 1..1000000000 (got 0)"),
    ([*TRAIN, "--batch-size", "-3"],
     "resnet-explorer train: error: argument --batch-size: must be an integer in 2..4096 (got -3)"),
    ([*TRAIN, "--batch-size", "0"], "argument --batch-size: must be an integer in 2..4096 (got 0)"),
    ([*TRAIN, "--momentum", "-5"], "argument --momentum: must be a number in 0..1 (got -5)"),
    ([*TRAIN, "--weight-decay", "-1"], "argument --weight-decay: must be a number in 0..1 (got -1)"),
    ([*TRAIN, "--label-smoothing", "5"], "argument --label-smoothing: must be a number in 0..1 (got 5)"),
    ([*TRAIN, "--image-size", "-3"], "argument --image-size: must be an integer in 8..1024 (got -3)"),
    ([*TRAIN, "--image-size", "100000"], "argument --image-size: must be an integer in 8..1024 (got 100000)"),
    ([*TRAIN, "--image-size", "0"], "argument --image-size: must be an integer in 8..1024 (got 0)"),
    ([*TRAIN, "--subset", "0"], "argument --subset: must be an integer in 1..1000000000 (got 0)"),
    ([*TRAIN, "--warmup-iters", "-5"], "argument --warmup-iters: must be an integer in 0..10000000 (got -5)"),
    ([*TRAIN, "--milestones", "2,-1"],
     "argument --milestones: each value must be a number > 0 and <= 1, e.g. 0.5,0.75 (got 2,-1)"),
    ([*TRAIN, "--lr", "0"], "argument --lr: must be a number > 0 (got 0)"),
    ([*TRAIN, "--lr", "nan"], "argument --lr: must be a number > 0 (got nan)"),
    ([*TRAIN, "--epochs", "1.5"], "argument --epochs: must be an integer in 1..100000 (got 1.5)"),
    ([*TRAIN, "--threads", "0"], "argument --threads: must be an integer in 1..1024 (got 0)"),
    (["info", "resnet20", "--num-classes", "1000000000"],
     "resnet-explorer info: error: argument --num-classes: must be an integer in 1..100000 (got 1000000000)"),
    (["info", "resnet20", "--input-size", "100000"],
     "argument --input-size: must be an integer in 8..1024 (got 100000)"),
    (["info", "resnet20", "--in-chans", "0"], "argument --in-chans: must be an integer in 1..64 (got 0)"),
    (["classify", "x.png", "--top-k", "0"], "argument --top-k: must be an integer in 1..100000 (got 0)"),
])
def test_bad_numbers_are_argparse_one_liners_with_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert last_line(err).endswith(expected) and last_line(err).startswith("resnet-explorer ")


def test_good_numbers_parse_to_numbers():
    args, _ = parse([*TRAIN, "--batch-size", "2", "--momentum", "0", "--milestones", "0.5,1",
                     "--lr", "1e12", "--label-smoothing", "0.1", "--image-size", "8", "--seed", "4294967295"])
    assert (args.batch_size, args.momentum, args.milestones, args.lr) == (2, 0.0, (0.5, 1.0), 1e12)
    assert parse([*TRAIN, "--milestones", ""])[0].milestones == ()  # no lr drops


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"batch_size": -3}, "--batch-size must be an integer in 2..4096 (got -3)"),
    ({"momentum": -5.0}, "--momentum must be a number in 0..1"),
    ({"weight_decay": -1.0}, "--weight-decay"),
    ({"label_smoothing": 5.0}, "--label-smoothing"),
    ({"image_size": 0}, "--image-size must be an integer in 8..1024 (got 0)"),
    ({"subset": 0}, "--subset"),
    ({"warmup_iters": -5}, "--warmup-iters"),
    ({"milestones": (2.0, -1.0)}, "--milestones"),
    ({"epochs": "3"}, "--epochs must be an integer in 1..100000 (got '3')"),  # an edited config.json
    ({"nesterov": True, "momentum": 0.0}, "--nesterov needs a --momentum above 0"),
])
def test_train_config_validate_checks_the_same_ranges(overrides, expected):
    with pytest.raises(UserInputError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig("resnet20", "synthetic", **overrides).validate()


def test_the_evaluate_api_refuses_a_negative_batch_instead_of_reporting_zero():
    with pytest.raises(UserInputError, match="batch_size must be an integer in 1..4096"):
        evaluate("resnet20-fashion-mnist", "synthetic", batch_size=-3)


# ----- property-based: generated option values ---------------------------------------------------------
# option -> TrainConfig field (gamma has no option); the parser and validate() must agree on every value.
TRAIN_OPTIONS = {f"--{field.replace('_', '-')}": field for field in limits.TRAIN_CONFIG if field != "gamma"}
NUMBER_TEXT = (st.integers(-2**70, 2**70).map(str) | st.floats(allow_nan=True).map(repr)
               | st.sampled_from(["0", "-0", "1", "2", "8", "1024", "1e3", "0x10", "1_0", " 3", "inf", "-inf",
                                  "", "abc", "4294967296", "0.99", "1.0", "1e-320", "9" * 5000])
               | st.text(max_size=6))


@settings(max_examples=200, deadline=None)
@given(option=st.sampled_from(sorted(TRAIN_OPTIONS)), text=NUMBER_TEXT)
def test_generated_train_values_parse_in_range_or_exit_2_and_validate_agrees(option, text):
    result, err = parse([*TRAIN, f"{option}={text}"])
    field = TRAIN_OPTIONS[option]
    if isinstance(result, int):
        assert result == 2 and "error: argument" in last_line(err)
        assert len([line for line in err.splitlines() if "error" in line]) == 1
        return
    value = getattr(result, field)
    assert limits.TRAIN_CONFIG[field].contains(value)
    TrainConfig("resnet20", "synthetic", **{field: value}).validate()  # the API accepts what the CLI does


@settings(max_examples=150, deadline=None)
@given(text=st.lists(NUMBER_TEXT.filter(lambda t: "," not in t), max_size=5).map(",".join))
def test_generated_milestones_are_fractions_or_exit_2(text):
    result, err = parse([*TRAIN, f"--milestones={text}"])
    if isinstance(result, int):
        assert result == 2 and "argument --milestones" in last_line(err)
        return
    assert all(0 < m <= 1 and math.isfinite(m) for m in result.milestones)
    TrainConfig("resnet20", "synthetic", milestones=result.milestones).validate()


@settings(max_examples=100, deadline=None)
@given(option=st.sampled_from(["--num-classes", "--in-chans", "--input-size"]), text=NUMBER_TEXT)
def test_generated_info_values_are_in_range_or_exit_2(option, text):
    result, err = parse(["info", "resnet20", f"{option}={text}"])
    if isinstance(result, int):
        assert result == 2 and f"argument {option}" in last_line(err)
    else:  # accepted: then it is inside that option's own range (the table the parser should use)
        ranges = {"--num-classes": limits.NUM_CLASSES, "--in-chans": limits.IN_CHANS,
                  "--input-size": limits.IMAGE_SIDE}
        assert ranges[option].contains(getattr(result, option[2:].replace("-", "_"))), (option, text)
