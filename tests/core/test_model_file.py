"""One reader for model files: the zoo, evaluation and the listing all see a file the same way (issue 14)."""

from __future__ import annotations

import json
import struct

import pytest
import torch

from resnet_explorer import build_model
from resnet_explorer.core import checkpoint, evaluation, files, model_file, zoo
from resnet_explorer.core.errors import UserInputError
from tests.core.conftest import RESNET20_CARD

CARD = RESNET20_CARD


def test_suffixes_are_one_list():
    from resnet_explorer.core import suffixes

    assert suffixes.MODEL_SUFFIXES[0] == suffixes.SAFETENSORS_SUFFIX == ".safetensors"
    assert set(suffixes.PICKLE_SUFFIXES) < set(suffixes.MODEL_SUFFIXES)
    assert model_file.card_path("run/model.pth").name == "model.json"


def test_evaluation_reads_what_the_zoo_reads(tmp_path, state):
    """A .pth with its card beside it, and DataParallel's prefix: evaluate's loader takes them too now."""
    path = tmp_path / "m.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    (tmp_path / "m.json").write_text(json.dumps(CARD))
    by_zoo = zoo.load_model(str(path), "cpu")
    by_evaluation = evaluation.load_model_file(path, torch.device("cpu"))
    assert by_zoo.card == by_evaluation.card == CARD
    zoo_state, evaluation_state = by_zoo.model.state_dict(), by_evaluation.model.state_dict()
    assert all(torch.equal(zoo_state[k], evaluation_state[k]) for k in zoo_state)


def test_the_embedded_card_wins_in_the_listing_as_in_loading(tmp_path, monkeypatch):
    model = build_model("resnet20", in_chans=1)
    path = checkpoint.save_model(tmp_path / "mine.safetensors", model,
                                 {"model": model.config, "description": "embedded"})
    (tmp_path / "mine.json").write_text(json.dumps({"description": "sidecar"}))
    assert model_file.peek_card(path)["description"] == "embedded"
    assert model_file.read_model(path).card["description"] == "embedded"
    monkeypatch.setattr(zoo, "bundled_dir", lambda: tmp_path)
    assert next(e for e in zoo.list_models() if e.id == "mine").description == "embedded"
    # No weights file (yet): the listing still reads the sidecar; no card at all is None.
    assert model_file.peek_card(tmp_path / "absent.safetensors") is None
    (tmp_path / "absent.json").write_text(json.dumps({"description": "beside"}))
    assert model_file.peek_card(tmp_path / "absent.safetensors") == {"description": "beside"}


def test_one_cap_on_the_header_whatever_the_file_is_called(tmp_path):
    """A safetensors header over MAX_HEADER_BYTES is said as such, also in a file not named .safetensors."""
    n = model_file.MAX_HEADER_BYTES + 8
    for name in ("big.safetensors", "big.bin"):
        path = tmp_path / name
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", n) + b"{")
            f.truncate(8 + n)  # sparse: nothing stored
        with pytest.raises(UserInputError, match=r"its safetensors header is 16.0 MiB, over the 16.0 MiB"):
            model_file.read_model(path)


def test_sizes_are_formatted_by_one_helper():
    assert files.format_bytes(46830571) == "44.7 MiB"
    assert files.format_bytes(0) == "0 bytes"
    assert files.format_bytes(None) == "unknown size"
