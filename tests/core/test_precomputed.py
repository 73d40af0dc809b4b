"""Studies shipped for the bundled models: saved and read back exactly, never used for other weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.landscape import loss_landscape
from resnet_explorer.core.lesion import lesion_study
from resnet_explorer.core.precomputed import (
    landscape_kind,
    read_study,
    shipped_study,
    study_path,
    weights_sha256,
    write_study,
)
from tests.gui.conftest import make_model_file
from tests.study_helpers import one_thread, tiny_eval_set


@pytest.fixture(scope="module")
def studies() -> dict[str, object]:
    """A lesion study of a tiny plain net (some blocks not deletable) and a 2-D landscape of a ResNet."""
    with one_thread():
        plain = lesion_study(tiny_eval_set("plain20"), draws=2)
        landscape = loss_landscape(tiny_eval_set("resnet20"), dims=2, grid=3, span=0.5)
    landscape.loss[0, 0] = np.nan  # a diverged point far from the weights is saved as null
    return {"lesion": plain, landscape_kind(2, 3): landscape}


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "plain20-fashion-mnist.safetensors"
    path.parent.mkdir()
    return make_model_file(path, "plain20")


def save(path: Path, kind: str, weights: Path, result: object, command: str = "cmd") -> Path:
    return write_study(path, kind, "plain20-fashion-mnist", weights_sha256(weights), result, command, "cpu")


@pytest.mark.parametrize("kind", ["lesion", "landscape-2d-3"])
def test_a_saved_study_reads_back_exactly_with_its_command(studies, weights, tmp_path, kind):
    result = studies[kind]
    path = study_path("plain20-fashion-mnist", kind, tmp_path / "studies")
    command = "resnet-explorer lesion-study ..."
    save(path, kind, weights, result, command)
    back, header = read_study(path, kind, "plain20-fashion-mnist", weights)
    assert type(back) is type(result)
    assert json.dumps(back.to_dict(), sort_keys=True) == json.dumps(result.to_dict(), sort_keys=True)
    assert header == {"command": command, "hardware": "cpu"}
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "command": "a\nb  " + "x" * 1000}))
    cleaned = read_study(path, kind, "plain20-fashion-mnist", weights)[1]["command"]
    assert cleaned == ("a b " + "x" * 1000)[:300]  # one line, at most 300 characters: shown as it is
    if kind == "lesion":
        assert not all(b.deletable for b in back.blocks) and back.chance_error == result.chance_error
    else:
        assert np.isnan(back.loss[0, 0]) and back.centre() == result.centre()


def test_a_study_of_other_weights_or_another_model_is_refused(studies, weights, tmp_path):
    path = study_path("plain20-fashion-mnist", "lesion", tmp_path)
    save(path, "lesion", weights, studies["lesion"])
    with pytest.raises(UserInputError, match="not landscape-2d-3 of plain20"):
        read_study(path, "landscape-2d-3", "plain20-fashion-mnist", weights)
    with pytest.raises(UserInputError, match="not lesion of resnet20-fashion-mnist"):
        read_study(path, "lesion", "resnet20-fashion-mnist", weights)
    make_model_file(weights, "plain20", seed=5)  # retrained: its old study says nothing of the new network
    with pytest.raises(UserInputError, match="another version of plain20-fashion-mnist.safetensors"):
        read_study(path, "lesion", "plain20-fashion-mnist", weights)


def test_a_repackaged_model_keeps_its_study_but_other_classes_or_inputs_do_not(studies, weights, tmp_path):
    from resnet_explorer.core.checkpoint import save_tensors
    from resnet_explorer.core.model_file import read_model

    path = save(study_path("plain20-fashion-mnist", "lesion", tmp_path), "lesion", weights, studies["lesion"])
    state, card = read_model(weights)

    def rewrite(**changes: object) -> None:
        save_tensors(weights, state, {"resnet_explorer": json.dumps({**card, **changes})})

    rewrite(hardware="another machine", wall_time_s=1.0)  # the notes of a re-packaging: same network
    assert read_study(path, "lesion", "plain20-fashion-mnist", weights)[0].model_id == "plain20"
    rewrite(class_names=[f"c{i}" for i in range(10)])  # what the outputs mean: not the same model
    with pytest.raises(UserInputError, match="another version"):
        read_study(path, "lesion", "plain20-fashion-mnist", weights)


@pytest.mark.parametrize("damage, message", [
    (lambda d: "not json {", "not valid JSON"),
    (lambda d: [d], "not a study file"),
    (lambda d: {**d, "format": 1}, "not a study file"),  # format 1 hashed the whole file
    (lambda d: {**d, "result": {**d["result"], "n": "many"}}, "'n' is missing or has the wrong type"),
    (lambda d: {**d, "result": {**d["result"], "error": 7.5}}, "'error' must be a fraction"),
    (lambda d: {**d, "result": {**d["result"], "draws": True}}, "'draws' is missing or has the wrong type"),
    (lambda d: {**d, "result": {**d["result"], "blocks": [{"name": 3}]}}, "'name' is missing"),
    (lambda d: {**d, "result": {**d["result"], "deletions": [{"k": 1, "errors": []}]}}, "has no errors"),
    (lambda d: {**d, "result": {**d["result"], "deletions": [{"k": 99, "errors": [0.5]}]}}, "deletes 99 of"),
    (lambda d: {**d, "result": {**d["result"], "loss": float("inf")}}, "'loss' must be a finite number"),
    (lambda d: {**d, "result": {**d["result"], "loss": 10 ** 400}}, "'loss' must be a finite number"),
    (lambda d: "[" * 100_000 + "]" * 100_000, "not valid JSON"),
])
def test_a_damaged_lesion_file_is_one_line(studies, weights, tmp_path, damage, message):
    path = study_path("plain20-fashion-mnist", "lesion", tmp_path)
    save(path, "lesion", weights, studies["lesion"])
    doc = damage(json.loads(path.read_text()))
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(UserInputError, match=message) as caught:
        read_study(path, "lesion", "plain20-fashion-mnist", weights)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("damage, message", [
    (lambda r: {**r, "loss": r["loss"][:2]}, "'loss' has shape"),
    (lambda r: {**r, "coords": [0.0]}, "'coords' has shape"),
    (lambda r: {**r, "error": [["x"] * 3] * 3}, "'error' must hold numbers"),
    (lambda r: {**r, "error": [[2.0] * 3] * 3}, "fractions between 0 and 1"),
    (lambda r: {**r, "dims": 3}, "dims must be 1 or 2"),
    (lambda r: {**r, "error": [[float("inf")] * 3] * 3}, "fractions between 0 and 1"),
    (lambda r: {**r, "coords": [0.0, float("nan"), 1.0]}, "'coords' must be finite"),
])
def test_a_damaged_landscape_file_is_one_line(studies, weights, tmp_path, damage, message):
    kind = landscape_kind(2, 3)
    path = study_path("plain20-fashion-mnist", kind, tmp_path)
    save(path, kind, weights, studies[kind])
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "result": damage(doc["result"])}))
    with pytest.raises(UserInputError, match=message):
        read_study(path, kind, "plain20-fashion-mnist", weights)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_named_like_a_study_is_refused_at_once(weights, tmp_path):
    path = study_path("plain20-fashion-mnist", "lesion", tmp_path)
    os.mkfifo(path)
    with pytest.raises(UserInputError, match="not a regular file \\(a named pipe\\)"):
        read_study(path, "lesion", "plain20-fashion-mnist", weights)


def test_shipped_study_finds_the_bundled_models_file_or_nothing(studies, weights, tmp_path, monkeypatch):
    monkeypatch.setattr("resnet_explorer.core.zoo.bundled_dir", lambda: weights.parent)
    root = tmp_path / "studies"
    assert shipped_study("plain20-fashion-mnist", "lesion", root) is None  # nothing ships
    path = study_path("plain20-fashion-mnist", "lesion", root)
    save(path, "lesion", weights, studies["lesion"])
    found = shipped_study("plain20-fashion-mnist", "lesion", root)
    assert found is not None and found[0].model_id == studies["lesion"].model_id
    # A study ships for resnet20, but its model file does not: nothing to show it for.
    other = study_path("resnet20-fashion-mnist", "lesion", root)
    other.write_text(path.read_text().replace('"plain20-fashion-mnist"', '"resnet20-fashion-mnist"'))
    assert not (weights.parent / "resnet20-fashion-mnist.safetensors").exists()
    assert shipped_study("resnet20-fashion-mnist", "lesion", root) is None
    # An id that is a path is never followed, even where a study and a model file lie at its end.
    (root / "sub").mkdir()
    (weights.parent / "sub").mkdir()
    (weights.parent / "sub" / "x.safetensors").write_bytes(weights.read_bytes())
    text = path.read_text().replace('"plain20-fashion-mnist"', '"sub/x"')
    study_path("sub/x", "lesion", root).write_text(text)
    assert shipped_study("sub/x", "lesion", root) is None
