"""The project's own weights format: self-describing safetensors, written atomically."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from resnet_explorer import build_model
from resnet_explorer.core import checkpoint as ck
from resnet_explorer.core import model_file
from resnet_explorer.core.errors import UserInputError


def test_model_round_trip_carries_its_card(tmp_path):
    model = build_model("resnet20", in_chans=1)
    card = {"model": model.config, "class_names": [str(i) for i in range(10)]}
    path = ck.save_model(tmp_path / "m.safetensors", model, card)
    tensors, loaded_card = model_file.read_model(path)
    assert loaded_card["model"]["arch"] == "resnet20"
    assert loaded_card["format"] == model_file.FORMAT
    fresh = build_model("resnet20", in_chans=1)
    fresh.load_state_dict(tensors, strict=True)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "keep.json"
    ck.atomic_write_json(target, {"good": 1})

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ck.StorageError, match="disk is full"):
        ck.atomic_write_json(target, {"good": 2})
    assert target.read_text().strip().endswith("}") and '"good": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]


@pytest.mark.parametrize("content", [b"", b"garbage that is not safetensors at all", b"\xff" * 64])
def test_corrupt_files_get_a_clear_error(tmp_path, content):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    with pytest.raises(UserInputError) as err:
        model_file.read_model(bad)
    assert str(bad) in str(err.value)


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(UserInputError, match="directory"):
        model_file.read_model(tmp_path)
    with pytest.raises(UserInputError, match="no such file"):
        model_file.read_model(tmp_path / "nope.safetensors")


def test_written_files_get_ordinary_permissions_not_private_temp_ones(tmp_path):
    old = os.umask(0o022)
    try:
        path = ck.atomic_write_json(tmp_path / "card.json", {"a": 1})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
