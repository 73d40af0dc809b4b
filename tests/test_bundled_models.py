"""The models shipped in assets/models: present, documented, and as good as their cards say."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from resnet_explorer.core.zoo import BUNDLED_IDS, DEFAULT_MODEL, load_model
from resnet_explorer.resources import asset

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
CARD_FIELDS = ("arch", "dataset", "command", "epochs", "wall_time_s", "hardware", "final_train_error",
               "final_test_error", "per_class_test_accuracy")


@pytest.mark.parametrize("model_id", BUNDLED_IDS)
def test_bundled_model_is_shipped_small_and_carries_a_full_card(model_id):
    weights = asset("models", f"{model_id}.safetensors")
    assert weights.is_file(), f"{model_id} is not shipped"
    assert weights.stat().st_size < 5 * 1024 * 1024
    card = json.loads(asset("models", f"{model_id}.json").read_text())
    missing = [f for f in CARD_FIELDS if f not in card]
    assert not missing, missing
    assert card["command"].startswith("resnet-explorer train")
    assert len(card["per_class_test_accuracy"]) == 10


def test_default_model_classifies_the_shipped_test_samples():
    loaded = load_model(DEFAULT_MODEL, device="cpu")
    from resnet_explorer.core.probe import analyze

    samples = sorted(asset("samples").glob("fmnist-*.png"))
    assert len(samples) >= 10
    correct = 0
    for path in samples:
        true_class = int(re.match(r"fmnist-(\d)-", path.name).group(1))
        result = analyze(loaded, path, gradcam=False, feature_maps=False, measures=False)
        correct += result.top_k[0].index == true_class
    # the card promises >= 93% on the test set; these are 20 test images
    assert correct >= len(samples) - 3


@pytest.mark.dataset
@pytest.mark.skipif(not DEBIAN_FASHION_MNIST.is_file(),
                    reason="needs Debian's dataset-fashion-mnist (apt install dataset-fashion-mnist)")
def test_evaluate_reproduces_the_default_model_card_exactly():
    from resnet_explorer.core.evaluation import evaluate

    card = json.loads(asset("models", f"{DEFAULT_MODEL}.json").read_text())
    result = evaluate(DEFAULT_MODEL, "fashion-mnist", device="cpu", download=False)
    assert result["n"] == 10_000
    assert result["top1"] == pytest.approx(card["test_top1"], abs=1e-12)
    assert result["top1"] >= 0.93
