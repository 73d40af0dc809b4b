"""Every test image's prediction (core.test_set): it agrees with ``evaluate`` and with the network run
by hand, keeps the images the network saw, and stops when cancelled."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_explorer.core.data import make_synthetic, normalize
from resnet_explorer.core.evaluation import evaluate
from resnet_explorer.core.studies import StudyCancelled
from resnet_explorer.core.test_set import predict_split
from resnet_explorer.core.zoo import Preprocessing, wrap_model
from tests.study_helpers import one_thread, tiny_eval_set

DEBIAN_TEST_IMAGES = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def loaded():
    """A resnet20 trained a few steps on 8 px synthetic images (off chance, with mistakes left)."""
    target = tiny_eval_set("resnet20", size=8)
    mean = tuple(float(v) for v in target.mean.flatten())
    std = tuple(float(v) for v in target.std.flatten())
    names = [f"pattern {i}" for i in range(10)]
    card = {"dataset": "synthetic", "class_names": names}
    return wrap_model(target.model, model_id="tiny", class_names=names,
                      preprocessing=Preprocessing((3, 8, 8), mean, std), device="cpu", card=card)


@pytest.fixture(scope="module")
def result(loaded):
    return predict_split(loaded, "synthetic", batch_size=100, device="cpu")


def test_the_confusion_matrix_and_accuracy_agree_with_evaluate(loaded, result):
    reference = evaluate(loaded, "synthetic", batch_size=100, device="cpu")
    assert result.n == reference["n"] == 512
    assert result.confusion.tolist() == reference["confusion"]
    assert result.accuracy == pytest.approx(reference["top1"])
    assert result.per_class == reference["per_class"]
    assert result.class_names == [f"pattern {i}" for i in range(10)]
    # The per-image lists make the same matrix: every cell is its images.
    rebuilt = np.zeros_like(result.confusion)
    np.add.at(rebuilt, (result.labels, result.predicted), 1)
    assert (rebuilt == result.confusion).all()
    assert 0.1 < result.accuracy < 1.0  # a real mix of right and wrong, so the checks below mean something


def test_each_image_is_what_the_network_saw_and_its_prediction_is_the_networks(loaded, result):
    bundle = make_synthetic(size=8)
    assert result.images.shape == (512, 8, 8, 3) and result.images.dtype == np.uint8
    assert (result.images == bundle.test.images.permute(0, 2, 3, 1).numpy()).all()
    assert (result.labels == bundle.test.labels.numpy()).all()
    mean = torch.tensor(loaded.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(loaded.preprocessing.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        probs = torch.softmax(loaded.model(normalize(bundle.test.images, mean, std)), dim=1)
    conf, pred = probs.max(dim=1)
    assert (result.predicted == pred.numpy()).all()
    assert np.allclose(result.confidence, conf.numpy(), atol=1e-5)
    assert result.image(3).shape == (8, 8, 3)


def test_cells_and_mistakes_are_sorted_by_confidence(result):
    for true in range(result.num_classes):
        for pred in range(result.num_classes):
            cell = result.cell(true, pred)
            assert len(cell) == result.confusion[true, pred]
            assert (result.labels[cell] == true).all() and (result.predicted[cell] == pred).all()
            assert (np.diff(result.confidence[cell]) <= 0).all()
    wrong = result.mistakes()
    assert len(wrong) == result.n - result.correct
    assert (result.labels[wrong] != result.predicted[wrong]).all()
    assert (np.diff(result.confidence[wrong]) <= 0).all()
    assert len(result.mistakes(5)) == 5 and len(result.cell(0, 0, limit=2)) <= 2
    acc = result.class_accuracy()
    assert np.allclose(acc, [c["accuracy"] for c in result.per_class])


def test_progress_counts_images_and_cancel_stops_between_batches(loaded):
    seen: list[tuple[int, int]] = []
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 200:
            cancel.set()

    with pytest.raises(StudyCancelled):
        predict_split(loaded, "synthetic", batch_size=100, device="cpu", progress=progress, cancel=cancel)
    assert seen[0] == (0, 512) and seen[-1] == (200, 512)  # stopped before the third batch
    cancel.set()
    with pytest.raises(StudyCancelled):  # already cancelled: nothing is loaded
        predict_split("no-such-model", "synthetic", cancel=cancel)


def test_grey_images_keep_one_channel_and_unnamed_classes_get_numbers(tmp_path):
    from resnet_explorer.core.resnet import build_model

    model = build_model("resnet20", in_chans=1)
    plain = wrap_model(model, model_id="grey", preprocessing=Preprocessing((1, 8, 8), (0.5,), (0.5,),
                                                                              grayscale=True), device="cpu")
    plain.class_names = []  # a model that says nothing about its classes
    got = predict_split(plain, "synthetic", device="cpu", subset=50)
    assert got.images.shape[1:] == (8, 8, 1) and got.image(0).shape == (8, 8)
    assert got.class_names == [str(i) for i in range(10)] and got.n == 50


@pytest.mark.dataset
@pytest.mark.skipif(not DEBIAN_TEST_IMAGES.is_file(),
                    reason="needs Debian's dataset-fashion-mnist (apt install dataset-fashion-mnist)")
def test_the_bundled_model_on_real_fashion_mnist_matches_evaluate():
    result = predict_split("resnet20-fashion-mnist", "fashion-mnist", subset=500, device="cpu",
                           download=False)
    reference = evaluate("resnet20-fashion-mnist", "fashion-mnist", subset=500, device="cpu",
                         download=False)
    assert result.n == 500 and result.confusion.tolist() == reference["confusion"]
    assert result.accuracy == pytest.approx(reference["top1"]) and result.accuracy > 0.85
    assert result.class_names[0] == "T-shirt/top" and result.images.shape[1:] == (28, 28, 1)
