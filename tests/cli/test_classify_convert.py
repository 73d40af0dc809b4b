"""``resnet-explorer classify``: the domain note and ``--convert`` (images made like Fashion-MNIST's)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_explorer import build_model
from resnet_explorer.cli import main
from resnet_explorer.core import checkpoint
from resnet_explorer.resources import asset

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def save(path, arch: str, in_chans: int, dataset: str, prep: dict) -> str:
    torch.manual_seed(0)
    model = build_model(arch, in_chans=in_chans)
    card = {"model": model.config, "class_names": FASHION, "dataset": dataset, "preprocessing": prep}
    return str(checkpoint.save_model(path, model, card))


@pytest.fixture
def fashion_model(tmp_path):
    return save(tmp_path / "fm.safetensors", "resnet20", 1, "fashion-mnist",
                {"input_size": [1, 28, 28], "mean": [0.286], "std": [0.353], "resize": None, "crop": None,
                 "grayscale": True})


@pytest.fixture
def light_photo(tmp_path):
    pixels = np.full((90, 120), 235, dtype=np.uint8)
    pixels[20:80, 30:60] = 40  # a dark object on a light background
    path = tmp_path / "product.png"
    Image.fromarray(pixels, mode="L").save(path)
    return str(path)


def test_without_convert_the_reasons_are_reported(fashion_model, light_photo, capsys):
    assert main(["classify", light_photo, "--weights", fashion_model, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["domain"]["description"] == "10 clothing classes, 28x28 grey, white object on black"
    result = doc["results"][0]
    assert result["converted"] is False
    assert [r["id"] for r in result["unlike_training"]] == ["light-background"]
    assert "light objects on black" in result["unlike_training"][0]["text"]


def test_convert_classifies_the_converted_image(fashion_model, light_photo, capsys):
    assert main(["classify", light_photo, "--weights", fashion_model, "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)["results"][0]
    assert main(["classify", light_photo, "--weights", fashion_model, "--json", "--convert"]) == 0
    converted = json.loads(capsys.readouterr().out)["results"][0]
    assert converted["converted"] is True
    assert converted["unlike_training"] == plain["unlike_training"]  # reasons are about the original
    assert converted["top_k"] != plain["top_k"]  # another picture went in


def test_text_output_names_the_reasons_and_the_conversion(fashion_model, light_photo, capsys):
    main(["classify", light_photo, "--weights", fashion_model])
    out = capsys.readouterr().out
    assert "note: unlike the training pictures" in out and "--convert makes it like them" in out
    main(["classify", light_photo, "--weights", fashion_model, "--convert"])
    assert "converted like Fashion-MNIST" in capsys.readouterr().out


def test_a_fashion_mnist_image_gets_no_note(fashion_model, capsys):
    sample = str(asset("samples") / "fmnist-7-sneaker-00009.png")
    assert main(["classify", sample, "--weights", fashion_model, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["unlike_training"] == []


def test_convert_is_refused_for_a_photo_model(tmp_path, light_photo, capsys):
    photo_model = save(tmp_path / "cifar.safetensors", "resnet20", 3, "cifar10",
                       {"input_size": [3, 32, 32], "mean": [0.5] * 3, "std": [0.25] * 3, "resize": None,
                        "crop": None, "grayscale": False})
    assert main(["classify", light_photo, "--weights", photo_model, "--convert"]) == 1
    err = capsys.readouterr().err
    assert "--convert" in err and "colour photos" in err and len(err.strip().splitlines()) == 1
