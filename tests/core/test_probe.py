"""analyze(): predictions, feature maps, residual measures, Grad-CAM, lesion and ten-crop."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from resnet_explorer import analyze, build_model
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.zoo import CIFAR10_MEAN, CIFAR10_STD, Preprocessing, wrap_model


def small(arch="resnet20", seed=0, preprocessing=None, **kw):
    torch.manual_seed(seed)
    model = build_model(arch, **kw)
    _randomise_bn(model)
    return wrap_model(model, device="cpu", preprocessing=preprocessing)


def _randomise_bn(model):
    # Fresh BNs are identities; random statistics make every block (and every probe) non-trivial.
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d) and m.weight.abs().sum() > 0:
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def photo(size=(48, 40), seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def hooks_left(model) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


@pytest.fixture(scope="module")
def loaded():
    return small()


def test_predictions_are_the_models_softmax(loaded):
    image = photo()
    result = analyze(loaded, image, top_k=3)
    with torch.no_grad():
        expected = F.softmax(loaded.model(loaded.preprocessing(image)[None]), dim=1)[0].numpy()
    assert np.allclose(result.probs, expected, atol=1e-6)
    assert [p.index for p in result.top_k] == list(np.argsort(-expected)[:3])
    assert result.top_k[0].name == loaded.class_names[result.top_k[0].index]
    assert result.top_k[0].prob >= result.top_k[1].prob >= result.top_k[2].prob
    assert len(analyze(loaded, image, top_k=50, gradcam=False).top_k) == 10


def test_feature_maps_of_stem_and_every_stage(loaded):
    image = photo()
    result = analyze(loaded, image, gradcam=False)
    assert {k: v.shape for k, v in result.feature_maps.items()} == {
        "stem": (16, 32, 32), "layer1": (16, 32, 32), "layer2": (32, 16, 16), "layer3": (64, 8, 8)}
    with torch.no_grad():
        last = loaded.model.forward_features(loaded.preprocessing(image)[None])[0].numpy()
    assert np.allclose(result.feature_maps["layer3"], last, atol=1e-6)
    assert result.display_image.shape == (32, 32, 3) and result.display_image.dtype == np.uint8


def _manual_measures(model, x):
    """||F(x)||/||x|| per block and the std of every 3x3 conv's BN output, block by block by hand."""
    ratios, stds = {}, []
    with torch.no_grad():
        h = model.forward_stem(x)
        for name, block in model.blocks():
            bn1 = block.bn1(block.conv1(h))
            branch = block.branch(h)
            stds += [(f"{name}.bn1", bn1.std(correction=0).item()),
                     (f"{name}.bn2", branch.std(correction=0).item())]
            ratios[name] = (branch.norm() / h.norm()).item()
            h = block(h)
    return ratios, stds


def test_residual_ratio_and_response_std_match_a_hand_computation(loaded):
    image = photo()
    result = analyze(loaded, image, gradcam=False)
    ratios, stds = _manual_measures(loaded.model, loaded.preprocessing(image)[None])
    assert list(result.residual_ratio) == list(ratios)  # every block, in forward order
    assert np.allclose(list(result.residual_ratio.values()), list(ratios.values()), rtol=1e-5)
    assert [n for n, _ in result.response_std] == [n for n, _ in stds]
    assert len(stds) == 18  # resnet20: 18 3x3 convs after the stem
    assert np.allclose([v for _, v in result.response_std], [v for _, v in stds], rtol=1e-5)


def test_zero_initialised_branches_measure_zero_and_lesion_changes_nothing():
    # With zero_init_residual every F(x) is exactly 0: the ratio says so, and removing F(x) is a no-op.
    torch.manual_seed(0)
    loaded = wrap_model(build_model("resnet20", zero_init_residual=True), device="cpu")
    image = photo()
    intact = analyze(loaded, image, gradcam=False)
    assert all(v == 0.0 for v in intact.residual_ratio.values())
    blocks = [n for n, _ in loaded.model.blocks()]
    lesioned = analyze(loaded, image, gradcam=False, lesion=blocks)
    assert np.allclose(lesioned.probs, intact.probs, atol=1e-6)


def test_lesion_matches_the_flag_and_is_always_restored(loaded):
    image = photo()
    model = loaded.model
    result = analyze(loaded, image, lesion=("layer2.1", "layer3.0"))
    model.block("layer2.1").lesioned = model.block("layer3.0").lesioned = True
    try:
        with torch.no_grad():
            expected = F.softmax(model(loaded.preprocessing(image)[None]), dim=1)[0].numpy()
    finally:
        model.block("layer2.1").lesioned = model.block("layer3.0").lesioned = False
    assert np.allclose(result.probs, expected, atol=1e-6)
    assert not np.allclose(result.probs, analyze(loaded, image, gradcam=False).probs, atol=1e-4)
    assert result.lesioned == ("layer2.1", "layer3.0")
    assert result.residual_ratio["layer2.1"] == 0.0 and result.residual_ratio["layer1.0"] > 0
    assert "layer2.1.bn1" not in dict(result.response_std)
    assert not any(b.lesioned for _, b in model.blocks())
    assert all(b.relu.inplace for _, b in model.blocks())


def test_bad_lesions_are_refused():
    plain = small("plain20")
    with pytest.raises(UserInputError, match="no block 'layer9.0'"):
        analyze(plain, photo(), lesion=["layer9.0"])
    with pytest.raises(UserInputError, match="layer2.0 changes the feature map's shape"):
        analyze(plain, photo(), lesion=["layer2.0"])
    assert analyze(plain, photo(), lesion=["layer2.1"], gradcam=False).lesioned == ("layer2.1",)


def test_no_hooks_remain_even_when_the_forward_fails(loaded, monkeypatch):
    analyze(loaded, photo(), lesion=["layer1.1"], ten_crop=True)
    assert hooks_left(loaded.model) == 0

    def broken(x):
        raise RuntimeError("boom")

    monkeypatch.setattr(loaded.model.block("layer3.0"), "forward", broken)
    with pytest.raises(RuntimeError, match="boom"):
        analyze(loaded, photo(), lesion=["layer1.1"])
    assert hooks_left(loaded.model) == 0
    assert not loaded.model.block("layer1.1").lesioned


def test_gradcam_matches_a_reference_implementation(loaded):
    image = photo()
    result = analyze(loaded, image, gradcam_stage="layer2", gradcam_class=3)
    model, saved = loaded.model, {}
    handle = model.layer2.register_forward_hook(lambda m, i, o: saved.update(act=o))
    try:
        logits = model(loaded.preprocessing(image)[None])
        grad = torch.autograd.grad(logits[0, 3], saved["act"])[0][0]
    finally:
        handle.remove()
    act = saved["act"][0].detach()
    cam = F.relu((grad.mean(dim=(1, 2), keepdim=True) * act).sum(0))
    cam = F.interpolate(cam[None, None], size=(32, 32), mode="bilinear", align_corners=False)[0, 0]
    assert np.allclose(result.gradcam, (cam / cam.max()).numpy(), atol=1e-5)
    assert (result.gradcam_class, result.gradcam_stage) == (3, "layer2")
    assert all(p.grad is None for p in model.parameters())  # analyze computed no weight gradients


def test_gradcam_defaults_shape_range_and_class_dependence(loaded):
    result = analyze(loaded, photo())
    assert result.gradcam_class == result.top_k[0].index and result.gradcam_stage == "layer3"
    assert result.gradcam.shape == result.display_image.shape[:2]
    assert result.gradcam.min() >= 0 and result.gradcam.max() == pytest.approx(1.0)
    other = analyze(loaded, photo(), gradcam_class=(result.gradcam_class + 1) % 10)
    assert not np.allclose(other.gradcam, result.gradcam, atol=1e-3)


def one_patch_net():
    """A net that can only see one patch: identity blocks (zero-init F), positive stem filters, and class 0
    whose weights are positive on those channels (class 1: negative); the input is 0 except that patch."""
    torch.manual_seed(0)
    model = build_model("resnet20", zero_init_residual=True)
    with torch.no_grad():
        model.conv1.weight.abs_()
        model.fc.weight.zero_()
        model.fc.weight[0, :16] = 1.0
        model.fc.weight[1, :16] = -1.0
    x = torch.zeros(3, 32, 32)
    x[:, 4:12, 20:28] = 1.0  # top right
    return wrap_model(model, device="cpu"), x


def test_gradcam_peaks_where_the_evidence_is():
    # The map must light up on the patch only (the old gradcam_class keyword, kept for notebooks).
    loaded, x = one_patch_net()
    cam = analyze(loaded, x, gradcam_class=0).gradcam
    row, col = np.unravel_index(np.argmax(cam), cam.shape)
    assert 4 <= row < 12 and 20 <= col < 28
    assert cam[20:, :].max() == 0 and cam[:, :12].max() == 0  # conv and upsampling blur a few pixels
    assert analyze(loaded, x, gradcam_class=1).gradcam.max() == 0  # negative evidence: nothing to show


def test_gradcam_at_an_early_stage_with_a_later_block_lesioned(loaded):
    result = analyze(loaded, photo(), gradcam_stage="layer2", lesion=("layer3.1", "layer3.2"))
    assert result.gradcam.shape == (32, 32) and result.gradcam.max() == pytest.approx(1.0)


def test_ten_crop_averages_the_softmax_of_the_papers_crops():
    import torchvision.transforms.functional as TF

    pre = Preprocessing((3, 32, 32), CIFAR10_MEAN, CIFAR10_STD, resize=40, crop=32)
    loaded = small(preprocessing=pre)
    image = photo((60, 45))
    result = analyze(loaded, image, ten_crop=True)
    crops = TF.ten_crop(TF.resize(image, 40), [32, 32])
    with torch.no_grad():
        probs = F.softmax(loaded.model(torch.stack([pre.to_tensor(c) for c in crops])), dim=1)
    assert np.allclose(result.probs, probs.mean(0).numpy(), atol=1e-6)
    assert not np.allclose(result.probs, analyze(loaded, image).probs, atol=1e-4)
    assert np.array_equal(result.display_image, np.asarray(crops[4]))  # maps are the centre crop's
    assert result.ten_crop and result.feature_maps["layer3"].shape == (64, 8, 8)


def test_inputs_paths_tensors_and_bad_options(loaded, tmp_path):
    image = photo()
    image.save(tmp_path / "p.png")
    from_path = analyze(loaded, str(tmp_path / "p.png"), gradcam=False)
    from_tensor = analyze(loaded, loaded.preprocessing(image), gradcam=False)
    assert np.allclose(from_path.probs, from_tensor.probs, atol=1e-6)
    with pytest.raises(UserInputError, match="out of range"):
        analyze(loaded, image, gradcam_class=10)
    with pytest.raises(UserInputError, match="no stage 'layer4'"):
        analyze(loaded, image, gradcam_stage="layer4")
    with pytest.raises(UserInputError, match="shape"):
        analyze(loaded, torch.zeros(1, 32, 32))
    with pytest.raises(UserInputError, match="not an image"):
        (tmp_path / "t.png").write_text("text")
        analyze(loaded, tmp_path / "t.png")


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None


def _live_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if issubclass(type(o), torch.Tensor))


@pytest.fixture
def one_thread():
    # 200 small forwards: a second intra-op thread only adds synchronisation (and stalls on a busy CI).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_two_hundred_calls_do_not_grow_memory(one_thread):
    # 48x48 input: a leak of the feature maps would be ~0.4 MB per call, 80 MB over the loop.
    pre = Preprocessing((3, 48, 48), CIFAR10_MEAN, CIFAR10_STD)
    loaded = small(preprocessing=pre)
    image = photo((48, 48))
    for _ in range(10):
        analyze(loaded, image, lesion=("layer2.1",))
    tensors, rss = _live_tensors(), _rss_bytes()
    for i in range(200):
        analyze(loaded, image, lesion=("layer2.1",) if i % 2 else (), gradcam=bool(i % 3))
    assert _live_tensors() <= tensors
    if rss is not None:
        assert _rss_bytes() - rss < 32 * 2**20
    assert hooks_left(loaded.model) == 0


# ----- ten-crop: the maps, measures and Grad-CAM are the centre crop's ---------------------------------
def _centre_weighted_photo(size=(44, 38), mode="RGB") -> Image.Image:
    """Noise with a bright off-centre cross in the middle: no crop looks like another."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 120, (size[1], size[0], 3), dtype=np.uint8)
    cy, cx = size[1] // 2, size[0] // 2
    pixels[cy - 6:cy + 3, cx - 1:cx + 2] = (250, 200, 90)
    pixels[cy - 2:cy + 1, cx - 7:cx + 4] = (90, 240, 250)
    return Image.fromarray(pixels).convert(mode)


def _by_hand(model, x, cam_class, cam_stage, size):
    """Feature maps, ||F(x)||/||x||, response stds and Grad-CAM of one preprocessed image, by hand."""
    with torch.no_grad():
        maps = {"stem": model.forward_stem(x)}
        h = maps["stem"]
        for name, stage in model.stages.items():
            h = maps[name] = stage(h)
    ratios, stds = _manual_measures(model, x)
    saved = {}
    handle = model.stages[cam_stage].register_forward_hook(lambda m, i, o: saved.update(act=o))
    try:
        logits = model(x)
        grad = torch.autograd.grad(logits[0, cam_class], saved["act"])[0][0]
    finally:
        handle.remove()
    act = saved["act"][0].detach()
    cam = F.relu((grad.mean(dim=(1, 2), keepdim=True) * act).sum(0))
    cam = F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return {k: v[0].numpy() for k, v in maps.items()}, ratios, stds, (cam / cam.max()).numpy()


def _check_ten_crop_uses(loaded, image, centre: Image.Image, corner: Image.Image) -> None:
    pre, model = loaded.preprocessing, loaded.model
    result = analyze(loaded, image, ten_crop=True, gradcam_class=3, gradcam_stage="layer2")
    side = pre.input_size[1:]
    maps, ratios, stds, cam = _by_hand(model, pre.to_tensor(centre)[None], 3, "layer2", side)
    assert result.ten_crop and result.gradcam_class == 3
    assert np.array_equal(result.display_image, np.asarray(centre.convert("RGB")))
    assert set(result.feature_maps) == set(maps)
    for name, expected in maps.items():
        # A batch of ten and a batch of one may take different convolution kernels: float32 rounding.
        np.testing.assert_allclose(result.feature_maps[name], expected, rtol=1e-4, atol=1e-4, err_msg=name)
    assert list(result.residual_ratio) == list(ratios)
    np.testing.assert_allclose(list(result.residual_ratio.values()), list(ratios.values()), rtol=1e-4)
    assert [n for n, _ in result.response_std] == [n for n, _ in stds]
    np.testing.assert_allclose([v for _, v in result.response_std], [v for _, v in stds], rtol=1e-4)
    np.testing.assert_allclose(result.gradcam, cam, atol=1e-4)
    # The image is such that another crop would measure otherwise: the checks above can tell them apart.
    corner_maps, corner_ratios, _, corner_cam = _by_hand(model, pre.to_tensor(corner)[None], 3, "layer2",
                                                         side)
    assert not np.allclose(corner_maps["layer3"], maps["layer3"], atol=1e-3)
    assert not np.allclose(list(corner_ratios.values()), list(ratios.values()), rtol=1e-3)
    assert not np.allclose(corner_cam, cam, atol=1e-2)


def test_ten_crop_probes_the_centre_crop_after_a_resize(one_thread):
    import torchvision.transforms.functional as TF

    pre = Preprocessing((3, 32, 32), CIFAR10_MEAN, CIFAR10_STD, resize=40, crop=32)
    loaded = small(preprocessing=pre)
    image = _centre_weighted_photo()
    resized = TF.resize(image, 40, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    centre = TF.center_crop(resized, [32, 32])
    corner = TF.crop(resized, 0, 0, 32, 32)  # top left
    _check_ten_crop_uses(loaded, image, centre, corner)


def test_ten_crop_occlusion_and_score_cam_measure_the_centre_crop_alone(one_thread):
    """The perturbation maps run the network again: on the centre crop only, never on its neighbours."""
    import torchvision.transforms.functional as TF

    pre = Preprocessing((3, 32, 32), CIFAR10_MEAN, CIFAR10_STD, resize=40, crop=32)
    loaded = small(preprocessing=pre)
    image = _centre_weighted_photo()
    resized = TF.resize(image, 40, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    centre = pre.to_tensor(TF.center_crop(resized, [32, 32]))
    for method in ("occlusion", "scorecam"):
        crops = analyze(loaded, image, ten_crop=True, cam=method, cam_class=3, feature_maps=False)
        alone = analyze(loaded, centre, cam=method, cam_class=3, feature_maps=False)
        np.testing.assert_allclose(crops.gradcam, alone.gradcam, atol=1e-4, err_msg=method)


def test_ten_crop_probes_the_centre_crop_of_the_default_28px_model(one_thread):
    """The bundled Fashion-MNIST model has no resize step: ten-crop enlarges 28 -> 32 px and cuts 28."""
    import torchvision.transforms.functional as TF

    from resnet_explorer.core.zoo import DEFAULT_MODEL, load_model

    loaded = load_model(DEFAULT_MODEL, device="cpu")
    pre = loaded.preprocessing
    assert pre.resize is None and pre.crop is None and pre.input_size == (1, 28, 28)
    image = _centre_weighted_photo(mode="L")
    resized = TF.resize(image, 32, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    centre = TF.center_crop(resized, [28, 28])
    corner = TF.crop(resized, 0, 0, 28, 28)
    _check_ten_crop_uses(loaded, image, centre, corner)


# ----- bottleneck nets (ResNet-50/101/152): Fig. 7 measures the 3x3 conv's BN, bn2 ----------------------
@pytest.mark.parametrize(("arch", "blocks"), [("resnet50", 16), ("resnet101", 33), ("resnet152", 50)])
def test_bottleneck_response_std_is_bn2_of_every_block(arch, blocks, one_thread):
    from resnet_explorer.core.zoo import IMAGENET_MEAN, IMAGENET_STD

    pre = Preprocessing((3, 64, 64), IMAGENET_MEAN, IMAGENET_STD)
    loaded = small(arch, num_classes=10, preprocessing=pre)
    model = loaded.model
    image = photo((64, 64))
    result = analyze(loaded, image, gradcam_stage="layer4")

    x = pre(image)[None]
    stds, ratios = [], {}
    with torch.no_grad():
        h = model.forward_stem(x)
        for name, block in model.blocks():
            three_by_three = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(h)))))
            stds.append((f"{name}.bn2", three_by_three.std(correction=0).item()))
            ratios[name] = (block.branch(h).norm() / h.norm()).item()
            h = block(h)
    assert len(stds) == blocks
    assert [n for n, _ in result.response_std] == [n for n, _ in stds]
    np.testing.assert_allclose([v for _, v in result.response_std], [v for _, v in stds], rtol=1e-4)
    np.testing.assert_allclose([result.residual_ratio[n] for n in ratios], list(ratios.values()), rtol=1e-4)
    assert result.feature_maps["layer4"].shape == (2048, 2, 2)
    assert result.gradcam.shape == (64, 64) and result.gradcam.max() == pytest.approx(1.0)
