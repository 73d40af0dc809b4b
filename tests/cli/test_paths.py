"""Paths: a file name the OS refuses or cannot decode is one line, and the other inputs still run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer import build_model
from resnet_explorer.cli import main
from resnet_explorer.commands.output import dumps, printable
from resnet_explorer.core import checkpoint

LONG = "a" * 300 + ".png"  # over the 255 bytes a Linux file name may have
NOT_UTF8 = os.fsdecode(b"caf\xe9.png")  # a Latin-1 name: 'caf\udce9.png' in Python


@pytest.fixture
def model_file(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet20", in_chans=1)
    card = {"model": model.config, "class_names": [f"c{i}" for i in range(10)],
            "preprocessing": {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353]}}
    return str(checkpoint.save_model(tmp_path / "m.safetensors", model, card))


@pytest.fixture
def inputs(tmp_path):
    """A good image, one whose name is not UTF-8, and one whose name is too long (never created)."""
    pixels = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    good, odd = tmp_path / "good.png", tmp_path / NOT_UTF8
    for path in (good, odd):
        Image.fromarray(pixels).save(path, format="PNG")
    return [str(tmp_path / LONG), str(good), str(odd)]


def test_classify_json_is_utf8_and_a_long_name_does_not_stop_the_others(model_file, inputs, capsys):
    rc = main(["classify", *inputs, "--weights", model_file, "--json"])
    out, err = capsys.readouterr()
    assert rc == 2
    out.encode("utf-8")  # strict: no lone surrogates
    doc = json.loads(out)
    assert [r["image"] for r in doc["results"]] == [inputs[1], printable(inputs[2])]
    assert doc["results"][1]["image"].endswith("caf\\xe9.png") and "\\udc" not in out
    assert len(doc["errors"]) == 1 and "too long" in doc["errors"][0]["error"].lower()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_classify_text_output_survives_a_strict_stdout(model_file, inputs):
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    proc = subprocess.run([sys.executable, "-m", "resnet_explorer", "classify", *inputs, "--weights",
                           model_file, "--top-k", "1"], capture_output=True, env=env, timeout=300)
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 2, err
    assert "good.png" in out and "caf\\xe9.png" in out
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_dumps_writes_surrogates_as_visible_bytes_and_nan_as_null():
    text = dumps({"name": NOT_UTF8, "loss": float("nan"), "odd": "\ud800", "list": (1, "x")})
    text.encode("utf-8")
    assert json.loads(text) == {"name": "caf\\xe9.png", "loss": None, "odd": "\\ud800", "list": [1, "x"]}


def test_screenshot_into_a_folder_that_cannot_be_made_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("a file where the folder should be")
    for target in (tmp_path / "file" / "sub" / "out.png", tmp_path):
        assert main(["gui", "--screenshot", str(target)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("resnet-explorer gui: error: cannot save the screenshot")
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_long_model_path_is_one_line_in_evaluate_and_classify(tmp_path, inputs, capsys):
    weights = str(tmp_path / ("w" * 300 + ".safetensors"))
    assert main(["evaluate", "--weights", weights, "--dataset", "synthetic"]) == 1
    assert main(["classify", inputs[1], "--weights", weights]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 2 and "Traceback" not in err
