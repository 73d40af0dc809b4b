"""Weights read from files: wrong dtypes, NaN, wrong ranks and misnamed files are each one line."""

from __future__ import annotations

import json
import struct

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save as st_save

from resnet_explorer.core import checkpoint, evaluation, model_file, zoo
from resnet_explorer.core.errors import ExplorerError, UserInputError
from resnet_explorer.core.state_check import state_problems
from tests.core.conftest import RESNET20_CARD

CARD = RESNET20_CARD


def loaders(path):
    """Every way a user opens a model file: the zoo (GUI, classify) and evaluate's reader."""
    return (lambda: zoo.load_model(str(path), "cpu"),
            lambda: evaluation.load_model_file(path, torch.device("cpu")))


def refused(path, expected: str) -> None:
    for load in loaders(path):
        with pytest.raises(UserInputError) as info:
            load()
        message = str(info.value)
        assert expected in message and "\n" not in message, message


def save(tmp_path, tensors, card=CARD, name="m.safetensors"):
    return checkpoint.save_tensors(tmp_path / name, tensors, {model_file.META_KEY: json.dumps(card)})


def test_int64_weights_are_refused_not_cast(tmp_path, state):
    ints = {k: v.long() if v.is_floating_point() else v for k, v in state.items()}
    refused(save(tmp_path, ints), "conv1.weight holds int64 values, expected floating-point weights")


def test_int64_num_batches_tracked_is_normal_and_half_precision_loads(tmp_path, state):
    assert state["bn1.num_batches_tracked"].dtype == torch.int64
    halves = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    for load in loaders(save(tmp_path, halves)):
        assert load().model is not None


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_infinite_weights_are_one_line_naming_the_tensor(tmp_path, state, bad):
    broken = dict(state)
    broken["layer2.1.conv1.weight"] = state["layer2.1.conv1.weight"].clone()
    broken["layer2.1.conv1.weight"][0, 0, 0, 0] = bad
    refused(save(tmp_path, broken), "layer2.1.conv1.weight holds NaN or infinite values")


def test_negative_batchnorm_variances_are_refused(tmp_path, state):
    broken = {**state, "bn1.running_var": -state["bn1.running_var"]}
    refused(save(tmp_path, broken), "bn1.running_var holds negative variances")


def test_a_one_dimensional_conv1_is_a_shape_line_with_a_card_with_arch_and_without(tmp_path, state):
    broken = {**state, "conv1.weight": state["conv1.weight"].flatten()}
    refused(save(tmp_path, broken), "conv1.weight has shape [144], expected [16, 1, 3, 3]")
    bare = checkpoint.save_tensors(tmp_path / "bare.safetensors", broken)
    with pytest.raises(UserInputError, match="conv1.weight has shape"):
        zoo.load_model(str(bare), "cpu", arch="resnet20")  # was an IndexError
    with pytest.raises(UserInputError, match="not a ResNet state dict"):
        zoo.load_model(str(bare), "cpu")


def test_a_pth_named_safetensors_says_what_it_is(tmp_path, state):
    zipped = tmp_path / "x.safetensors"
    torch.save(state, zipped)
    refused(zipped, f"{zipped} is a PyTorch .pth file (zip), not safetensors; rename it to .pth")
    legacy = tmp_path / "y.safetensors"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    refused(legacy, "is a PyTorch .pth file (pickle), not safetensors; rename it to .pth")


def test_a_header_whose_length_starts_with_the_pickle_byte_is_still_safetensors(tmp_path):
    # The first byte is the header length's low byte: 0x80 is a plausible length, not a pickle.
    for pad in range(0, 64):
        path = checkpoint.save_tensors(tmp_path / "t.safetensors", {"w": torch.zeros(2)},
                                       {"pad": "x" * pad})
        if path.read_bytes()[0] == 0x80:
            assert model_file.read_safetensors(path)[0]["w"].shape == (2,)
            return
    pytest.fail("no padding gave a header length ending in 0x80")


def test_state_problems_name_each_kind_once():
    expected = {"a": torch.zeros(2, 3), "n": torch.zeros((), dtype=torch.int64)}
    assert state_problems(expected, {"a": torch.zeros(6), "n": torch.tensor(1)}) == [
        "a has shape [6], expected [2, 3]"]
    assert state_problems(expected, {"a": torch.zeros(2, 3, dtype=torch.int32)}) == [
        "1 missing (e.g. n)", "a holds int32 values, expected floating-point weights"]
    assert state_problems(expected, {"a": torch.zeros(2, 3), "n": torch.tensor(7)}) == []


# ----- property-based: generated safetensors headers ---------------------------------------------------
DTYPES = ["F32", "F16", "BF16", "F64", "I64", "I32", "U8", "BOOL", "F8_E4M3", "X", ""]
KEYS = ["conv1.weight", "bn1.weight", "bn1.running_var", "bn1.num_batches_tracked", "fc.weight", "fc.bias",
        "layer1.0.conv1.weight", "__metadata__", "x"]
METADATA = st.dictionaries(st.sampled_from([model_file.META_KEY, "format", "x"]),
                           st.text(max_size=30) | st.sampled_from(['{"model": 1}', "[]", "{}",
                                                                   json.dumps(CARD), "1e999"]),
                           max_size=2)


@st.composite
def headers(draw) -> bytes:
    """A safetensors file: its header is JSON with plausible and absurd entries, then a few data bytes."""
    header: dict = {}
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=4, unique=True)):
        if key == "__metadata__":
            header[key] = draw(METADATA | st.sampled_from([[], 1, None]))
            continue
        shape = draw(st.lists(st.integers(-2, 2**40), max_size=4)
                     | st.sampled_from([[16, 1, 3, 3], [10, 64]]))
        start = draw(st.integers(-1, 64))
        header[key] = {"dtype": draw(st.sampled_from(DTYPES)), "shape": shape,
                       "data_offsets": [start, start + draw(st.integers(-1, 2**33))]}
    text = json.dumps(header).encode()
    declared = draw(st.sampled_from([len(text), len(text) + 1, 0, 2**63, 7]))
    data = draw(st.binary(max_size=128))
    return struct.pack("<Q", declared) + text + data


@st.composite
def well_formed(draw) -> bytes:
    """A valid safetensors file of small tensors with ResNet-like names, any dtype, and any card text."""
    tensors = {}
    for key in draw(st.lists(st.sampled_from(KEYS[:-2]), max_size=5, unique=True)):
        shape = draw(st.sampled_from([(), (9,), (16, 1, 3, 3), (10, 64), (16,), (1, 1, 1, 1, 1)]))
        dtype = draw(st.sampled_from([torch.float32, torch.float16, torch.int64, torch.uint8, torch.bool]))
        fill = draw(st.sampled_from([0.0, 1.0, -1.0, float("nan"), float("inf")]))
        tensors[key] = (torch.full(shape, fill).to(dtype) if dtype.is_floating_point
                        else torch.zeros(shape, dtype=dtype))
    return st_save(tensors, metadata=draw(METADATA) or None)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=headers() | well_formed() | st.binary(max_size=64))
def test_generated_safetensors_files_load_or_fail_in_one_line(tmp_path, blob):
    path = tmp_path / "gen.safetensors"
    path.write_bytes(blob)
    for read in (lambda: model_file.read_model(path),
                 lambda: zoo.load_model(str(path), "cpu", arch="resnet20"), *loaders(path)):
        try:
            read()
        except ExplorerError as exc:
            assert str(exc) and "\n" not in str(exc), str(exc)
