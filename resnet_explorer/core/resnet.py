"""Residual and plain networks of He et al. 2015, built to be looked inside.

One ``ResNet`` class covers both families of the paper:

* the ImageNet family (resnet18 ... resnet152, Table 1): 7x7 stem + max-pool, four stages;
* the CIFAR family (resnet20 ... resnet1202, section 4.2): 3x3/16 stem, three stages of 16/32/64.

Each has a *plain* counterpart (``plain20``, ``plain50`` ...): the same stack with no shortcut at all.

State-dict keys follow torchvision's ResNet (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` ...), so a torchvision state dict loads with ``strict=True`` into the model of
the same name (bottleneck variant ``torchvision``, shortcut option ``B``).

Every block routes its residual branch F(x) through ``block.branch_out`` and its shortcut through
``block.shortcut_out`` (both ``nn.Identity``): a forward hook on either sees that tensor alone, before the
addition. That is what the analysis probes measure.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

ShortcutOption = Literal["A", "B", "C"]
BottleneckVariant = Literal["paper", "torchvision"]

SHORTCUT_OPTIONS = ("A", "B", "C")
VARIANTS = ("paper", "torchvision")


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding 1 and no bias (a BN always follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution without padding and without bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ZeroPadShortcut(nn.Module):
    """Option A: identity that subsamples by ``stride`` and pads the new channels with zeros.

    It has no parameters, which is why the CIFAR ResNets have exactly the plain nets' parameter count.
    """

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.in_planes, self.out_planes, self.stride = in_planes, out_planes, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_planes - self.in_planes
        if extra > 0:
            x = F.pad(x, (0, 0, 0, 0, 0, extra))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_planes}->{self.out_planes}, stride={self.stride}"


def make_shortcut(
    option: ShortcutOption, in_planes: int, out_planes: int, stride: int
) -> nn.Module | None:
    """The shortcut of one block; ``None`` means a pure identity.

    A: zero-padding where the shape changes; B: 1x1 projection + BN where the shape changes;
    C: 1x1 projection + BN on every block.
    """
    shape_changes = stride != 1 or in_planes != out_planes
    if option == "C" or (option == "B" and shape_changes):
        # Named and ordered as torchvision's ``downsample`` so published weights load.
        return nn.Sequential(conv1x1(in_planes, out_planes, stride), nn.BatchNorm2d(out_planes))
    if option == "A" and shape_changes:
        return ZeroPadShortcut(in_planes, out_planes, stride)
    return None


class ResidualBlockBase(nn.Module):
    """What basic and bottleneck blocks share: the shortcut, the addition and the probe points.

    Subclasses implement :meth:`branch`, the residual function F(x) up to (and including) its last BN.
    """

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, shortcut: ShortcutOption,
                 residual: bool) -> None:
        super().__init__()
        self.in_planes, self.out_planes, self.stride = in_planes, planes * self.expansion, stride
        self.residual = residual
        # A plain block has no shortcut at all, not even an identity.
        self.downsample = (make_shortcut(shortcut, in_planes, self.out_planes, stride)
                           if residual else None)
        self.relu = nn.ReLU(inplace=True)
        # Hook points: a forward hook on these sees F(x) and the shortcut alone, before the addition.
        self.branch_out = nn.Identity()
        self.shortcut_out = nn.Identity()
        # Block lesion (Veit et al. 2016): when True the block outputs relu(shortcut(x)).
        self.lesioned = False

    def branch(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def last_bn(self) -> nn.BatchNorm2d:  # pragma: no cover - abstract
        """The branch's last BN (zero-initialised by ``zero_init_residual``)."""
        raise NotImplementedError

    def bn_after_3x3(self) -> list[tuple[str, nn.BatchNorm2d]]:  # pragma: no cover - abstract
        raise NotImplementedError

    def spec(self) -> str:  # pragma: no cover - abstract
        """The block as Table 1 writes it, e.g. ``[3x3,64; 3x3,64]``."""
        raise NotImplementedError

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        """The shortcut path: identity, zero-padding (A) or projection (B/C)."""
        if self.downsample is None:
            return x
        out: torch.Tensor = self.downsample(x)
        return out

    @property
    def can_lesion(self) -> bool:
        """A plain block can only be removed where its input already has the output's shape."""
        return self.residual or self.downsample is None and self.preserves_shape

    @property
    def preserves_shape(self) -> bool:
        return self.stride == 1 and self.in_planes == self.out_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor
        if self.lesioned:
            out = self.relu(self.shortcut_out(self.shortcut(x)))
            return out
        out = self.branch_out(self.branch(x))
        if self.residual:
            out = out + self.shortcut_out(self.shortcut(x))
        out = self.relu(out)
        return out


class BasicBlock(ResidualBlockBase):
    """Two 3x3 convolutions (ResNet-18/34 and the whole CIFAR family)."""

    expansion = 1

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int = 1,
        *,
        shortcut: ShortcutOption = "B",
        residual: bool = True,
        variant: BottleneckVariant = "torchvision",
    ) -> None:
        super().__init__(in_planes, planes, stride, shortcut, residual)
        self.conv1 = conv3x3(in_planes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return out

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def bn_after_3x3(self) -> list[tuple[str, nn.BatchNorm2d]]:
        """The BNs that follow a 3x3 conv, by name (the paper's Fig. 7 layers)."""
        return [("bn1", self.bn1), ("bn2", self.bn2)]

    def spec(self) -> str:
        return f"[3x3,{self.out_planes}; 3x3,{self.out_planes}]"


class Bottleneck(ResidualBlockBase):
    """1x1 reduce, 3x3, 1x1 expand (x4) (ResNet-50/101/152).

    The paper puts the stride-2 of a downsampling block on the first 1x1 conv ("v1", ``variant='paper'``).
    torchvision's published weights put it on the 3x3 conv ("v1.5", ``variant='torchvision'``), which costs
    more MACs and is slightly more accurate.
    """

    expansion = 4

    def __init__(
        self,
        in_planes: int,
        planes: int,
        stride: int = 1,
        *,
        shortcut: ShortcutOption = "B",
        residual: bool = True,
        variant: BottleneckVariant = "torchvision",
    ) -> None:
        super().__init__(in_planes, planes, stride, shortcut, residual)
        stride_1x1, stride_3x3 = (stride, 1) if variant == "paper" else (1, stride)
        self.conv1 = conv1x1(in_planes, planes, stride_1x1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride_3x3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, self.out_planes)
        self.bn3 = nn.BatchNorm2d(self.out_planes)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return out

    @property
    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def bn_after_3x3(self) -> list[tuple[str, nn.BatchNorm2d]]:
        return [("bn2", self.bn2)]

    def spec(self) -> str:
        planes = self.out_planes // self.expansion
        return f"[1x1,{planes}; 3x3,{planes}; 1x1,{self.out_planes}]"


@dataclass(frozen=True)
class ArchSpec:
    """What distinguishes one named architecture from another."""

    family: Literal["imagenet", "cifar"]
    block: type[BasicBlock] | type[Bottleneck]
    layers: tuple[int, ...]
    residual: bool
    widths: tuple[int, ...] = field(default=(64, 128, 256, 512))

    @property
    def depth(self) -> int:
        per_block = 3 if self.block is Bottleneck else 2
        return per_block * sum(self.layers) + 2


# Not mutated: this runs once, when the module is imported, before mutmut switches a mutant on, so its
# mutants would all "survive" untested. The table is checked by test_resnet.py (every name builds, the
# paper's parameter counts and MACs).
def _arch_table() -> dict[str, ArchSpec]:  # pragma: no mutate block
    table: dict[str, ArchSpec] = {}
    imagenet: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }
    for depth, (block, layers) in imagenet.items():
        for residual, prefix in ((True, "resnet"), (False, "plain")):
            table[f"{prefix}{depth}"] = ArchSpec("imagenet", block, layers, residual)
    for n in (3, 5, 7, 9, 18, 200):  # depth 6n+2: 20, 32, 44, 56, 110, 1202
        for residual, prefix in ((True, "resnet"), (False, "plain")):
            table[f"{prefix}{6 * n + 2}"] = ArchSpec(
                "cifar", BasicBlock, (n, n, n), residual, widths=(16, 32, 64)
            )
    return table


ARCHS: dict[str, ArchSpec] = _arch_table()

# The paper's stage names (Table 1) for torchvision's layer names.
PAPER_STAGE_NAMES = {"stem": "conv1", "layer1": "conv2_x", "layer2": "conv3_x",
                     "layer3": "conv4_x", "layer4": "conv5_x"}


class ResNet(nn.Module):
    """A residual (or plain) network of either family.

    Use :func:`build_model` rather than this constructor; it fills the per-family defaults.
    """

    def __init__(
        self,
        spec: ArchSpec,
        *,
        num_classes: int,
        in_chans: int = 3,
        shortcut: ShortcutOption = "B",
        variant: BottleneckVariant = "torchvision",
        zero_init_residual: bool = False,
        arch: str = "",
    ) -> None:
        super().__init__()
        self.arch = arch
        self.spec = spec
        self.family = spec.family
        self.residual = spec.residual
        self.config: dict[str, Any] = {
            "arch": arch, "num_classes": num_classes, "in_chans": in_chans,
            "shortcut": shortcut, "variant": variant, "zero_init_residual": zero_init_residual,
        }
        self.num_classes = num_classes
        self.in_chans = in_chans
        stem_width = spec.widths[0]
        if spec.family == "imagenet":
            self.conv1 = nn.Conv2d(in_chans, stem_width, kernel_size=7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = conv3x3(in_chans, stem_width)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU(inplace=True)
        # The CIFAR nets have no max-pool; Identity keeps the stem's code path uniform.
        self.maxpool: nn.Module = (
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if spec.family == "imagenet" else nn.Identity()
        )
        in_planes = stem_width
        self.stage_names: list[str] = []
        for i, (width, count) in enumerate(zip(spec.widths, spec.layers, strict=True)):
            stride = 1 if i == 0 else 2
            stage, in_planes = self._make_stage(spec.block, in_planes, width, count, stride,
                                                shortcut=shortcut, residual=spec.residual, variant=variant)
            name = f"layer{i + 1}"
            self.add_module(name, stage)
            self.stage_names.append(name)
        self.num_features = in_planes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_planes, num_classes)
        self._init_weights(zero_init_residual)

    @staticmethod
    def _make_stage(
        block: type[BasicBlock] | type[Bottleneck], in_planes: int, planes: int, count: int, stride: int, *,
        shortcut: ShortcutOption, residual: bool, variant: BottleneckVariant,
    ) -> tuple[nn.Sequential, int]:
        blocks: list[ResidualBlockBase] = []
        for j in range(count):
            b = block(in_planes, planes, stride if j == 0 else 1,
                      shortcut=shortcut, residual=residual, variant=variant)
            blocks.append(b)
            in_planes = b.out_planes
        return nn.Sequential(*blocks), in_planes

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He et al. 2015 ("Delving deep"): the paper's initialisation.
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual and self.residual:
            # Each residual branch starts as zero, so every block starts as an identity (Goyal et al.).
            # A plain net has no branch to start at zero: zeroing its blocks' last BN would silence the
            # whole network (a compare run with the option trained plain nets stuck at chance).
            for b in self.blocks_list():
                nn.init.zeros_(b.last_bn.weight)

    # ----- structure -------------------------------------------------------------------------------
    @property
    def stages(self) -> dict[str, nn.Sequential]:
        """The stages by torchvision name (``layer1`` ... = the paper's conv2_x ...)."""
        return {name: getattr(self, name) for name in self.stage_names}

    def blocks(self) -> Iterator[tuple[str, ResidualBlockBase]]:
        """Every block, named ``layerS.I`` as in the state dict."""
        for stage_name, stage in self.stages.items():
            for i, block in enumerate(stage):
                yield f"{stage_name}.{i}", block  # type: ignore[misc]

    def blocks_list(self) -> list[ResidualBlockBase]:
        return [b for _, b in self.blocks()]

    def block(self, name: str) -> ResidualBlockBase:
        """The block called ``layerS.I``."""
        module = self.get_submodule(name)
        if not isinstance(module, ResidualBlockBase):
            raise KeyError(f"{name!r} is not a block; blocks are {[n for n, _ in self.blocks()]}")
        return module

    # ----- forward ---------------------------------------------------------------------------------
    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map (before pooling)."""
        x = self.forward_stem(x)
        for stage in self.stages.values():
            x = stage(x)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Global average pool and the classifier; ``pre_logits`` stops before the fc."""
        x = torch.flatten(self.avgpool(x), 1)
        if pre_logits:
            return x
        logits: torch.Tensor = self.fc(x)
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _choices_error(kind: str, value: object, valid: object) -> ValueError:
    valid_list = ", ".join(str(v) for v in valid)  # type: ignore[attr-defined]
    return ValueError(f"unknown {kind} {value!r}; valid: {valid_list}")


def build_model(
    arch: str,
    *,
    num_classes: int | None = None,
    in_chans: int = 3,
    shortcut: ShortcutOption | None = None,
    variant: BottleneckVariant = "torchvision",
    zero_init_residual: bool = False,
) -> ResNet:
    """Build ``arch`` (e.g. ``"resnet50"``, ``"plain56"``) with random He initialisation.

    Defaults follow the paper: 1000 classes and shortcut B for the ImageNet family, 10 classes and
    shortcut A for the CIFAR family. ``variant`` only matters for bottleneck nets (see :class:`Bottleneck`).
    Raises ``ValueError`` with the valid choices for an unknown arch or option.
    """
    key = arch.lower().strip()
    if key not in ARCHS:
        raise _choices_error("architecture", arch, ARCHS)
    spec = ARCHS[key]
    if shortcut is None:
        shortcut = "B" if spec.family == "imagenet" else "A"
    shortcut = str(shortcut).upper()  # type: ignore[assignment]
    if shortcut not in SHORTCUT_OPTIONS:
        raise _choices_error("shortcut option", shortcut, SHORTCUT_OPTIONS)
    if variant not in VARIANTS:
        raise _choices_error("variant", variant, VARIANTS)
    if num_classes is None:
        num_classes = 1000 if spec.family == "imagenet" else 10
    if num_classes < 1 or in_chans < 1:
        raise ValueError("num_classes and in_chans must be at least 1")
    return ResNet(spec, num_classes=num_classes, in_chans=in_chans, shortcut=shortcut,
                  variant=variant, zero_init_residual=zero_init_residual, arch=key)
