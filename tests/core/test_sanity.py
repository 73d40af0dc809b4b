"""Adebayo et al.'s cascading randomisation (core.sanity): a copy is randomised, never the model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from resnet_explorer import build_model
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.sanity import (
    RANDOMISATION,
    average_ranks,
    randomisation_steps,
    reinitialise,
    sanity_check,
    spearman,
)
from resnet_explorer.core.zoo import wrap_model
from tests.core.test_probe import photo, small
from tests.study_helpers import one_thread


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def test_ranks_share_ties_and_spearman_matches_a_hand_computation():
    assert average_ranks(np.array([10, 30, 20, 30])).tolist() == [1.0, 3.5, 2.0, 3.5]
    # ranks a = 1..5, b = 1, 2, 3.5, 5, 3.5; centred: (-2, -1, 0, 1, 2) . (-2, -1, .5, 2, .5) = 8,
    # squared norms 10 and 9.5
    assert spearman(np.arange(5), np.array([5, 6, 7, 8, 7])) == pytest.approx(8 / math.sqrt(95), abs=1e-12)
    assert spearman(np.array([1, 2, 3]), np.array([30, 20, 10])) == -1.0
    assert spearman(np.arange(4.0), np.exp(np.arange(4.0))) == 1.0  # any monotone map: rank-equal
    assert math.isnan(spearman(np.zeros(4), np.arange(4)))  # a constant map has no order
    with pytest.raises(ValueError):
        spearman(np.zeros(3), np.zeros(4))


def test_the_cascade_goes_from_the_head_to_the_stem():
    model = build_model("resnet20")
    names = [name for name, _ in randomisation_steps(model)]
    assert names == ["fc", "layer3", "layer2", "layer1", "stem"]
    assert randomisation_steps(model)[-1][1] == [model.conv1, model.bn1]


def test_reinitialise_resets_bn_affine_keeps_running_statistics_and_is_seeded():
    model = small().model
    stage = model.layer2
    bn = stage[0].bn1
    running = bn.running_mean.clone(), bn.running_var.clone()
    with torch.no_grad():
        bn.weight.fill_(3.0)
        bn.bias.fill_(-2.0)
    before = stage[0].conv1.weight.clone()
    reinitialise([stage], torch.Generator().manual_seed(7))
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))
    assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
    assert torch.equal(bn.running_mean, running[0]) and torch.equal(bn.running_var, running[1])
    drawn = stage[0].conv1.weight.clone()
    assert not torch.equal(drawn, before)
    reinitialise([stage], torch.Generator().manual_seed(7))
    assert torch.equal(stage[0].conv1.weight, drawn)  # the same seed, the same network
    assert RANDOMISATION["batchnorm"]["running_stats"].startswith("kept")


def test_the_loaded_model_is_untouched_and_step_0_correlates_perfectly():
    loaded = small(seed=3)
    state = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    check = sanity_check(loaded, photo(), methods=["gradcam", "layercam"])
    after = loaded.model.state_dict()
    assert state.keys() == after.keys() and all(torch.equal(state[k], after[k]) for k in state)
    assert all(p.grad is None for p in loaded.model.parameters())
    assert not loaded.model.training
    assert [s.randomised for s in check.steps] == ["nothing", "fc", "layer3", "layer2", "layer1", "stem"]
    assert check.steps[-1].layers == ("fc", "layer3", "layer2", "layer1", "stem")
    assert check.steps[0].rho == {"gradcam": 1.0, "layercam": 1.0}
    assert check.steps[0].maps["gradcam"].shape == (32, 32)
    assert (check.cam_stage, check.cam_layer) == ("layer3", "layer3.2")


def test_grad_cam_changes_once_a_random_net_is_randomised_again():
    torch.manual_seed(1)
    loaded = wrap_model(build_model("resnet20"), device="cpu")
    x = torch.randn(3, 32, 32)
    check = sanity_check(loaded, x, methods=["gradcam"], seed=11)
    assert abs(check.final_rho("gradcam")) < 0.6
    assert not check.barely_changes("gradcam")
    doc = check.to_dict()
    assert doc["verdicts"]["gradcam"]["barely_changes"] is False
    assert doc["steps"][0]["rho"] == {"gradcam": 1.0}
    assert doc["randomisation"]["batchnorm"]["weight_bias"].startswith("reset")
    assert doc["cam_layers"] == {"gradcam": "layer3.2"}


def test_a_map_that_ignores_the_weights_is_flagged():
    loaded = small()
    check = sanity_check(loaded, photo(), methods=["gradcam"])
    for step in check.steps[1:]:  # as if the map had not changed at all
        step.rho["gradcam"] = 0.97
    assert check.barely_changes("gradcam")
    assert check.to_dict()["verdicts"]["gradcam"]["verdict"].startswith("FAILS")


def test_every_method_runs_and_the_class_stays_fixed():
    loaded = small()
    check = sanity_check(loaded, photo(), methods=["scorecam", "occlusion"], cam_class=7,
                         cam_stage="layer2.1")
    assert check.cam_class == 7 and check.cam_layer == "layer2.1"
    assert check.to_dict()["cam_layers"] == {"scorecam": "layer2.1", "occlusion": "input"}
    assert all(set(s.rho) == {"scorecam", "occlusion"} for s in check.steps)


def test_bad_requests_are_one_line_errors():
    loaded = small()
    with pytest.raises(UserInputError, match="unknown CAM method"):
        sanity_check(loaded, photo(), methods=["saliency"])
    with pytest.raises(UserInputError, match="threshold"):
        sanity_check(loaded, photo(), threshold=1.5)
    with pytest.raises(UserInputError, match="no stage"):
        sanity_check(loaded, photo(), cam_stage="layer9")
