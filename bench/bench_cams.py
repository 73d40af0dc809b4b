"""What does each class activation map cost?  ``analyze(cam=METHOD)`` against a bare forward + backward.

    python bench/bench_cams.py [--runs 11] [--slow-runs 1] [--threads N] [--device cpu|cuda|all]
                               [--methods gradcam,gradcam++,layercam,scorecam,occlusion]

In one run, on the same (random, seeded) ResNet-50 weights, the same synthetic 640x480 photo, batch 1:

* reference: torchvision's ImageNet preprocessing + ``resnet50`` forward with grad enabled, a hook on
  layer4 and ``score.backward()`` from the top-1 score: the least any gradient CAM must do;
* ours: ``analyze(loaded, image, cam=METHOD, feature_maps=False, measures=False)`` at layer4.

The gradient methods (Grad-CAM, Grad-CAM++, LayerCAM) should cost about the reference (one forward, one
backward stopped at layer4). Score-CAM runs one forward per layer4 channel (2048) and occlusion one per
patch position (13 x 13 = 169): their rows report how many forward-backward passes they cost; they are
timed over ``--slow-runs`` pairs (each Score-CAM run takes minutes on one CPU thread).
The two sides alternate, run by run (see ``bench_analyze.compare``); the ratio is the median of the
per-pair ratios.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_analyze import compare, make_image, make_networks  # noqa: E402
from bench.common import Figure, ratio_figure, summary_line, write_json  # noqa: E402
from resnet_explorer.core.cam_limits import INPUT_METHODS, METHODS, file_slug  # noqa: E402
from resnet_explorer.core.probe import analyze  # noqa: E402
from resnet_explorer.core.zoo import Preprocessing, imagenet_class_names, wrap_model  # noqa: E402

GOAL_GRADIENT = 1.10  # a gradient CAM: one forward and a partial backward, as the reference
SLOW = {"scorecam", "occlusion"}  # reported, no goal: their cost is the method's, by design


def bench_device(device: torch.device, image: Image.Image, methods: list[str], runs: int, slow_runs: int,
                 warmup: int) -> list[Figure]:
    from torchvision.models import ResNet50_Weights

    ours_net, tv_net = make_networks(device)
    loaded = wrap_model(ours_net, model_id="resnet50-random", class_names=imagenet_class_names(),
                        preprocessing=Preprocessing.imagenet(), device=device)
    tv_transform = ResNet50_Weights.IMAGENET1K_V1.transforms()
    grabbed: dict[str, torch.Tensor] = {}
    tv_net.layer4.register_forward_hook(lambda m, i, o: grabbed.update(act=o))

    def forward_backward() -> None:
        tv_net.zero_grad(set_to_none=True)
        logits = tv_net(tv_transform(image).unsqueeze(0).to(device))
        grabbed["act"].retain_grad()
        logits[0, int(logits.argmax())].backward()

    print(f"device {device}, {torch.get_num_threads()} CPU threads, batch 1, image {image.size[0]}x"
          f"{image.size[1]}, methods {', '.join(methods)}")
    figures = []
    for method in methods:
        def ours(method: str = method) -> None:
            result = analyze(loaded, image, top_k=5, cam=method, feature_maps=False, measures=False)
            assert result.cam is not None and float(result.cam.max()) > 0

        slow = method in SLOW
        n, w = (slow_runs, 0) if slow else (runs, warmup)
        if slow:
            ours()  # one warm-up of ours (minutes for Score-CAM), the reference warms in compare
            forward_backward()
        times = compare(f"analyze(cam={method})", ours, forward_backward, device, n, w)
        figures.append(ratio_figure(
            f"cam_{file_slug(method)}_vs_fwd_bwd",
            f"analyze(cam={method}){'' if method in INPUT_METHODS else ' at layer4'}, ResNet-50, batch 1",
            "forward + one backward by hand (hook on layer4, score.backward())", *times, unit="ms",
            goal=None if slow else GOAL_GRADIENT, device=device.type, threads=torch.get_num_threads(),
            passes=_passes(method)))
    return figures


def _passes(method: str) -> str:
    """The work the method does beyond the one forward pass of the prediction."""
    return {"scorecam": "2048 forward passes (one per layer4 channel), batches of 32",
            "occlusion": "169 forward passes (13 x 13 patches of 32 px, stride 16), batches of 32"}.get(
        method, "one backward pass from the score to layer4")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="timed pairs for the gradient methods")
    parser.add_argument("--slow-runs", type=int, default=1, help="timed pairs for Score-CAM and occlusion")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"],
                        help="all: CPU, and CUDA when present")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated CAM methods")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] if args.device in ("cpu", "all") else []
    if args.device == "cuda" or (args.device == "all" and torch.cuda.is_available()):
        devices.append(torch.device("cuda"))
    image = make_image(None)
    print(f"torch {torch.__version__}")
    figures = [f for d in devices for f in bench_device(d, image, methods, args.runs, args.slow_runs,
                                                        args.warmup)]
    for f in figures:
        print(summary_line(f))
    if args.json:
        write_json(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
