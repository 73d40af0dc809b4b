"""Peak memory of ``analyze()`` on ResNet-152 against a bare forward of the same network.

    python bench/bench_memory.py [--rounds 5] [--arch resnet152] [--json PATH]

What is compared is the memory a call adds on top of what the process already holds: the peak resident
set size during the call (Linux's VmHWM, reset just before it through /proc/self/clear_refs) minus the
resident size just before it. The measuring process runs with a fixed glibc mmap threshold, so every
large tensor is its own mapping that goes back to the system when freed, and ``malloc_trim`` runs before
each call: one call's freed memory then cannot hide the next call's peak. Rounds alternate the sides
after one warm-up call of each.

* reference: torchvision's preprocessing + ``torchvision.models.resnet152`` forward under
  ``inference_mode``, softmax, top-5 (the same random weights as ours);
* ours: ``analyze(loaded, image, gradcam=False)`` with every other probe (feature maps, residual
  ratios, response stds); Grad-CAM's peak (it keeps one stage's activations for a backward) and the
  peak without feature maps (the maps are part of the result: float32 copies of the stem's and each
  stage's output) are reported beside it.

Goal (issue 7): <= 1.3x. Linux only (VmHWM and clear_refs).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL = 1.3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--arch", default="resnet152")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figure as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def added_peak_mb(fn) -> float:
    """Peak RSS during ``fn()`` above the RSS just before it, in MB."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    before = status_kb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    result = fn()
    peak = status_kb("VmHWM")
    del result
    return (peak - before) / 1024


def child(args: argparse.Namespace) -> None:
    """The measuring process: prints one JSON line with the per-round MB of each side."""
    import torch
    import torch.nn.functional as F
    import torchvision

    from bench.bench_analyze import make_image
    from resnet_explorer.core.probe import analyze
    from resnet_explorer.core.resnet import build_model
    from resnet_explorer.core.zoo import Preprocessing, imagenet_class_names, wrap_model

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours_net = build_model(args.arch).eval()
    reference_net = getattr(torchvision.models, args.arch)().eval()
    reference_net.load_state_dict(ours_net.state_dict())
    loaded = wrap_model(ours_net, model_id=f"{args.arch}-random", class_names=imagenet_class_names(),
                        preprocessing=Preprocessing.imagenet(), device=torch.device("cpu"))
    transform = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.transforms()  # same for all ResNets
    image = make_image(None)

    def reference():
        with torch.inference_mode():
            probs = F.softmax(reference_net(transform(image).unsqueeze(0)), dim=1)
            return probs[0].topk(5)

    def probes():
        return analyze(loaded, image, gradcam=False)

    def with_gradcam():
        return analyze(loaded, image, gradcam=True)

    def without_maps():  # what the probes cost besides the feature maps they hand back
        return analyze(loaded, image, gradcam=False, feature_maps=False)

    sides = {"ours": probes, "ref": reference, "gradcam": with_gradcam, "no_maps": without_maps}
    for fn in sides.values():
        fn()  # warm-up: oneDNN primitives, first-touch of the weights
    out: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for name in order:
            out[name].append(added_peak_mb(sides[name]))
    out["weights_mb"] = sum(p.numel() * p.element_size() for p in ours_net.parameters()) / 2**20
    out["maps_mb"] = sum(m.nbytes for m in probes().feature_maps.values()) / 2**20
    print(json.dumps(out))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    if not Path("/proc/self/clear_refs").exists():
        print("this benchmark needs Linux (/proc/self/clear_refs, VmHWM)")
        return 2
    from bench.common import ratio_figure, write_json

    # A fixed mmap threshold keeps big tensors out of the heap: freed, they leave the RSS at once.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024), "OMP_WAIT_POLICY": "PASSIVE"}
    command = [sys.executable, __file__, "--child", "--rounds", str(args.rounds), "--arch", args.arch]
    if args.threads:
        command += ["--threads", str(args.threads)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(done.stderr)
        return done.returncode
    mb = json.loads(done.stdout.strip().splitlines()[-1])
    figure = ratio_figure(
        "analyze_peak_memory", f"peak memory added by analyze() on {args.arch} (all probes, no Grad-CAM)",
        "the bare torchvision forward (inference_mode)", mb["ours"], mb["ref"], unit="MB", goal=GOAL,
        gradcam_mb=median(mb["gradcam"]), no_maps_mb=median(mb["no_maps"]), maps_mb=mb["maps_mb"],
        weights_mb=mb["weights_mb"])
    for name, label in (("ref", "bare forward"), ("ours", "analyze, all probes"),
                        ("gradcam", "analyze + Grad-CAM"), ("no_maps", "analyze, no feature maps")):
        values = ", ".join(f"{v:.0f}" for v in mb[name])
        print(f"{label:24s} adds {median(mb[name]):6.1f} MB at its peak   [{values}]")
    print(f"ratio analyze / bare forward: {figure.ratio:.2f}x (min {figure.ratio_min:.2f} .. max "
          f"{figure.ratio_max:.2f}); goal <= {GOAL}x: {'met' if figure.met else 'NOT met'}; "
          f"the weights alone: {mb['weights_mb']:.0f} MB; the feature maps analyze returns: "
          f"{mb['maps_mb']:.1f} MB")
    if args.json:
        write_json([figure], args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
