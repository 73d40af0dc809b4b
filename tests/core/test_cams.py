"""Class activation maps (core.cams through analyze): each method against its paper's formula."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explorer import analyze
from resnet_explorer.core import cams
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.studies import StudyCancelled
from tests.core.test_probe import one_patch_net, photo, small
from tests.study_helpers import one_thread

PATCH = (slice(3, 7), slice(9, 13))  # rows, cols of the one bright patch of the tiny net's input


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def loaded():
    return small()


# ----- a net whose answer is known: one patch decides the class -----------------------------------------
def patch_net() -> nn.Sequential:
    """conv (channel 0 sees brightness, channel 1 its negative) -> ReLU -> global mean -> linear.

    Class 0's logit is 100 x the mean brightness - 3: high with the patch, -3 without it; class 1's is 0.
    """
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    head = nn.Linear(2, 2)
    with torch.no_grad():
        conv.weight[0].fill_(1 / 9)
        conv.weight[1].fill_(-1 / 9)
        head.weight.copy_(torch.tensor([[100.0, 0.0], [0.0, 0.0]]))
        head.bias.copy_(torch.tensor([-3.0, 0.0]))
    return nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head).eval()


def patch_input() -> torch.Tensor:
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, PATCH[0], PATCH[1]] = 1.0
    return x


def record(net: nn.Sequential, x: torch.Tensor, cls: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The activation after the ReLU and the gradient of the class's logit with respect to it."""
    act = net[1](net[0](x)).detach().requires_grad_(True)
    logits = net[2:](act)
    (grad,) = torch.autograd.grad(logits[0, cls], act)
    return act[0].detach(), grad[0]


def peak_on_patch(cam: torch.Tensor) -> bool:
    row, col = np.unravel_index(int(cam.argmax()), tuple(cam.shape))
    return PATCH[0].start <= row < PATCH[0].stop and PATCH[1].start <= col < PATCH[1].stop


def test_the_patch_net_answers_class_0_only_with_its_patch():
    net, x = patch_net(), patch_input()
    assert F.softmax(net(x), 1)[0, 0] > 0.95
    assert F.softmax(net(torch.zeros_like(x)), 1)[0, 0] < 0.05


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "layercam"])
def test_every_gradient_method_peaks_on_the_deciding_patch(method):
    net, x = patch_net(), patch_input()
    act, grad = record(net, x, 0)
    formula = {"gradcam": cams.grad_cam, "gradcam++": cams.grad_cam_plus_plus, "layercam": cams.layer_cam}
    cam = formula[method](act, grad)
    assert peak_on_patch(cam)
    assert cam[12:, :].max() == 0 and cam[:, :6].max() == 0  # nothing far from the patch (3x3 conv blur)


def test_score_cam_and_occlusion_peak_on_the_deciding_patch():
    net, x = patch_net(), patch_input()
    act, _ = record(net, x, 0)
    score = cams.score_cam(net, x, act, 0)
    assert peak_on_patch(score) and score[12:, :].max() == 0
    sensitivity = cams.occlusion(net, x, 0, patch=3, stride=1)
    assert peak_on_patch(sensitivity)
    assert sensitivity[12:, :].abs().max() < 1e-6  # hiding what is already 0 changes nothing


@pytest.mark.parametrize("method", cams.METHODS)
def test_every_method_through_analyze_peaks_where_the_evidence_is(method):
    loaded, x = one_patch_net()  # test_probe's Grad-CAM net, for each method
    result = analyze(loaded, x, cam=method, cam_class=0, feature_maps=False, measures=False)
    cam = result.cam
    row, col = np.unravel_index(np.argmax(cam), cam.shape)
    assert 4 <= row < 12 and 20 <= col < 28, method
    assert cam[20:, :].max() < 1e-3 and cam[:, :12].max() < 1e-3, method
    assert result.cam_method == method and result.cam_class == 0


# ----- the formulas, on recorded activations and gradients ------------------------------------------------
def recorded(loaded, image, cls: int, stage: str = "layer2"):
    """Activation, gradient and logit at ``stage`` by a plain hook and autograd (the textbook recipe)."""
    model, saved = loaded.model, {}
    handle = model.get_submodule(stage).register_forward_hook(lambda m, i, o: saved.update(act=o))
    try:
        logits = model(loaded.preprocessing(image)[None])
        grad = torch.autograd.grad(logits[0, cls], saved["act"])[0][0]
    finally:
        handle.remove()
    return saved["act"][0].detach().double().numpy(), grad.double().numpy(), float(logits[0, cls].detach())


def shown(cam: np.ndarray, size=(32, 32)) -> np.ndarray:
    up = F.interpolate(torch.from_numpy(cam).float()[None, None], size=size, mode="bilinear",
                       align_corners=False)[0, 0].clamp_min(0)
    return (up / up.max()).numpy()


def test_grad_cam_plus_plus_is_the_papers_formula(loaded):
    image = photo()
    a, g, score = recorded(loaded, image, 3)
    # Chattopadhyay et al. eq. 19 with Y = exp(S): dY = exp(S) g, d2Y = exp(S) g^2, d3Y = exp(S) g^3.
    e = np.exp(score)
    d1, d2, d3 = e * g, e * g ** 2, e * g ** 3
    denom = 2 * d2 + a.sum(axis=(1, 2), keepdims=True) * d3
    alpha = np.divide(d2, denom, out=np.zeros_like(d2), where=denom != 0)
    weights = (alpha * np.maximum(d1, 0)).sum(axis=(1, 2))
    expected = np.maximum(np.einsum("k,khw->hw", weights, a), 0)
    result = analyze(loaded, image, cam="gradcam++", cam_stage="layer2", cam_class=3)
    assert np.allclose(result.cam, shown(expected), atol=1e-5)
    assert (result.cam_method, result.cam_stage, result.cam_layer) == ("gradcam++", "layer2", "layer2.2")


def test_layer_cam_is_the_papers_formula(loaded):
    image = photo()
    a, g, _ = recorded(loaded, image, 3)
    expected = np.maximum((np.maximum(g, 0) * a).sum(axis=0), 0)  # Jiang et al. eq. 3-4
    result = analyze(loaded, image, cam="layercam", cam_stage="layer2", cam_class=3)
    assert np.allclose(result.cam, shown(expected), atol=1e-5)


def test_grad_cam_at_a_block_and_at_the_stem_hooks_that_tensor(loaded):
    image = photo()
    for stage, module, layer in (("layer2.1", "layer2.1", "layer2.1"), ("stem", "maxpool", "stem")):
        a, g, _ = recorded(loaded, image, 5, stage=module)
        expected = np.maximum(np.einsum("k,khw->hw", g.mean(axis=(1, 2)), a), 0)
        result = analyze(loaded, image, cam="gradcam", cam_stage=stage, cam_class=5)
        assert np.allclose(result.cam, shown(expected), atol=1e-5), stage
        assert (result.cam_stage, result.cam_layer) == (stage, layer)
        assert result.gradcam_stage == stage  # the older names read the same fields


def test_a_block_split_leaves_feature_maps_and_measures_unchanged(loaded):
    image = photo()
    plain = analyze(loaded, image, gradcam=False)
    split = analyze(loaded, image, cam="layercam", cam_stage="layer2.1")
    assert plain.feature_maps.keys() == split.feature_maps.keys()
    for name in plain.feature_maps:
        assert np.allclose(plain.feature_maps[name], split.feature_maps[name], atol=1e-6), name
    assert np.allclose(plain.probs, split.probs, atol=1e-6)
    assert plain.residual_ratio == pytest.approx(split.residual_ratio, rel=1e-5)


def test_score_cam_weights_are_the_masked_inputs_scores(loaded):
    model, x = loaded.model, loaded.preprocessing(photo())[None]
    saved = {}
    handle = model.layer3.register_forward_hook(lambda m, i, o: saved.update(act=o[0].detach()))
    with torch.no_grad():
        model(x)
    handle.remove()
    act = saved["act"]
    weights = cams.score_cam_weights(model, x, act, 2, batch_size=7)
    assert weights.shape == (act.shape[0],)
    for k in (0, 13, act.shape[0] - 1):
        up = F.interpolate(act[k][None, None], size=(32, 32), mode="bilinear", align_corners=False)
        lo, hi = up.min(), up.max()
        mask = (up - lo) / (hi - lo) if hi > lo else torch.zeros_like(up)
        with torch.no_grad():
            by_hand = F.softmax(model(x * mask), dim=1)[0, 2]
        assert float(weights[k]) == pytest.approx(float(by_hand), abs=1e-5), k
    assert torch.allclose(weights, cams.score_cam_weights(model, x, act, 2, batch_size=64), atol=1e-5)
    expected = F.relu((weights[:, None, None] * act).sum(0))
    result = analyze(loaded, x[0], cam="scorecam", cam_class=2)
    assert np.allclose(result.cam, cams.to_display(expected, (32, 32)).numpy(), atol=1e-5)
    assert result.cam_layer == "layer3.2"


def test_occlusion_map_is_the_probability_drop(loaded):
    model, x = loaded.model, loaded.preprocessing(photo())[None]
    grid = cams.occlusion_drops(model, x, 4, patch=6, stride=4)
    assert grid.rows == [0, 4, 8, 12, 16, 20, 24, 26] == grid.cols  # the last patch flush with the edge
    with torch.no_grad():
        base = F.softmax(model(x), 1)[0, 4]
        hidden = x.clone()
        hidden[..., 8:14, 20:26] = 0  # the normalised input's mean
        by_hand = base - F.softmax(model(hidden), 1)[0, 4]
    assert float(grid.drops[2, 5]) == pytest.approx(float(by_hand), abs=1e-5)
    sensitivity = cams.occlusion(model, x, 4, patch=6, stride=4)
    assert float(sensitivity[0, 0]) == pytest.approx(float(grid.drops[0, 0]), abs=1e-6)  # one patch covers it
    assert float(sensitivity[5, 5]) == pytest.approx(float(grid.drops[:2, :2].mean()), abs=1e-6)  # four do
    result = analyze(loaded, x[0], cam="occlusion", cam_class=4, cam_stage="layer1")  # stage: not used
    default = cams.occlusion(model, x, 4)
    assert np.allclose(result.cam, cams.to_display(default, (32, 32)).numpy(), atol=1e-5)
    assert (result.cam_stage, result.cam_layer) == ("input", "input")


def test_default_occlusion_patches_scale_with_the_input():
    assert cams.occlusion_defaults(224) == (32, 16)
    assert cams.occlusion_defaults(28) == (4, 2)
    assert cams.occlusion_defaults(5) == (1, 1)


def test_slow_methods_report_progress_and_stop_when_cancelled(loaded):
    calls = []
    result = analyze(loaded, photo(), cam="scorecam", progress=lambda d, t: calls.append((d, t)))
    assert result.cam is not None
    done, total = calls[-1]
    assert done == total <= 64 and [d for d, _ in calls] == sorted(d for d, _ in calls)  # dead channels: free
    cancel = threading.Event()
    cancel.set()
    for method in ("scorecam", "occlusion"):
        with pytest.raises(StudyCancelled):
            analyze(loaded, photo(), cam=method, cancel=cancel)


def test_no_map_without_a_method_and_bad_options_are_refused(loaded):
    image = photo()
    assert analyze(loaded, image, gradcam=False).cam is None
    assert analyze(loaded, image, gradcam=False, cam="layercam").cam_method == "layercam"
    assert analyze(loaded, image).cam_method == "gradcam"  # gradcam=True, the default
    with pytest.raises(UserInputError, match="unknown CAM method 'guided'"):
        analyze(loaded, image, cam="guided")
    with pytest.raises(UserInputError, match="no stage 'layer3.7'.*stem, layer1, layer2, layer3"):
        analyze(loaded, image, cam="gradcam", cam_stage="layer3.7")
    with pytest.raises(UserInputError, match="disagree"):
        analyze(loaded, image, cam_stage="layer1", gradcam_stage="layer2")
    assert all(p.grad is None for p in loaded.model.parameters())


def test_occlusion_and_score_cam_hide_with_black_for_models_trained_on_black():
    fill = cams.background_fill((0.286,), (0.353,), (0, 0, 0))
    assert float(fill.flatten()[0]) == pytest.approx(-0.286 / 0.353)  # black, normalised
    assert cams.background_fill((0.5, 0.5, 0.5), (0.2, 0.2, 0.2), (255, 255, 255)) == 0.0  # photos: grey
    assert cams.background_fill((0.5,), (0.2,), None) == 0.0
    colour = cams.background_fill((0.4, 0.5, 0.6), (0.2, 0.25, 0.3), (0, 0, 0))  # colour, on black
    assert colour.shape == (1, 3, 1, 1)
    np.testing.assert_allclose(colour.flatten().numpy(), [-2.0, -2.0, -2.0], rtol=1e-6)
    seen = []
    model = lambda batch: seen.append(batch.clone()) or torch.zeros(batch.shape[0], 2)  # noqa: E731
    x = torch.ones(1, 1, 14, 14)
    cams.occlusion_drops(model, x, 0, patch=2, stride=2, fill=fill)
    occluded = seen[1][0]  # seen[0] is the unoccluded input
    assert occluded[0, 0, 0] == pytest.approx(-0.286 / 0.353) and occluded[0, 5, 5] == 1.0
