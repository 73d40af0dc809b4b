"""The paper's Table 1 for any model: per stage its output size, block spec, params and MACs.

MACs are counted by running the model under ``torch.utils.flop_counter.FlopCounterMode`` (which counts
2 FLOPs per multiply-accumulate), never by a formula typed in, so what is printed is what runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .resnet import PAPER_STAGE_NAMES, ResNet


@dataclass
class StageRow:
    """One row of Table 1."""

    name: str  # torchvision name: stem, layer1, ..., head
    paper_name: str  # conv1, conv2_x, ..., fc
    output_size: tuple[int, ...]  # (C, H, W) or (classes,)
    spec: str  # e.g. "[1x1,64; 3x3,64; 1x1,256] x3"
    blocks: int
    params: int
    macs: int


@dataclass
class ModelSummary:
    """Table 1 for one model plus its totals."""

    arch: str
    input_size: tuple[int, int, int]
    params: int
    macs: int
    stages: list[StageRow]
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["gmacs"] = round(self.macs / 1e9, 4)
        return d


def count_params(module: nn.Module) -> int:
    """Number of learnable parameters."""
    return sum(p.numel() for p in module.parameters())


def count_macs(fn: Callable[..., object], *args: torch.Tensor) -> int:
    """Multiply-accumulates of ``fn(*args)``, counted by running it (FLOPs / 2)."""
    counter = FlopCounterMode(display=False)  # not `with ... as counter`: its __enter__ is unannotated
    with counter:
        fn(*args)
    return counter.get_total_flops() // 2


def default_input_size(model: ResNet) -> tuple[int, int, int]:
    """224x224 for the ImageNet family, 32x32 for the CIFAR family (the paper's inputs)."""
    side = 224 if model.family == "imagenet" else 32
    return (model.in_chans, side, side)


@torch.no_grad()
def summarize(model: ResNet, input_size: tuple[int, int, int] | None = None) -> ModelSummary:
    """Table 1 for ``model`` at ``input_size`` (C, H, W), counted on a batch of one."""
    input_size = input_size or default_input_size(model)
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros(1, *input_size, device=next(model.parameters()).device)
        rows: list[StageRow] = []
        stem_modules = nn.ModuleList([model.conv1, model.bn1, model.maxpool])
        stem_macs = count_macs(model.forward_stem, x)
        x = model.forward_stem(x)
        kernel = model.conv1.kernel_size[0]
        stem_spec = f"{kernel}x{kernel},{model.conv1.out_channels}"
        if model.family == "imagenet":
            stem_spec += ", stride 2; 3x3 max pool, stride 2"
        rows.append(StageRow("stem", "conv1", tuple(x.shape[1:]), stem_spec, 0,
                             count_params(stem_modules), stem_macs))
        for i, (name, stage) in enumerate(model.stages.items()):
            macs = count_macs(stage, x)
            x = stage(x)
            first = model.block(f"{name}.0")
            paper = PAPER_STAGE_NAMES.get(name, name) if model.family == "imagenet" else f"conv{i + 2}_x"
            rows.append(StageRow(name, paper, tuple(x.shape[1:]), f"{first.spec()} x{len(stage)}",
                                 len(stage), count_params(stage), macs))
        head_macs = count_macs(model.forward_head, x)
        logits = model.forward_head(x)
        rows.append(StageRow("head", "fc", tuple(logits.shape[1:]),
                             f"global average pool, {model.num_classes}-d fc, softmax", 0,
                             count_params(model.fc), head_macs))
        total_macs = count_macs(model, torch.zeros(1, *input_size, device=x.device))
    finally:
        model.train(was_training)
    # (*input_size,): a tuple also when a list was passed, and still typed as three ints
    return ModelSummary(model.arch, (*input_size,), count_params(model), total_macs, rows,
                        dict(model.config))


def format_table(summary: ModelSummary) -> str:
    """A plain-text rendering of Table 1 for the terminal."""
    head = ("stage", "paper", "output", "blocks", "params", "MMACs", "spec")
    lines = []
    for r in summary.stages:
        out = "x".join(str(s) for s in r.output_size)
        lines.append((r.name, r.paper_name, out, str(r.blocks or ""), f"{r.params:,}",
                      f"{r.macs / 1e6:,.1f}", r.spec))
    widths = [max(len(h), *(len(row[i]) for row in lines)) for i, h in enumerate(head[:-1])]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths)) + "  {}"
    cfg = summary.config
    title = (f"{summary.arch}  input {'x'.join(map(str, summary.input_size))}  shortcut {cfg['shortcut']}"
             f"  variant {cfg['variant']}  classes {cfg['num_classes']}")
    out_lines = [title, fmt.format(*head), fmt.format(*("-" * w for w in widths), "-" * 4)]
    out_lines += [fmt.format(*row) for row in lines]
    out_lines.append(f"total: {summary.params:,} params, {summary.macs / 1e9:.3f} GMACs "
                     f"({2 * summary.macs / 1e9:.3f} GFLOPs)")
    return "\n".join(out_lines)
