"""Tests written for mutants that survived ``mutmut run`` (README, "Development"): each checks a value
a user relies on - a learning rate, an optimizer setting, a reported loss or time - not how the code
computes it.
"""

from __future__ import annotations

import math
import re
import time
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.optim.optimizer import register_optimizer_step_pre_hook

from resnet_explorer.core import engine
from resnet_explorer.core.data import DatasetBundle, Split
from resnet_explorer.core.engine import (
    EpochEvent,
    IterationEvent,
    RunFinished,
    TrainConfig,
    TrainingRun,
    train,
)
from resnet_explorer.core.training_setup import RunSetup

# 8x8 synthetic images, 128 of them in batches of 32: 4 steps per epoch (as in test_engine.py).
TINY = {"dataset": "synthetic", "image_size": 8, "subset": 128, "batch_size": 32, "threads": 1,
        "save": False}


def _setup(steps: int = 4, epochs: int = 2, **kw: object) -> RunSetup:
    """A RunSetup whose schedule spans ``steps * epochs`` steps (its data do not matter here)."""
    setup = _built_setup(**kw)
    return RunSetup(**{**setup.__dict__, "steps": steps, "total_steps": steps * epochs})


def _built_setup(**kw: object) -> RunSetup:
    config = TrainConfig("resnet20", **{**TINY, **kw})
    run = TrainingRun(config)
    events = run.events()
    next(events)  # RunStarted: set-up is done
    setup = run.setup
    events.close()
    return setup


# ----- the learning-rate schedule, step by step --------------------------------------------------------
def test_step_schedule_multiplies_by_gamma_once_per_milestone_passed():
    setup = _setup(steps=5, epochs=2, lr=0.4, gamma=0.5, milestones=(0.2, 0.6))  # 10 steps
    got = [setup.lr_at(s) for s in range(10)]
    # 0.2 of 10 = step 2, 0.6 of 10 = step 6: the rate halves exactly there, and again.
    assert got == pytest.approx([0.4] * 2 + [0.2] * 4 + [0.1] * 4, rel=1e-12)


def test_cosine_schedule_is_half_the_rate_half_way_and_near_zero_at_the_end():
    setup = _setup(steps=4, epochs=2, lr=0.2, schedule="cosine")  # 8 steps
    got = [setup.lr_at(s) for s in range(8)]
    assert got == pytest.approx([0.1 * (1 + math.cos(math.pi * s / 8)) for s in range(8)], rel=1e-12)
    assert got[0] == pytest.approx(0.2) and got[4] == pytest.approx(0.1)
    assert got[7] < 0.01


def test_constant_schedule_and_warm_up_rates():
    constant = _setup(lr=0.03, schedule="constant", warmup_iters=3, warmup_lr=0.001)
    assert [constant.lr_at(s) for s in range(8)] == [0.001] * 3 + [0.03] * 5
    step = _setup(lr=0.1, warmup_iters=2, warmup_lr=0.01)
    assert [step.lr_at(s) for s in (0, 1, 2)] == [0.01, 0.01, 0.1]  # exactly warmup_iters steps


def test_the_run_and_its_iteration_events_report_the_rate_the_optimizer_used():
    seen: list[float] = []
    handle = register_optimizer_step_pre_hook(lambda opt, _a, _k: seen.append(opt.param_groups[0]["lr"]))
    try:
        run = TrainingRun(TrainConfig("resnet20", **{**TINY, "epochs": 2, "schedule": "cosine",
                                                     "events_per_second": 1e9}))
        events = list(run.events())
    finally:
        handle.remove()
    iterations = [e for e in events if isinstance(e, IterationEvent)]
    assert [e.lr for e in iterations] == seen and len(seen) == 8
    assert run.lr_at(4) == pytest.approx(0.05)


# ----- what the optimizer and the loss get ---------------------------------------------------------------
def test_sgd_options_of_the_config_reach_the_optimizer():
    seen: list[dict] = []

    def hook(optimizer: torch.optim.Optimizer, _args: object, _kwargs: object) -> None:
        group = optimizer.param_groups[0]
        seen.append({k: group[k] for k in ("momentum", "weight_decay", "nesterov")})

    handle = register_optimizer_step_pre_hook(hook)
    try:
        result = train(TrainConfig("resnet20", **{**TINY, "epochs": 1, "nesterov": True, "momentum": 0.8,
                                                  "weight_decay": 5e-4}))
    finally:
        handle.remove()
    assert result.status == "completed" and len(seen) == 4
    assert all(s == {"momentum": 0.8, "weight_decay": 5e-4, "nesterov": True} for s in seen)


def _one_class_data(n: int = 64) -> DatasetBundle:
    """Random 8x8 grey images that are all labelled class 0 of three."""
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
    labels = torch.zeros(n, dtype=torch.int64)
    return DatasetBundle("one-class", Split(images, labels), Split(images[:16], labels[:16]),
                         ["a", "b", "c"], mean=(0.5,), std=(0.25,))


def _first_logits_and_events(monkeypatch, **kw: object) -> tuple[torch.Tensor, list]:
    """The logits of the first training forward pass, and every event of a one-epoch run."""
    logits: list[torch.Tensor] = []
    real_build = engine.build_model

    def build_and_watch(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_hook(
            lambda module, _inp, out: logits.append(out.detach().clone()) if module.training else None)
        return model

    monkeypatch.setattr(engine, "build_model", build_and_watch)
    config = TrainConfig("resnet20", "synthetic", batch_size=32, epochs=1, threads=1, save=False,
                         events_per_second=1e9, **kw)
    events = list(TrainingRun(config, data=_one_class_data()).events())
    return logits[0], events


def test_label_smoothing_is_in_the_reported_training_loss(monkeypatch):
    logits, events = _first_logits_and_events(monkeypatch, label_smoothing=0.3)
    first = next(e for e in events if isinstance(e, IterationEvent))
    targets = torch.zeros(logits.shape[0], dtype=torch.int64)
    smoothed = F.cross_entropy(logits.float(), targets, label_smoothing=0.3).item()
    assert first.loss == pytest.approx(smoothed, rel=1e-5)
    assert first.loss != pytest.approx(F.cross_entropy(logits.float(), targets).item(), rel=1e-3)


def test_reported_training_accuracy_is_the_share_of_top1_hits(monkeypatch):
    logits, events = _first_logits_and_events(monkeypatch)
    first = next(e for e in events if isinstance(e, IterationEvent))
    hits = (logits.argmax(dim=1) == 0).float().mean().item()  # every label is class 0
    assert first.accuracy == pytest.approx(hits, abs=1e-9)
    epoch = next(e for e in events if isinstance(e, EpochEvent))
    assert 0.0 <= epoch.train_error <= 1.0


def test_training_runs_in_float32_unless_cpu_bf16_is_asked(monkeypatch):
    logits, _ = _first_logits_and_events(monkeypatch)
    assert logits.dtype == torch.float32
    logits, _ = _first_logits_and_events(monkeypatch, cpu_bf16=True)
    assert logits.dtype == torch.bfloat16


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_option_sets_the_trained_weights_memory_format(monkeypatch, channels_last):
    formats: list[bool] = []
    real_build = engine.build_model

    def build_and_watch(*args, **kwargs):
        model = real_build(*args, **kwargs)
        model.register_forward_pre_hook(lambda module, _inp: formats.append(
            module.conv1.weight.is_contiguous(memory_format=torch.channels_last)
            and not module.conv1.weight.is_contiguous()))
        return model

    monkeypatch.setattr(engine, "build_model", build_and_watch)
    result = train(TrainConfig("resnet20", **{**TINY, "epochs": 1, "channels_last": channels_last}))
    assert result.status == "completed" and formats
    assert all(f == channels_last for f in formats)


@pytest.mark.parametrize(("arch", "options"), [
    ("resnet20", {"shortcut": "B", "zero_init_residual": True}),
    ("resnet50", {"variant": "paper", "shortcut": "C"}),
])
def test_a_member_is_built_with_the_options_of_its_config(arch, options):
    """--shortcut, --variant and --zero-init-residual reach the network, seeded as if trained alone."""
    from resnet_explorer.core.distributed import DistContext
    from resnet_explorer.core.resnet import build_model

    config = TrainConfig(arch, **{**TINY, **options})
    member = engine.build_member(arch, config, _built_setup(), DistContext(), None)
    torch.manual_seed(config.seed)
    expected = build_model(arch, num_classes=10, in_chans=3, **options)
    got, want = member.model.state_dict(), expected.state_dict()
    assert list(got) == list(want) and all(torch.equal(got[k], want[k]) for k in want)
    assert repr(member.model) == repr(expected)  # the layout too: the bottleneck's stride placement
    torch.manual_seed(config.seed)
    default = build_model(arch, num_classes=10, in_chans=3)  # each option changes the net
    assert repr(default) != repr(expected) or any(
        not torch.equal(v, want[k]) for k, v in default.state_dict().items())


# ----- times and the time left ----------------------------------------------------------------------------
def test_epoch_time_counts_cutting_the_batches_and_the_time_left_is_the_pace_so_far(monkeypatch):
    real_batch = RunSetup.batch

    def slow_batch(self, order, epoch, step):
        time.sleep(0.05)
        return real_batch(self, order, epoch, step)

    monkeypatch.setattr(RunSetup, "batch", slow_batch)
    t0 = time.perf_counter()
    events, arrived = [], []
    for event in TrainingRun(TrainConfig("resnet20", **{**TINY, "epochs": 2})).events():
        events.append(event)
        arrived.append(time.perf_counter() - t0)
    wall = time.perf_counter() - t0
    epochs = [(e, t) for e, t in zip(events, arrived, strict=True) if isinstance(e, EpochEvent)]
    (first, first_at), (second, _) = epochs
    # 4 batches of at least 0.05 s each, and never more than the whole run took.
    assert 4 * 0.05 <= first.epoch_time_s <= first.elapsed_s <= wall
    assert first.images_per_s == pytest.approx(128 / first.epoch_time_s, rel=1e-6)
    assert second.elapsed_s > first.elapsed_s + 4 * 0.05
    # Half the job done: what is left (4 steps, 1 evaluation) takes what the first half took, in wall time:
    # its steps and evaluation, scaled up by the time between them (events, the checkpoint), and no more
    # than the wall time until that epoch's event arrived.
    assert first.elapsed_s * (1 - 1e-6) <= first.eta_s <= first_at
    assert second.eta_s == 0.0


def test_a_diverged_run_names_a_global_step_that_matches_its_epoch_and_step():
    result = train(TrainConfig("resnet20", **{**TINY, "epochs": 3, "lr": 1e12, "schedule": "constant",
                                              "warmup_iters": 4, "warmup_lr": 0.05}))
    assert isinstance(result, RunFinished) and result.status == "diverged"
    found = re.search(r"epoch (\d+), step (\d+) \(global step (\d+), lr ([^)]+)\)", result.message)
    assert found, result.message
    epoch, step, global_step = (int(found.group(i)) for i in (1, 2, 3))
    assert global_step == (epoch - 1) * 4 + step  # steps per epoch: 4
    assert float(found.group(4)) == pytest.approx(1e12)


# ----- core/probe.py: what a user reads when an analysis is refused, and tensors given directly ---------
def _probe_model(arch: str = "resnet20"):
    from resnet_explorer.core.resnet import build_model
    from resnet_explorer.core.zoo import wrap_model

    torch.manual_seed(0)
    return wrap_model(build_model(arch), device="cpu")


def test_a_refused_lesion_names_every_block_there_is_and_why():
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    x = torch.rand(3, 32, 32)
    blocks = ", ".join(f"layer{s}.{i}" for s in (1, 2, 3) for i in range(3))
    expected = re.escape(f"no block 'layer9.0' to lesion; blocks are {blocks}")
    with pytest.raises(UserInputError, match=expected):
        analyze(_probe_model(), x, lesion=["layer9.0"], gradcam=False)
    with pytest.raises(UserInputError, match="has no shortcut; removing it would break the network$"):
        analyze(_probe_model("plain20"), x, lesion=["layer3.0"], gradcam=False)


def test_an_unknown_cam_stage_suggests_a_real_block():
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    with pytest.raises(UserInputError, match=r"choose stem, layer1, layer2, layer3 or a block such as "
                                             r"layer1\.1$"):
        analyze(_probe_model(), torch.rand(3, 32, 32), cam_stage="layer7")


def test_a_preprocessed_tensor_may_carry_its_batch_of_one_and_anything_else_is_refused():
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    alone = analyze(loaded, x, gradcam=False, feature_maps=False)
    batched = analyze(loaded, x[None], gradcam=False, feature_maps=False)
    assert torch.equal(torch.as_tensor(alone.probs), torch.as_tensor(batched.probs))
    for bad in (torch.rand(2, 3, 32, 32), torch.rand(1, 1, 32, 32), torch.rand(1, 1, 3, 32, 32)):
        with pytest.raises(UserInputError, match=re.escape(
                f"expected a preprocessed tensor of shape (3, H, W), got {tuple(bad.shape)}")):
            analyze(loaded, bad, gradcam=False)
    with pytest.raises(UserInputError, match="^ten-crop needs the image itself, not a preprocessed tensor$"):
        analyze(loaded, x, ten_crop=True)
    with pytest.raises(UserInputError, match="^cannot analyse a list: give a PIL image, a path or a tensor$"):
        analyze(loaded, [x], gradcam=False)


def _on_black_model():
    """A 1x28x28 model whose pictures are objects on black (as Fashion-MNIST): its "nothing" is not 0."""
    from resnet_explorer.core.resnet import build_model
    from resnet_explorer.core.zoo import Preprocessing, wrap_model

    torch.manual_seed(0)
    pre = Preprocessing((1, 28, 28), (0.286,), (0.353,), background=(0, 0, 0))
    return wrap_model(build_model("resnet20", in_chans=1), device="cpu", preprocessing=pre)


def test_occlusion_covers_with_the_models_background_and_reports_its_progress():
    from resnet_explorer.core import cams
    from resnet_explorer.core.probe import analyze

    loaded, x = _on_black_model(), torch.rand(1, 28, 28)
    seen: list[tuple[int, int]] = []
    result = analyze(loaded, x, cam="occlusion", cam_class=3, feature_maps=False,
                     progress=lambda done, total: seen.append((done, total)))
    pre = loaded.preprocessing
    black = cams.background_fill(pre.mean, pre.std, pre.background)
    expected = cams.to_display(cams.occlusion(loaded.model, x[None], 3, fill=black), (28, 28))
    grey = cams.to_display(cams.occlusion(loaded.model, x[None], 3, fill=0.0), (28, 28))
    np.testing.assert_allclose(result.gradcam, expected.numpy(), atol=1e-5)
    assert not np.allclose(result.gradcam, grey.numpy(), atol=1e-3)  # the fill makes a difference here
    assert seen and seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_score_cam_masks_with_the_models_background(monkeypatch):
    from resnet_explorer.core import cams
    from resnet_explorer.core.probe import analyze

    loaded, x = _on_black_model(), torch.rand(1, 28, 28)
    black = analyze(loaded, x, cam="scorecam", cam_class=3, feature_maps=False).gradcam
    monkeypatch.setattr(cams, "background_fill", lambda *_args: 0.0)
    grey = analyze(loaded, x, cam="scorecam", cam_class=3, feature_maps=False).gradcam
    assert not np.allclose(black, grey, atol=1e-4)


def test_score_cam_at_an_earlier_stage_weighs_that_stages_activation():
    from resnet_explorer.core import cams
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    result = analyze(loaded, x, cam="scorecam", cam_stage="layer2", cam_class=3, feature_maps=False)
    saved = {}
    hook = loaded.model.block("layer2.2").register_forward_hook(lambda _m, _i, out: saved.update(act=out))
    try:
        with torch.inference_mode():
            loaded.model(x[None])
    finally:
        hook.remove()
    by_hand = cams.to_display(cams.score_cam(loaded.model, x[None], saved["act"][0], 3, fill=0.0), (32, 32))
    assert result.cam_layer == "layer2.2" and saved["act"].shape[-1] == 16  # not the last stage's 8x8
    np.testing.assert_allclose(result.gradcam, by_hand.numpy(), atol=1e-5)


def test_an_image_file_with_transparency_goes_on_the_models_own_background(tmp_path):
    from PIL import Image

    from resnet_explorer.core.probe import analyze

    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[8:20, 8:20] = 255  # a white square on a transparent sheet
    path = tmp_path / "square.png"
    Image.fromarray(rgba, "RGBA").save(path)
    shown = analyze(_on_black_model(), str(path), gradcam=False, feature_maps=False).display_image
    assert shown.shape == (28, 28, 3) and shown.dtype == np.uint8  # what the network sees, as RGB
    assert (shown[0, 0] == 0).all() and (shown[14, 14] == 255).all()  # on black, as Fashion-MNIST


def test_top_1_is_a_valid_request_and_top_0_is_refused():
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    result = analyze(loaded, x, top_k=1, gradcam=False, feature_maps=False)
    assert [p.index for p in result.top_k] == [int(np.argmax(result.probs))]
    with pytest.raises(UserInputError, match="^top-k must be at least 1, got 0$"):
        analyze(loaded, x, top_k=0, gradcam=False)


def test_an_unknown_cam_method_lists_the_methods_there_are():
    from resnet_explorer.core import cams
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    methods = ", ".join(cams.METHODS)
    assert len(cams.METHODS) > 1 and "gradcam" in methods  # a list worth separating
    refusal = re.escape(f"unknown CAM method 'heatmap'; choose {methods}") + "$"
    with pytest.raises(UserInputError, match=refusal):
        analyze(_probe_model(), torch.rand(3, 32, 32), cam="heatmap")


def test_the_residual_ratio_is_exact_where_a_block_input_is_small():
    """||F(x)|| / ||x|| with ||x|| < 1 (a stem scaled down): the ratio is the quotient itself, not a clamp."""
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    with torch.no_grad():
        loaded.model.bn1.weight.mul_(1e-3)
        loaded.model.bn1.bias.mul_(1e-3)
    from tests.core.test_probe import _manual_measures

    ratios, _ = _manual_measures(loaded.model, x[None])  # a tensor is analysed as given
    with torch.no_grad():
        assert 0 < loaded.model.forward_stem(x[None]).norm().item() < 1  # the case under test
    result = analyze(loaded, x, gradcam=False, feature_maps=False)
    np.testing.assert_allclose([result.residual_ratio[n] for n in ratios], list(ratios.values()), rtol=1e-4)


def test_analyze_gives_the_top_5_unless_asked_otherwise():
    from resnet_explorer.core.probe import analyze

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing for a notebook's output (e.g. softmax's implicit dim)
        result = analyze(_probe_model(), torch.rand(3, 32, 32), gradcam=False, feature_maps=False)
    assert [p.index for p in result.top_k] == np.argsort(-result.probs)[:5].tolist()


def test_a_bad_cam_stage_is_refused_even_where_no_stage_is_used():
    """Options are checked up front: a typo is reported, not silently ignored with gradcam off."""
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    for kwargs in ({"gradcam": False}, {"cam": "occlusion"}):
        with pytest.raises(UserInputError, match="layer7"):
            analyze(loaded, x, cam_stage="layer7", **kwargs)


def test_a_cam_option_given_under_both_names_must_agree():
    from resnet_explorer.core.errors import UserInputError
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    with pytest.raises(UserInputError, match="^cam_class=1 and gradcam_class=2 disagree; give one$"):
        analyze(loaded, x, cam_class=1, gradcam_class=2)
    with pytest.raises(UserInputError,
                       match="^cam_stage='layer1' and gradcam_stage='layer2' disagree; give one$"):
        analyze(loaded, x, cam_stage="layer1", gradcam_stage="layer2")
    same = analyze(loaded, x, cam_class=1, gradcam_class=1, cam_stage="layer2", gradcam_stage="layer2")
    assert (same.gradcam_class, same.gradcam_stage) == (1, "layer2")


def test_the_analysis_reports_the_time_it_took():
    from resnet_explorer.core.probe import analyze

    loaded, x = _probe_model(), torch.rand(3, 32, 32)
    before = time.perf_counter()
    result = analyze(loaded, x)
    took = time.perf_counter() - before
    assert isinstance(result.elapsed_s, float) and 0 < result.elapsed_s <= took  # measured inside the call


# ----- core/resnet.py -------------------------------------------------------------------------------------
def test_a_block_built_with_its_defaults_is_a_residual_identity_block():
    from resnet_explorer.core.resnet import BasicBlock, Bottleneck

    for block in (BasicBlock(16, 16), Bottleneck(64, 16)):
        assert block.residual and block.stride == 1 and block.downsample is None
        x = torch.randn(2, block.in_planes, 6, 6)
        assert block.eval()(x).shape == x.shape
    # Where the shape changes, the default shortcut is the projection (B), as in torchvision.
    for changing in (BasicBlock(16, 32, 2), Bottleneck(64, 32, 2)):
        assert isinstance(changing.downsample, torch.nn.Sequential)
        assert isinstance(changing.downsample[0], torch.nn.Conv2d) and changing.downsample[0].stride == (2, 2)


def test_option_a_is_no_module_where_the_shape_stays_and_pads_every_new_channel():
    from resnet_explorer.core.resnet import ZeroPadShortcut, make_shortcut

    assert make_shortcut("A", 16, 16, 1) is None and make_shortcut("B", 16, 16, 1) is None
    assert make_shortcut("C", 16, 16, 1) is not None
    x = torch.randn(1, 2, 4, 4)
    out = ZeroPadShortcut(2, 3, 1)(x)  # one new channel (the paper's nets always add as many as they had)
    assert out.shape == (1, 3, 4, 4) and torch.equal(out[:, :2], x)
    assert torch.count_nonzero(out[:, 2]) == 0


def test_the_fig7_layers_are_named_as_the_state_dict_names_them():
    from resnet_explorer.core.resnet import BasicBlock, Bottleneck

    basic, bottleneck = BasicBlock(16, 16), Bottleneck(64, 16)
    assert basic.bn_after_3x3() == [("bn1", basic.bn1), ("bn2", basic.bn2)]
    assert bottleneck.bn_after_3x3() == [("bn2", bottleneck.bn2)]
    for block in (basic, bottleneck):
        for name, bn in block.bn_after_3x3():
            assert block.get_submodule(name) is bn


def test_table1_specs_and_the_messages_for_bad_names():
    from resnet_explorer.core.resnet import BasicBlock, Bottleneck, build_model

    assert Bottleneck(256, 64).spec() == "[1x1,64; 3x3,64; 1x1,256]"
    assert BasicBlock(64, 64).spec() == "[3x3,64; 3x3,64]"
    net = build_model("resnet20")
    with pytest.raises(KeyError, match=re.escape("'fc' is not a block; blocks are ['layer1.0', 'layer1.1'")):
        net.block("fc")
    with pytest.raises(ValueError, match=re.escape("unknown shortcut option 'D'; valid: A, B, C")):
        build_model("resnet20", shortcut="D")
    with pytest.raises(ValueError, match=re.escape("unknown variant 'v2'; valid: paper, torchvision")):
        build_model("resnet50", variant="v2")
    unknown = "unknown architecture 'resnet21'; valid: resnet18, plain18, resnet34"
    with pytest.raises(ValueError, match=re.escape(unknown)):
        build_model("resnet21")
    # build_model's default is the paper's initialisation: no branch starts at zero.
    assert all(bool((b.last_bn.weight == 1).all()) for _, b in build_model("resnet20").blocks())


def test_the_resnet_constructor_defaults_are_torchvisions():
    from resnet_explorer.core.resnet import ARCHS, ResNet

    net = ResNet(ARCHS["resnet50"], num_classes=10)
    assert net.config == {"arch": "", "num_classes": 10, "in_chans": 3, "shortcut": "B",
                          "variant": "torchvision", "zero_init_residual": False}
    assert net.conv1.in_channels == 3 and isinstance(net.layer2[0].downsample, torch.nn.Sequential)
    assert net.layer2[0].conv2.stride == (2, 2) and net.layer2[0].conv1.stride == (1, 1)  # v1.5
    assert all(bool((block.last_bn.weight == 1).all()) for _, block in net.blocks())  # not zero-initialised
    assert net.arch == "" and ResNet(ARCHS["resnet20"], num_classes=10, arch="resnet20").arch == "resnet20"
    # What a notebook reads off the net: the classes, and the width of the features the fc layer sees.
    assert (net.num_classes, net.num_features, net.in_chans) == (10, 2048, 3) == (10, net.fc.in_features, 3)


def test_one_class_and_one_channel_are_the_least_a_net_can_have():
    from resnet_explorer.core.resnet import build_model

    assert build_model("resnet20", num_classes=1, in_chans=1).fc.out_features == 1
    for bad in ({"num_classes": 0}, {"in_chans": 0}):
        with pytest.raises(ValueError, match="^num_classes and in_chans must be at least 1$"):
            build_model("resnet20", **bad)
