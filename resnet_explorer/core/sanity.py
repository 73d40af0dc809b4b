"""Can a saliency map be trusted? Adebayo et al. 2018's cascading model-parameter randomisation.

On a deep copy of the network (the loaded model is never touched), the layers are re-initialised from
the head downwards, one stage at a time: the classifier (fc), then the last stage, ..., then the stem.
After every step each CAM method's map is computed again, for the same image and class, and compared
with the map of the intact network by Spearman's rank correlation. A map that reflects what the network
learned must change once the learned weights are gone; a method whose map is still almost the same
after the whole network is randomised (|rho| above the threshold) shows the image's structure, not the
model, and is flagged.

How layers are re-initialised (``RANDOMISATION`` is reported with the result):

* convolutions: He-normal, fan-out (the ResNet's own initialisation); the fc layer: PyTorch's default
  ``nn.Linear`` initialisation; all from one seeded generator, so a check is reproducible;
* BatchNorm: weight and bias, the learned parameters, are reset to their defaults (1, 0); the running
  mean and variance are *kept*. The paper randomises the learned weights, and the running statistics are
  not learned weights but measurements of the data. Resetting them to (0, 1) as well would turn every BN
  into an identity: the residual additions then double the activations' variance block after block (by
  about 2^16 in ResNet-50), the logits explode and the softmax saturates, so Score-CAM and occlusion
  (which read probabilities) would see a degenerate network rather than a random one.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from . import cams
from .cam_limits import SANITY_THRESHOLD, THRESHOLD
from .errors import UserInputError
from .images import open_image
from .resnet import ResNet
from .studies import ProgressFn, check_cancel, report
from .zoo import LoadedModel

DEFAULT_METHODS = ("gradcam", "gradcam++", "layercam")  # one backward pass each: cheap on any network
RANDOMISATION = {
    "order": "head first: fc, then the stages from the last to the first, then the stem (cumulative)",
    "conv": "He-normal, fan-out (the ResNet's own initialisation)",
    "fc": "PyTorch's nn.Linear default (Kaiming-uniform weight, uniform bias)",
    "batchnorm": {
        "weight_bias": "reset to the defaults (weight 1, bias 0)",
        "running_stats": "kept (the trained network's running mean and variance)",
        "why": "the paper randomises learned weights; running statistics are measurements of the data, "
               "and resetting them to (0, 1) makes every BN an identity, so the residual sums grow "
               "block by block until the softmax saturates",
    },
}


# ----- Spearman's rank correlation --------------------------------------------------------------------
def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of the flattened ``values``; tied values share the mean of their ranks."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)  # the rank of the last member of each group of equal values
    return (last - (counts - 1) / 2.0)[inverse.ravel()]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two equally sized arrays: Pearson's correlation of their average ranks.

    NaN when either array is constant (its ranks carry no order to correlate with).
    """
    ra, rb = average_ranks(a), average_ranks(b)
    if ra.shape != rb.shape:
        raise ValueError(f"cannot correlate {np.shape(a)} with {np.shape(b)}")
    da, db = ra - ra.mean(), rb - rb.mean()
    scale = math.sqrt(float(da @ da) * float(db @ db))
    return float(np.clip(da @ db / scale, -1.0, 1.0)) if scale > 0 else math.nan


# ----- re-initialisation ------------------------------------------------------------------------------
def randomisation_steps(model: ResNet) -> list[tuple[str, list[nn.Module]]]:
    """The cascade, head first: ("fc", [fc]), ("layer4", [...]), ..., ("stem", [conv1, bn1])."""
    stages: list[tuple[str, list[nn.Module]]] = [(name, [stage])
                                                 for name, stage in reversed(model.stages.items())]
    return [("fc", [model.fc]), *stages, ("stem", [model.conv1, model.bn1])]


@torch.no_grad()
def reinitialise(modules: Iterable[nn.Module], generator: torch.Generator) -> None:
    """Re-initialise every conv, linear and BN layer in ``modules`` in place (see the module docstring)."""
    for root in modules:
        for m in root.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu", generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Linear):
                _reset_linear(m, generator)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                # Only the learned affine part: running_mean / running_var kept on purpose (module doc).
                m.weight.fill_(1.0)
                m.bias.zero_()


def _reset_linear(m: nn.Linear, generator: torch.Generator) -> None:
    """``nn.Linear.reset_parameters``, drawn from ``generator``."""
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
    if m.bias is not None:
        bound = 1 / math.sqrt(m.in_features) if m.in_features > 0 else 0.0
        nn.init.uniform_(m.bias, -bound, bound, generator=generator)


# ----- the check --------------------------------------------------------------------------------------
@dataclass
class SanityStep:
    """The network after one more re-initialised part: the maps and their correlation with step 0."""

    step: int
    randomised: str  # what this step re-initialised: "nothing" (step 0), "fc", "layer3", ..., "stem"
    layers: tuple[str, ...]  # everything re-initialised so far
    top1: int  # the randomised network's prediction
    rho: dict[str, float]  # method -> Spearman's rho with the step-0 map (NaN: a constant map)
    maps: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # method -> (H, W) in [0, 1]


@dataclass
class SanityCheck:
    """The result of :func:`sanity_check`; ``to_dict()`` is the CLI's JSON (without the maps)."""

    model_id: str
    arch: str
    cam_class: int
    class_name: str
    cam_stage: str
    cam_layer: str
    methods: tuple[str, ...]
    steps: list[SanityStep]
    threshold: float
    seed: int
    display_image: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0, 3), np.uint8))
    randomisation: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(RANDOMISATION))

    def final_rho(self, method: str) -> float:
        """rho after the whole network is re-initialised."""
        return self.steps[-1].rho[method]

    def barely_changes(self, method: str) -> bool:
        """The flag: the map still correlates above the threshold with a fully random network.

        A map that became constant (NaN rho) has lost every trace of the original: it is not flagged.
        """
        rho = self.final_rho(method)
        return not math.isnan(rho) and abs(rho) > self.threshold

    def to_dict(self) -> dict[str, Any]:
        def number(v: float) -> float | None:
            return None if math.isnan(v) else round(v, 6)

        verdicts = {m: {"final_rho": number(self.final_rho(m)), "barely_changes": self.barely_changes(m),
                        "verdict": "FAILS: the map barely changes" if self.barely_changes(m)
                        else "passes: the map changes with the weights"} for m in self.methods}
        layers = {m: "input" if m in cams.INPUT_METHODS else self.cam_layer for m in self.methods}
        return {"model": self.model_id, "arch": self.arch, "class": self.cam_class,
                "class_name": self.class_name, "cam_stage": self.cam_stage, "cam_layers": layers,
                "methods": list(self.methods), "threshold": self.threshold, "seed": self.seed,
                "randomisation": self.randomisation, "correlation": "Spearman's rank correlation with "
                "the intact network's map (null: the map became constant)",
                "steps": [{"step": s.step, "randomised": s.randomised, "layers": list(s.layers),
                           "top1": s.top1, "rho": {m: number(r) for m, r in s.rho.items()}}
                          for s in self.steps],
                "verdicts": verdicts}


def _check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(methods))
    unknown = [m for m in chosen if m not in cams.METHODS]
    if unknown or not chosen:
        raise UserInputError(f"unknown CAM method {unknown[0]!r}; choose {', '.join(cams.METHODS)}"
                             if unknown else "no CAM method to check")
    return chosen


def _input(loaded: LoadedModel, image: Any) -> tuple[torch.Tensor, np.ndarray]:
    """The preprocessed (C,H,W) tensor and what the network sees, decoded once for every step."""
    if isinstance(image, (str, os.PathLike, bytes)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        return loaded.preprocessing(image), loaded.preprocessing.display(image)
    if isinstance(image, torch.Tensor):
        return image, loaded.preprocessing.unnormalise(image if image.dim() == 3 else image[0])
    raise UserInputError(f"cannot check a {type(image).__name__}: give a PIL image, a path or a tensor")


def sanity_check(loaded: LoadedModel, image: Any, *, methods: Sequence[str] = DEFAULT_METHODS,
                 cam_class: int | None = None, cam_stage: str | None = None, seed: int = 0,
                 threshold: float = SANITY_THRESHOLD, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None) -> SanityCheck:
    """Cascading randomisation (Adebayo et al. 2018) of a copy of ``loaded``'s network, see the module doc.

    ``cam_class`` defaults to the intact network's top-1 class and stays fixed through the cascade;
    ``cam_stage`` to the last stage. Step 0 is the intact copy (rho = 1 by construction), then one step
    per part of :func:`randomisation_steps`. ``progress(done, total)`` counts maps computed; ``cancel``
    is checked between them (and inside Score-CAM and occlusion).
    """
    from .probe import analyze, cam_layer  # probe imports the zoo; here only when a check runs

    chosen = _check_methods(methods)
    problem = THRESHOLD.problem(threshold)
    if problem:
        raise UserInputError(f"threshold {problem}")
    x, shown = _input(loaded, image)
    work = dataclasses.replace(loaded, model=copy.deepcopy(loaded.model).eval())
    stage = cam_stage or work.model.stage_names[-1]
    layer = cam_layer(work.model, stage)  # checks the stage before any work
    if cam_class is None:
        intact = analyze(work, x, top_k=1, gradcam=False, feature_maps=False, measures=False)
        cam_class = intact.top_k[0].index
    plan = [("nothing", []), *randomisation_steps(work.model)]
    total, done = len(plan) * len(chosen), 0
    generator = torch.Generator(device="cpu").manual_seed(seed)
    steps: list[SanityStep] = []
    layers: tuple[str, ...] = ()
    for step, (name, modules) in enumerate(plan):
        if modules:
            _reinitialise_on_cpu(modules, generator)
            layers = (*layers, name)
        maps: dict[str, np.ndarray] = {}
        top1 = -1
        for method in chosen:
            check_cancel(cancel)
            a = analyze(work, x, top_k=1, cam=method, cam_class=cam_class, cam_stage=stage,
                        feature_maps=False, measures=False, cancel=cancel)
            assert a.cam is not None  # a CAM method was asked for, so there is a map
            maps[method], top1 = a.cam, a.top_k[0].index
            done += 1
            report(progress, done, total)
        base = steps[0].maps if steps else maps
        steps.append(SanityStep(step, name, layers, top1, {m: spearman(base[m], maps[m]) for m in chosen},
                                maps))
    return SanityCheck(loaded.model_id, loaded.arch, cam_class, loaded.class_names[cam_class], stage, layer,
                       chosen, steps, threshold, seed, shown)


def _reinitialise_on_cpu(modules: list[nn.Module], generator: torch.Generator) -> None:
    """Draw on the CPU generator whatever the device, so a seed gives the same network everywhere."""
    device = next((p.device for m in modules for p in m.parameters()), torch.device("cpu"))
    if device.type == "cpu":
        reinitialise(modules, generator)
        return
    for root in modules:
        cpu_copy = copy.deepcopy(root).cpu()
        reinitialise([cpu_copy], generator)
        with torch.no_grad():
            for dst, src in zip(root.state_dict().values(), cpu_copy.state_dict().values(), strict=True):
                dst.copy_(src)
