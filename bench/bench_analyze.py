"""How much does looking inside cost?  ``analyze`` with every probe against a bare torchvision forward.

    python bench/bench_analyze.py [--runs 21] [--warmup 3] [--threads N] [--device cpu|cuda|all]

In one run, on the same (random, seeded) ResNet-50 weights loaded into both networks, the same image,
thread count, batch 1:

* reference: torchvision's ImageNet preprocessing + ``torchvision.models.resnet50`` under
  ``torch.inference_mode`` + softmax/top-5;
* ours: ``analyze(loaded, image)`` with feature maps, residual ratios and response stds, no Grad-CAM;
* separately, Grad-CAM: ``analyze`` (all probes + Grad-CAM) against the textbook recipe (forward with
  grad enabled, a hook on layer4, ``score.backward()``).

The two sides alternate, run by run, so that load from other processes hits both alike; the ratio is of
the medians, and the spread is the min-max of the per-pair ratios. It also checks that top-5 agree.
Goals (issue 7): <= 1.05x without Grad-CAM, <= 1.10x with it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Figure, ratio_figure, summary_line, write_json  # noqa: E402
from resnet_explorer.core.probe import analyze  # noqa: E402
from resnet_explorer.core.resnet import build_model  # noqa: E402
from resnet_explorer.core.zoo import Preprocessing, imagenet_class_names, wrap_model  # noqa: E402

GOAL_PROBES = 1.05  # issue 7
GOAL_GRADCAM = 1.10


def make_networks(device: torch.device, seed: int = 0) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Our resnet50 and torchvision's, holding the same random weights."""
    import torchvision

    torch.manual_seed(seed)
    ours = build_model("resnet50").eval()
    with torch.no_grad():
        # He-initialised weights with identity BNs give huge logits (a saturated softmax would make the
        # top-5 comparison a coin toss among exact zeros); scale the classifier to a sensible range.
        logits = ours(torch.randn(2, 3, 224, 224))
        scale = 3.0 / float(logits.std())
        ours.fc.weight.mul_(scale)
        ours.fc.bias.mul_(scale)
    reference = torchvision.models.resnet50().eval()
    reference.load_state_dict(ours.state_dict(), strict=True)
    return ours.to(device), reference.to(device)


def make_image(path: str | None, seed: int = 0) -> Image.Image:
    if path:
        return Image.open(path).convert("RGB")
    rng = np.random.default_rng(seed)
    # A 640x480 "photo": smooth gradients plus noise, so resizing does real work.
    y, x = np.mgrid[0:480, 0:640]
    base = np.stack([x / 640 * 255, y / 480 * 255, (x + y) / 1120 * 255], axis=-1)
    pixels = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of one call."""
    sync(device)
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    sync(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(name: str, ours: Callable[[], object], ref: Callable[[], object], device: torch.device,
            runs: int, warmup: int) -> tuple[list[float], list[float]]:
    """Alternate the two, print medians, ratio and the per-pair spread; returns the wall times (ms).

    CPU time is printed too: on a machine shared with other jobs it moves far less than wall time,
    because time spent descheduled is not counted (with one thread it is the cleaner figure).
    """
    for _ in range(warmup):
        ours()
        ref()
    t_ours, t_ref = [], []
    for i in range(runs):
        # Alternate who goes first, so neither always runs on a warmer cache.
        if i % 2:
            a, b = timed(ours, device), timed(ref, device)
        else:
            b, a = timed(ref, device), timed(ours, device)
        t_ours.append(a)
        t_ref.append(b)
    for clock, k in (("wall", 0), ("cpu", 1)):
        mine, theirs = [t[k] for t in t_ours], [t[k] for t in t_ref]
        pairs = [a / b for a, b in zip(mine, theirs, strict=True) if b > 0]
        r = statistics.median(pairs)
        print(f"  {name:<34} {clock:<4} ours {1e3 * statistics.median(mine):7.1f} ms   reference "
              f"{1e3 * statistics.median(theirs):7.1f} ms   ratio {r:.3f}x "
              f"(per-pair min {min(pairs):.3f} .. max {max(pairs):.3f}, {runs} runs)")
    return [1e3 * t[0] for t in t_ours], [1e3 * t[0] for t in t_ref]


def bench_device(device: torch.device, image: Image.Image, runs: int, warmup: int) -> list[Figure]:
    from torchvision.models import ResNet50_Weights

    ours_net, tv_net = make_networks(device)
    loaded = wrap_model(ours_net, model_id="resnet50-random", class_names=imagenet_class_names(),
                        preprocessing=Preprocessing.imagenet(), device=device)
    tv_transform = ResNet50_Weights.IMAGENET1K_V1.transforms()

    def reference() -> list[int]:
        with torch.inference_mode():
            x = tv_transform(image).unsqueeze(0).to(device)
            probs = F.softmax(tv_net(x), dim=1)
            return probs[0].topk(5).indices.tolist()

    def all_probes() -> list[int]:
        result = analyze(loaded, image, top_k=5, gradcam=False, feature_maps=True, measures=True)
        return [p.index for p in result.top_k]

    grabbed: dict[str, torch.Tensor] = {}
    tv_net.layer4.register_forward_hook(lambda m, i, o: grabbed.update(act=o))

    def reference_gradcam() -> np.ndarray:
        # The textbook recipe: forward with grad enabled, backward from the top-1 score.
        tv_net.zero_grad(set_to_none=True)
        x = tv_transform(image).unsqueeze(0).to(device)
        logits = tv_net(x)
        act = grabbed["act"]
        act.retain_grad()
        logits[0, int(logits.argmax())].backward()
        weights = act.grad[0].mean(dim=(1, 2), keepdim=True)
        cam = F.relu((weights * act[0].detach()).sum(0))
        cam = F.interpolate(cam[None, None], size=(224, 224), mode="bilinear", align_corners=False)[0, 0]
        return (cam / cam.max().clamp_min(1e-12)).cpu().numpy()

    def with_gradcam() -> np.ndarray:
        return analyze(loaded, image, top_k=5, gradcam=True).gradcam

    agree = all_probes() == reference()
    cam_close = np.allclose(with_gradcam(), reference_gradcam(), atol=1e-3)
    print(f"device {device}, {torch.get_num_threads()} CPU threads, batch 1, image {image.size[0]}x"
          f"{image.size[1]}")
    print(f"  top-5 agree: {agree}; Grad-CAM maps agree: {cam_close}")
    probes = compare("analyze, all probes (no Grad-CAM)", all_probes, reference, device, runs, warmup)
    cam = compare("analyze + Grad-CAM vs fwd+bwd", with_gradcam, reference_gradcam, device, runs, warmup)
    checks = {"top5_agree": agree, "gradcam_agrees": bool(cam_close), "threads": torch.get_num_threads()}
    return [
        ratio_figure("analyze_vs_torchvision", "analyze(), all probes except Grad-CAM, ResNet-50, batch 1",
                     "torchvision preprocessing + resnet50 forward, inference_mode", *probes, unit="ms",
                     goal=GOAL_PROBES, device=device.type, **checks),
        ratio_figure("gradcam_vs_hand", "analyze() with Grad-CAM, ResNet-50, batch 1",
                     "forward + one backward by hand (hook on layer4, score.backward())", *cam, unit="ms",
                     goal=GOAL_GRADCAM, device=device.type, **checks),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="timed runs per side (after warm-up)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"],
                        help="all: CPU, and CUDA when present")
    parser.add_argument("--image", default=None, help="an image file (default: a synthetic 640x480 photo)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    image = make_image(args.image)
    print(f"torch {torch.__version__}")
    figures = [f for d in devices for f in bench_device(d, image, args.runs, args.warmup)]
    for f in figures:
        print(summary_line(f))
    if args.json:
        write_json(figures, args.json)
    return 0 if all(f.notes["top5_agree"] and f.notes["gradcam_agrees"] for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
