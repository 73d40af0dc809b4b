"""Fig. 7 over many images: each 3x3 layer's response std, checked against a direct computation."""

from __future__ import annotations

import pytest
import torch

from resnet_explorer.core.resnet import build_model
from resnet_explorer.core.responses import layer_response_stds, response_summary


def _trained_like(arch: str) -> torch.nn.Module:
    """A net whose BN layers have non-trivial running statistics and affine parameters."""
    torch.manual_seed(0)
    model = build_model(arch, in_chans=1)
    model.train()
    with torch.no_grad():
        for _ in range(3):  # a few forward passes set the running statistics
            model(torch.randn(16, 1, 16, 16))
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.2, 1.5)
                m.bias.uniform_(-0.3, 0.3)
    return model.eval()


def _direct_stds(model, images) -> dict[str, float]:
    """The same quantity the slow way: keep every BN output of one big forward pass, then torch.std."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for block_name, block in model.blocks():
        for bn_name, bn in block.bn_after_3x3():
            key = f"{block_name}.{bn_name}"
            handles.append(bn.register_forward_hook(
                lambda _m, _i, out, key=key: outputs.__setitem__(key, out.detach().clone())))
    with torch.no_grad():
        model(images)
    for h in handles:
        h.remove()
    return {k: float(v.double().std(unbiased=False)) for k, v in outputs.items()}


@pytest.mark.parametrize("arch", ["resnet20", "plain20", "resnet50"])
def test_every_3x3_layer_std_matches_a_direct_computation_whatever_the_batching(arch):
    model = _trained_like(arch)
    images = torch.randn(10, 1, 16, 16)
    expected = _direct_stds(model, images)
    got = layer_response_stds(model, images, batch_size=3)  # 3 does not divide 10: a short last batch
    assert [r.name for r in got] == list(expected)  # every 3x3 layer, in forward order
    assert [r.index for r in got] == list(range(len(expected)))
    for r in got:
        assert r.std == pytest.approx(expected[r.name], rel=1e-6), r.name
    if arch == "resnet50":  # bottleneck: only the middle 3x3 conv's BN is a Fig. 7 layer
        assert all(r.name.endswith(".bn2") for r in got)
    else:
        assert len(got) == 2 * 9  # 9 basic blocks of two 3x3 layers in a 20-layer CIFAR net


def test_the_summary_is_the_mean_of_the_layer_stds_and_scales_with_the_bn_weights():
    model = _trained_like("resnet20")
    images = torch.randn(8, 1, 16, 16)
    before = layer_response_stds(model, images)
    assert response_summary(before) == pytest.approx(sum(r.std for r in before) / len(before))
    # Doubling the last BN's weight and bias doubles that layer's response (it feeds only the head).
    last = model.layer3[-1].bn2
    with torch.no_grad():
        last.weight *= 2
        last.bias *= 2
    after = layer_response_stds(model, images)
    assert after[-1].std == pytest.approx(2 * before[-1].std, rel=1e-6)
    assert [a.std for a in after[:-1]] == pytest.approx([b.std for b in before[:-1]], rel=1e-9)


def test_bad_input_is_refused_clearly():
    model = _trained_like("resnet20")
    with pytest.raises(ValueError, match="NCHW"):
        layer_response_stds(model, torch.empty(0, 1, 16, 16))
    with pytest.raises(ValueError, match="no layer responses"):
        response_summary([])
