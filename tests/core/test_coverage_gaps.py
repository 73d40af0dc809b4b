"""Branches of the core's public API that `pytest --cov-branch` found untested (README, "Development")."""

from __future__ import annotations

import pytest
import torch

from resnet_explorer import analyze, build_model
from resnet_explorer.core import data as data_mod
from resnet_explorer.core.engine import TrainConfig, TrainingRun
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.zoo import wrap_model

TINY = {"dataset": "synthetic", "image_size": 8, "subset": 64, "batch_size": 32, "threads": 1,
        "save": False, "epochs": 1}


def _setup(**kw: object):
    run = TrainingRun(TrainConfig("resnet20", **{**TINY, **kw}))
    events = run.events()
    next(events)  # RunStarted: set-up is done
    setup = run.setup
    events.close()
    return setup


def test_setup_before_the_run_started_is_a_clear_error():
    run = TrainingRun(TrainConfig("resnet20", **TINY))
    with pytest.raises(RuntimeError, match="events"):
        _ = run.setup
    with pytest.raises(RuntimeError):
        run.lr_at(0)


@pytest.mark.parametrize("augment, hflip", [("flip", True), ("flip", False), ("none", True)])
def test_flip_and_no_augmentation_feed_the_images_themselves(augment, hflip):
    setup = _setup(augment=augment, hflip=hflip, channels_last=False)
    order = torch.arange(len(setup.train_split))
    x, y = setup.batch(order, epoch=0, step=0)
    plain = data_mod.normalize(setup.train_split.images[:32], setup.mean, setup.std)
    assert torch.equal(y, setup.train_split.labels[:32])
    same = [torch.equal(a, b) for a, b in zip(x, plain, strict=True)]
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(x, plain, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))  # never cropped or shifted
    if augment == "flip" and hflip:
        assert 4 <= sum(not s for s in same) <= 28  # about half mirrored
    else:
        assert all(same)


@pytest.mark.parametrize("bad", [dict(num_classes=0), dict(in_chans=0)])
def test_build_model_refuses_no_classes_or_no_channels(bad):
    with pytest.raises(ValueError, match="at least 1"):
        build_model("resnet20", **bad)


def test_analyze_refuses_a_zero_top_k_and_ten_crop_of_a_tensor():
    torch.manual_seed(0)
    loaded = wrap_model(build_model("resnet20"), device="cpu")
    image = torch.zeros(3, 32, 32)
    with pytest.raises(UserInputError, match="top-k"):
        analyze(loaded, image, top_k=0)
    with pytest.raises(UserInputError, match="ten-crop"):
        analyze(loaded, image, ten_crop=True)
    assert len(analyze(loaded, image, top_k=3, gradcam=False).top_k) == 3
