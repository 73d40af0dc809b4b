"""What do the three "why shortcuts work" studies cost at the bundled models' size (resnet56 / plain56)?

    python bench/bench_studies.py [--runs 7] [--warmup 1] [--threads N] [--images 500] [--arch resnet56]

Each study is many repetitions of one unit of work; each unit is timed against the least that unit must
do, written by hand, alternating run by run on the same seeded random weights and the same synthetic
28x28 grey images (timing does not depend on what the weights learned):

* lesion-study: one pass with a block deleted (``lesioned_blocks`` + ``studies.measure``) against one
  bare evaluation pass of the whole net (batches of 500 under ``inference_mode``: cross-entropy + top-1);
* landscape: one grid point (``WeightShift.move_to`` + ``studies.measure``) against the same bare pass;
* gradients: ``measure_gradients`` without the shattered-gradients line (a copy of the net in train mode,
  one forward and backward with the block outputs' gradients kept) against one bare train-mode forward +
  backward of a copy by hand. The shattered-gradients line (64 more input gradients) is reported apart.

From the medians it prints what whole commands cost on this machine: a lesion study at the window's
settings, a 31 x 31 landscape over 1,000 images (the README's), and one ``gradients`` architecture.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_analyze import compare  # noqa: E402
from bench.common import Figure, ratio_figure, summary_line, write_json  # noqa: E402
from resnet_explorer.core.data import Split  # noqa: E402
from resnet_explorer.core.gradients import measure_gradients  # noqa: E402
from resnet_explorer.core.landscape import WeightShift, filter_normalized_direction  # noqa: E402
from resnet_explorer.core.lesion import count_passes, plan_deletions  # noqa: E402
from resnet_explorer.core.probe import lesioned_blocks  # noqa: E402
from resnet_explorer.core.resnet import ResNet, build_model  # noqa: E402
from resnet_explorer.core.studies import EvalSet, measure  # noqa: E402

GOAL_PASS = 1.10  # a lesion pass or a landscape point: one evaluation pass, nothing more
GOAL_GRADIENTS = 1.25  # one forward + backward, plus hooks that keep each block output's gradient
BATCH = 500  # the studies' default batch size


def make_target(arch: str, images: int, seed: int = 0) -> EvalSet:
    """``arch`` at a seeded He initialisation, in eval mode, with ``images`` seeded random 28x28 grey
    images."""
    torch.manual_seed(seed)
    net = build_model(arch, num_classes=10, in_chans=1).eval()
    g = torch.Generator().manual_seed(seed)
    data = Split(torch.randint(0, 256, (images, 1, 28, 28), dtype=torch.uint8, generator=g),
                 torch.randint(0, 10, (images,), generator=g))
    return EvalSet(net, data, torch.full((1, 1, 1, 1), 0.286), torch.full((1, 1, 1, 1), 0.353),
                   model_id=arch, dataset="synthetic")


def bare_pass(target: EvalSet) -> Callable[[], float]:
    """The reference: one evaluation pass over the images by hand (loss and top-1 error)."""
    def run() -> float:
        loss, wrong = 0.0, 0
        with torch.inference_mode():
            for i in range(0, target.n, BATCH):
                x = (target.data.images[i:i + BATCH].float() / 255 - target.mean) / target.std
                y = target.data.labels[i:i + BATCH]
                logits = target.model(x)
                loss += float(F.cross_entropy(logits, y, reduction="sum"))
                wrong += int((logits.argmax(1) != y).sum())
        return loss / target.n + wrong
    return run


def bench_lesion(target: EvalSet, runs: int, warmup: int) -> tuple[Figure, int]:
    net: ResNet = target.model  # type: ignore[assignment]
    deletable = [name for name, block in net.blocks() if block.can_lesion]
    middle = deletable[len(deletable) // 2]

    def ours() -> None:
        with lesioned_blocks(net, [middle]):
            measure(target, BATCH)

    times = compare("lesion pass", ours, bare_pass(target), torch.device("cpu"), runs, warmup)
    passes = count_passes(plan_deletions(deletable, 5, 0), deletable)
    figure = ratio_figure("study_lesion_pass", f"lesion-study: one pass with {middle} deleted, "
                          f"{target.arch}, {target.n} images", "one bare evaluation pass by hand", *times,
                          unit="ms", goal=GOAL_PASS, threads=torch.get_num_threads(),
                          passes_at_draws_5=passes)
    return figure, passes


def bench_landscape(target: EvalSet, runs: int, warmup: int) -> Figure:
    g = torch.Generator().manual_seed(0)
    shift = WeightShift(target.model, [filter_normalized_direction(target.model, g) for _ in range(2)])
    point = [0]

    def ours() -> None:
        point[0] += 1
        shift.move_to((0.1 * (point[0] % 7 - 3), 0.05))  # a new point each run, as on the grid
        measure(target, BATCH)

    try:
        times = compare("landscape point", ours, bare_pass(target), torch.device("cpu"), runs, warmup)
    finally:
        shift.restore()
    return ratio_figure("study_landscape_point", f"landscape: one grid point (2 directions), {target.arch}, "
                        f"{target.n} images", "one bare evaluation pass by hand", *times, unit="ms",
                        goal=GOAL_PASS, threads=torch.get_num_threads())


def bench_gradients(arch: str, runs: int, warmup: int, batch: int = 64) -> tuple[Figure, float]:
    torch.manual_seed(0)
    model = build_model(arch, num_classes=10, in_chans=1)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (batch,), generator=g)

    def ours() -> None:
        measure_gradients(model, x, y, line_points=0)

    def reference() -> None:
        net = copy.deepcopy(model).train()
        F.cross_entropy(net(x), y).backward()

    times = compare("gradients", ours, reference, torch.device("cpu"), runs, warmup)
    start = time.perf_counter()
    measure_gradients(model, x, y, line_points=64)
    with_line = time.perf_counter() - start
    figure = ratio_figure("study_gradients", f"gradients: one architecture ({arch}, batch {batch}) without "
                          "the shattered-gradients line", "copy + train-mode forward + backward by hand",
                          *times, unit="ms", goal=GOAL_GRADIENTS, threads=torch.get_num_threads(),
                          with_64_point_line_s=round(with_line, 2))
    return figure, with_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--images", type=int, default=500, help="images per evaluation pass")
    parser.add_argument("--arch", default="resnet56", help="the net the lesion and landscape rows use")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.arch}, {args.images} images")
    target = make_target(args.arch, args.images)
    lesion, passes = bench_lesion(target, args.runs, args.warmup)
    landscape = bench_landscape(target, args.runs, args.warmup)
    gradients, with_line = bench_gradients(args.arch, args.runs, args.warmup)
    figures = [lesion, landscape, gradients]
    for f in figures:
        print(summary_line(f))
    per_image = {f.key: f.ours.median / 1e3 / args.images for f in (lesion, landscape) if f.ours}
    print(f"whole commands on this machine ({args.arch}, from the medians):\n"
          f"  lesion-study --subset 1000 --draws 5: {passes} passes, about "
          f"{passes * 1000 * per_image['study_lesion_pass']:.0f} s\n"
          f"  landscape --dims 2 --grid 31 --subset 1000: 961 points, about "
          f"{961 * 1000 * per_image['study_landscape_point'] / 60:.0f} min\n"
          f"  landscape --dims 2 --grid 11 --subset 256 (the window's): 121 points, about "
          f"{121 * 256 * per_image['study_landscape_point']:.0f} s\n"
          f"  gradients, one architecture with the 64-point line: {with_line:.1f} s")
    if args.json:
        write_json(figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
