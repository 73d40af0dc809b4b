"""Gradients at initialisation: norms checked against plain autograd, and plain vs residual behaviour."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_explorer import build_model
from resnet_explorer.core.errors import UserInputError
from resnet_explorer.core.gradients import gradient_study, measure_gradients
from tests.study_helpers import one_thread, same_state, state_copy


@pytest.fixture(scope="module", autouse=True)
def _single_thread():
    with one_thread():
        yield


def _batch(n: int = 8, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 10, (n,), generator=g)


def _init(arch: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(arch)


@pytest.fixture(scope="module")
def deep_pair():
    x, y = _batch()
    return {arch: measure_gradients(_init(arch), x, y, line_points=32) for arch in ("plain56", "resnet56")}


def test_deep_plain_gradients_explode_towards_the_input_and_residual_ones_stay_in_range(deep_pair):
    plain, res = deep_pair["plain56"], deep_pair["resnet56"]
    assert len(plain.blocks) == len(res.blocks) == 27 and len(plain.conv) == len(res.conv) == 55
    # Measured: plain56 ~5e3 (first block's output gradient over the last one's), resnet56 ~12.
    assert plain.block_ratio > 500 and res.block_ratio < 50
    assert plain.block_ratio > 30 * res.block_ratio
    # Conv weight gradients: plain56 spans ~3.6 decades, resnet56 ~1.
    assert plain.conv_spread > res.conv_spread + 1.5


def test_deep_plain_input_gradients_are_shattered_and_residual_ones_are_not(deep_pair):
    # Balduzzi et al.: neighbouring inputs' gradients decorrelate (white noise) in deep plain nets.
    assert abs(deep_pair["plain56"].shattered) < 0.2
    assert deep_pair["resnet56"].shattered > 0.3  # measured 0.38-0.52 over seeds 0-4


def test_norms_equal_plain_autograd_on_the_same_model():
    x, y = _batch(seed=1)
    model = _init("resnet20", seed=1)
    result = measure_gradients(model, x, y, line_points=0)
    # Independently: backward() in train mode, then read each conv's .grad.
    net = copy.deepcopy(model).train()
    F.cross_entropy(net(x), y).backward()
    convs = [(n, m) for n, m in net.named_modules() if isinstance(m, nn.Conv2d)]
    assert [g.name for g in result.conv] == [n for n, _ in convs]
    for got, (_, m) in zip(result.conv, convs, strict=True):
        assert got.norm == pytest.approx(float(m.weight.grad.norm()), rel=1e-4)
    # The last block's output h: the gradient of the head's loss with respect to h, computed apart.
    net = copy.deepcopy(model).train()
    h = net.forward_features(x).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(net.forward_head(h), y), h)
    assert result.blocks[-1].name == "layer3.2"
    assert result.blocks[-1].norm == pytest.approx(float(g.norm()), rel=1e-4)
    assert result.shattered is None and result.depth == 20 and result.residual


def test_the_measured_model_is_not_changed():
    x, y = _batch()
    model = _init("plain20")
    saved = state_copy(model)
    measure_gradients(model, x, y, line_points=8)
    assert same_state(model, saved)  # BN running statistics included
    assert all(p.grad is None for p in model.parameters())


def test_study_is_seeded_and_shares_one_batch():
    kwargs = {"dataset": "synthetic", "batch": 4, "image_size": 8, "line_points": 4, "device": "cpu"}
    a = gradient_study(["plain20", "resnet20"], seed=2, **kwargs)
    b = gradient_study(["plain20", "resnet20"], seed=2, **kwargs)
    c = gradient_study(["plain20"], seed=3, **kwargs)
    assert a.to_dict() == b.to_dict()
    assert a.archs[0].loss != c.archs[0].loss
    assert [r.arch for r in a.archs] == ["plain20", "resnet20"] and a.input_size == (3, 8, 8)


def test_bad_arch_and_options_are_one_line_user_errors():
    with pytest.raises(UserInputError, match="plain56"):
        gradient_study(["resnet19"], batch=2, image_size=8)
    with pytest.raises(UserInputError, match="--batch"):
        gradient_study(["resnet20"], batch=1)
    with pytest.raises(UserInputError, match="--arch"):
        gradient_study([])
