"""evaluate()'s per-class results: the confusion matrix, per-class accuracy, the most confident mistakes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_explorer import build_model
from resnet_explorer.core import checkpoint
from resnet_explorer.core.class_tally import ClassTally
from resnet_explorer.core.data import load_dataset, make_synthetic, normalize
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.evaluation import evaluate
from tests.core.test_probe import _randomise_bn
from tests.study_helpers import one_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def synthetic_model_file(folder) -> str:
    """A resnet20 for 16 px synthetic images: random features, a least-squares classifier on top.

    Good enough to predict every class often and to make confident mistakes, in a fraction of a second.
    """
    torch.manual_seed(0)
    model = build_model("resnet20").eval()
    _randomise_bn(model)
    bundle = make_synthetic(n_train=48, n_test=8)
    mean, std = torch.tensor(bundle.mean).view(1, 3, 1, 1), torch.tensor(bundle.std).view(1, 3, 1, 1)
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(normalize(bundle.train.images, mean, std)),
                                   pre_logits=True)
        design = torch.cat([feats, torch.ones(len(feats), 1)], dim=1)
        target = F.one_hot(bundle.train.labels, 10).float()
        solution = torch.linalg.lstsq(design, target).solution  # (65, 10)
        model.fc.weight.copy_(solution[:-1].T * 10)
        model.fc.bias.copy_(solution[-1] * 10)
    card = {"model": model.config, "class_names": bundle.class_names, "dataset": "synthetic",
            "preprocessing": {"input_size": [3, 16, 16], "mean": list(bundle.mean), "std": list(bundle.std),
                              "resize": None, "crop": None, "grayscale": False}}
    return str(checkpoint.save_model(folder / "synthetic.safetensors", model, card))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return synthetic_model_file(tmp_path_factory.mktemp("model"))


def test_confusion_rows_are_class_counts_and_its_trace_is_top1(model_file):
    result = evaluate(model_file, "synthetic", subset=200, batch_size=64, device="cpu", download=False)
    labels = load_dataset("synthetic", image_size=16, subset=200).test.labels
    matrix = np.array(result["confusion"])
    assert matrix.shape == (10, 10) and matrix.sum() == result["n"] == len(labels)
    assert matrix.sum(axis=1).tolist() == np.bincount(labels.numpy(), minlength=10).tolist()
    assert np.trace(matrix) / result["n"] == pytest.approx(result["top1"], abs=1e-12)
    assert (matrix.sum(axis=0) > 0).sum() > 2  # the random net predicts several classes: a real test
    for row in result["per_class"]:
        c = row["class"]
        assert row["n"] == matrix[c].sum() and row["correct"] == matrix[c, c]
        assert row["accuracy"] == pytest.approx(matrix[c, c] / matrix[c].sum())
        assert row["name"] == result["class_names"][c] == f"pattern {c}"
    assert {"model", "dataset", "split", "top1", "top5", "loss", "n"} <= result.keys()  # the old keys
    assert "misclassified" not in result


def test_the_most_confident_mistakes_with_their_pictures(model_file):
    result = evaluate(model_file, "synthetic", subset=200, batch_size=64, device="cpu", misclassified=5)
    test = load_dataset("synthetic", image_size=16, subset=200).test
    mistakes = result["misclassified"]
    assert len(mistakes) == 5
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    for m in mistakes:
        assert m["true"] != m["predicted"] and m["true"] == int(test.labels[m["index"]])
        assert m["image"].shape == (16, 16, 3) and m["image"].dtype == np.uint8
        assert np.array_equal(m["image"], test.images[m["index"]].permute(1, 2, 0).numpy())
        assert m["predicted_name"] == f"pattern {m['predicted']}"
    with pytest.raises(UserInputError, match="misclassified"):
        evaluate(model_file, "synthetic", subset=20, device="cpu", misclassified=-1)


def test_the_tally_keeps_the_best_mistakes_across_batches():
    tally = ClassTally(3, keep=2)
    # batch 1 (images 0-2): one right, two wrong; batch 2 (images 3-4): one wrong, very confident
    tally.add(0, torch.tensor([[5.0, 0, 0], [0, 1.0, 0.5], [0, 0, 0.1]]), torch.tensor([0, 0, 1]))
    tally.add(3, torch.tensor([[0, 9.0, 0], [1.0, 0, 0]]), torch.tensor([2, 0]))
    assert tally.confusion.tolist() == [[2, 1, 0], [0, 0, 1], [0, 1, 0]]
    best = tally.mistakes()
    assert [(m.index, m.true, m.predicted) for m in best] == [(3, 2, 1), (1, 0, 1)]
    assert best[0].confidence == pytest.approx(float(torch.softmax(torch.tensor([0, 9.0, 0]), 0)[1]))
    summary = tally.summary(["a", "b", "c"])
    assert [r["accuracy"] for r in summary["per_class"]] == [pytest.approx(2 / 3), 0.0, 0.0]
    assert ClassTally(2).summary(["a", "b"])["per_class"][0]["accuracy"] is None  # no images of it
