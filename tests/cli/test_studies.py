"""``lesion-study``, ``landscape`` and ``gradients`` on the command line: one JSON document on stdout,
progress on stderr, options range-checked by the parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from resnet_explorer import build_model
from resnet_explorer.cli import main
from resnet_explorer.core import checkpoint
from tests.cli.test_options import last_line, parse
from tests.study_helpers import one_thread


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A resnet20 for 8x8 RGB images, with its card (synthetic images are drawn at the card's size)."""
    torch.manual_seed(0)
    model = build_model("resnet20")
    card = {"model": model.config, "class_names": [f"pattern {i}" for i in range(10)],
            "preprocessing": {"input_size": [3, 8, 8], "mean": [0.5] * 3, "std": [0.25] * 3}}
    return str(checkpoint.save_model(tmp_path_factory.mktemp("m") / "r20.safetensors", model, card))


def _json_only(capsys) -> tuple[dict, str]:
    out, err = capsys.readouterr()
    return json.loads(out), err  # json.loads fails on anything besides one document


def test_lesion_study_json(model_file, capsys):
    rc = main(["lesion-study", "--model", model_file, "--dataset", "synthetic", "--subset", "32",
               "--draws", "1", "--json"])
    doc, err = _json_only(capsys)
    assert rc == 0
    assert [b["name"] for b in doc["blocks"] if b["downsampling"]] == ["layer2.0", "layer3.0"]
    assert [d["k"] for d in doc["deletions"]] == list(range(10))
    assert doc["n"] == 32 and doc["split"] == "test" and doc["residual"] is True
    assert "lesion-study:" in err and "passes" in err


def test_lesion_study_text_names_the_downsampling_blocks(model_file, capsys):
    assert main(["lesion-study", "--model", model_file, "--dataset", "synthetic", "--subset", "16",
                 "--draws", "1"]) == 0
    out = capsys.readouterr().out
    assert "layer2.0    downsampling" in out and "k random blocks deleted" in out


def test_landscape_json_and_saved_npz(model_file, tmp_path, capsys):
    out_file = tmp_path / "surface.npz"
    rc = main(["landscape", "--model", model_file, "--dataset", "synthetic", "--subset", "16", "--grid", "3",
               "--dims", "2", "--span", "0.5", "--seed", "4", "--out", str(out_file), "--json"])
    doc, err = _json_only(capsys)
    assert rc == 0 and doc["saved"] == str(out_file) and "landscape:" in err
    assert doc["split"] == "train" and doc["n"] == 16 and doc["coords"] == [-0.5, 0.0, 0.5]
    with np.load(out_file, allow_pickle=False) as f:
        assert np.allclose(f["loss"], np.array(doc["loss"])) and f["loss"].shape == (3, 3)


def test_landscape_text_line(model_file, capsys):
    assert main(["landscape", "--model", model_file, "--dataset", "synthetic", "--subset", "8",
                 "--grid", "3"]) == 0
    out = capsys.readouterr().out
    assert "+0.000" in out and "at the trained weights" in out


def test_landscape_refuses_an_unknown_suffix_before_computing(model_file, capsys):
    rc = main(["landscape", "--model", model_file, "--dataset", "synthetic", "--out", "x.txt"])
    out, err = capsys.readouterr()
    assert rc == 1 and out == "" and len(err.strip().splitlines()) == 1 and ".npz or .json" in err


def test_gradients_json_compares_archs(capsys):
    rc = main(["gradients", "--arch", "plain20", "--arch", "resnet20", "--image-size", "8", "--batch", "4",
               "--line-points", "4", "--json"])
    doc, err = _json_only(capsys)
    assert rc == 0 and [a["arch"] for a in doc["archs"]] == ["plain20", "resnet20"]
    assert len(doc["archs"][0]["blocks"]) == 9 and len(doc["archs"][0]["conv"]) == 19
    assert doc["input_size"] == [3, 8, 8] and "gradients:" in err


def test_gradients_unknown_arch_is_one_line(capsys):
    assert main(["gradients", "--arch", "resnet19", "--image-size", "8", "--batch", "2"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and "resnet20" in err


@pytest.mark.parametrize("argv, option", [
    (["lesion-study", "--model", "m", "--dataset", "synthetic", "--draws", "0"], "--draws"),
    (["lesion-study", "--model", "m", "--dataset", "synthetic", "--subset", "-5"], "--subset"),
    (["landscape", "--model", "m", "--dataset", "synthetic", "--grid", "1"], "--grid"),
    (["landscape", "--model", "m", "--dataset", "synthetic", "--span", "0"], "--span"),
    (["landscape", "--model", "m", "--dataset", "synthetic", "--span", "nan"], "--span"),
    (["landscape", "--model", "m", "--dataset", "synthetic", "--dims", "3"], "--dims"),
    (["gradients", "--arch", "resnet20", "--batch", "1"], "--batch"),
    (["gradients", "--arch", "resnet20", "--line-points", "-1"], "--line-points"),
])
def test_options_are_range_checked_by_the_parser(argv, option):
    status, err = parse(argv)
    assert status == 2
    assert option in last_line(err)
