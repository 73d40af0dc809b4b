"""Training throughput: the engine vs a minimal hand-written SGD loop, and model-FLOPs utilisation.

    python bench/bench_train.py [--threads 2] [--rounds 5] [--steps 40] [--json PATH]

In one process, interleaved round by round (so both see the same machine load):

* ``engine``: ``TrainingRun`` on resnet20, Fashion-MNIST 28x28 tensors in memory (the real training set
  when Debian's dataset-fashion-mnist is installed, else random images of that shape), batch 128, the
  paper's recipe including pad-4 crop + flip, per-step loss/accuracy and throttled events, channels_last;
* ``engine-noaug``: the same with ``augment="none"`` (the engine's own overhead alone);
* ``hand``: ``for x, y in batches: loss = ce(model(x), y); zero_grad; backward; step`` on the same
  tensors already normalised, the same SGD settings, channels_last.

Each figure is measured on the second epoch (the first one warms up oneDNN), wall-clock from outside
the engine. Reported: medians over rounds, with min-max as the noise. MFU = achieved training FLOP/s
(3 x forward FLOPs per image from ``torch.utils.flop_counter``, x images/s) / the FLOP/s of a large
float32 matmul measured in the same run with the same thread count.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

# As `resnet-explorer train` does (see commands/train.py): must precede the first import of torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Figure, ratio_figure, write_json  # noqa: E402
from resnet_explorer.core import data as data_mod  # noqa: E402
from resnet_explorer.core.engine import EpochEvent, IterationEvent, TrainConfig, TrainingRun  # noqa: E402
from resnet_explorer.core.resnet import build_model  # noqa: E402

BATCH = 128
GOAL_TRAIN = 0.98  # issue 7: engine images/s >= 0.98x the hand loop


def load_images(n: int) -> tuple[data_mod.DatasetBundle, str]:
    """``n`` Fashion-MNIST training images (or random ones of that shape) and a small test split."""
    try:
        full = data_mod.load_dataset("fashion-mnist", download=False)
        source = "Fashion-MNIST (real)"
    except Exception:  # absent here: random images of the same shape measure the same speed
        g = torch.Generator().manual_seed(0)
        images = torch.randint(0, 256, (n + 256, 1, 28, 28), generator=g, dtype=torch.uint8)
        labels = torch.randint(0, 10, (n + 256,), generator=g)
        full = data_mod._bundle("fashion-mnist-shaped", data_mod.Split(images[:n], labels[:n]),
                                data_mod.Split(images[n:], labels[n:]), [str(i) for i in range(10)], "random")
        source = "random 28x28 images"
    full.train = full.train.take(torch.arange(n))
    full.test = full.test.take(torch.arange(256))
    return full, source


class Clock:
    """Wall-clock and process CPU time together: CPU time is what a busy machine actually gave us."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def rates(self, amount: float) -> tuple[float, float]:
        """``amount`` per wall-clock second and per CPU-second since the clock started."""
        return (amount / (time.perf_counter() - self.wall), amount / (time.process_time() - self.cpu))


def engine_rate(bundle: data_mod.DatasetBundle, threads: int, augment: str) -> tuple[float, float]:
    """Images/s of the engine's second epoch, timed from outside (after epoch 1's event to the last step)."""
    config = TrainConfig("resnet20", "bench", epochs=2, batch_size=BATCH, threads=threads, save=False,
                         augment=augment)
    clock = None
    rates = (0.0, 0.0)
    for event in TrainingRun(config, data=bundle).events():
        if isinstance(event, EpochEvent) and event.epoch == 1:
            clock = Clock()
        elif isinstance(event, IterationEvent) and clock is not None and event.step == event.steps_per_epoch:
            rates = clock.rates(event.steps_per_epoch * BATCH)
    return rates


def hand_rate(bundle: data_mod.DatasetBundle, threads: int, warmup: int = 5) -> tuple[float, float]:
    """Images/s of the minimal loop over the same tensors (already normalised: the loop's best case)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model("resnet20", num_classes=10, in_chans=1).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    mean = torch.tensor(bundle.mean).view(1, -1, 1, 1)
    std = torch.tensor(bundle.std).view(1, -1, 1, 1)
    x_all = data_mod.normalize(bundle.train.images, mean, std).contiguous(memory_format=torch.channels_last)
    y_all = bundle.train.labels
    steps = len(y_all) // BATCH

    def step(i: int) -> None:
        x, y = x_all[i * BATCH:(i + 1) * BATCH], y_all[i * BATCH:(i + 1) * BATCH]
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i % steps)
    clock = Clock()
    for i in range(steps):
        step(i)
    return clock.rates(steps * BATCH)


def matmul_flops(threads: int, n: int = 2048, repeats: int = 5) -> tuple[float, float]:
    """FLOP/s of a large float32 matmul (the machine's practical peak for these threads)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    clock = Clock()
    for _ in range(repeats):
        a @ b
    return clock.rates(2.0 * n ** 3 * repeats)


def training_flops_per_image() -> float:
    """3 x forward FLOPs of resnet20 on one 1x28x28 image (backward ~ 2 x forward)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model("resnet20", num_classes=10, in_chans=1)
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.randn(1, 1, 28, 28))
    return 3.0 * counter.get_total_flops()


def ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def print_block(r: dict, per_image: float) -> None:
    for key, label in [("engine_images_per_s", "engine (recipe: crop+flip)"),
                       ("engine_noaug_images_per_s", "engine (no augmentation)"),
                       ("hand_images_per_s", "hand-written loop")]:
        s = r[key]
        print(f"  {label:28s} {s['median']:7.0f} img/s  [{s['min']:.0f}-{s['max']:.0f}]")
    for key, label in [("ratio_engine_vs_hand", "ratio engine / hand"),
                       ("ratio_engine_noaug_vs_hand", "ratio engine-noaug / hand")]:
        s = r[key]
        print(f"  {label:28s} {s['median']:7.3f}x       [{s['min']:.3f}-{s['max']:.3f}]")
    s = r["matmul_gflops"]
    print(f"  {'fp32 matmul 2048^3':28s} {s['median']:7.1f} GFLOP/s [{s['min']:.1f}-{s['max']:.1f}]")
    s = r["mfu"]
    print(f"  {'MFU (3x fwd FLOPs)':28s} {s['median']:7.1%}       [{s['min']:.1%}-{s['max']:.1%}]"
          f"  ({per_image / 1e9:.3f} GFLOP per training image)")


def summarize(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def figures(wall: dict[str, list[float]], cpu: dict[str, list[float]], per_image: float,
            report: dict) -> list[Figure]:
    """The suite's two rows: engine vs hand loop (wall clock), and MFU against the matmul."""
    notes = {k: report[k] for k in ("data", "threads", "batch", "steps", "omp_wait_policy")}
    cpu_ratio = report["cpu"]["ratio_engine_vs_hand"]["median"]
    throughput = ratio_figure(
        "train_vs_hand", f"training images/s, resnet20, batch {BATCH} (paper recipe incl. crop+flip)",
        "a minimal hand-written SGD loop on the same tensors", wall["engine"], wall["hand"],
        unit="img/s", goal=GOAL_TRAIN, better="higher", ratio_per_cpu_second=cpu_ratio, **notes)
    mfu = ratio_figure(
        "train_mfu", "training model-FLOPs utilisation on CPU (3x forward FLOPs x images/s)",
        "large float32 matmul FLOP/s (2048^3), same threads", [e * per_image / 1e9 for e in wall["engine"]],
        [m / 1e9 for m in wall["matmul"]], unit="GFLOP/s", goal=None, better="higher",
        gflop_per_image=per_image / 1e9, **notes)
    return [throughput, mfu]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40, help="training steps per measured epoch")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args()

    bundle, source = load_images(args.steps * BATCH)
    names = ("engine", "hand", "engine-noaug", "matmul")
    wall: dict[str, list[float]] = {k: [] for k in names}
    cpu: dict[str, list[float]] = {k: [] for k in names}
    for r in range(args.rounds):
        for name, measure in (("engine", lambda: engine_rate(bundle, args.threads, "auto")),
                              ("hand", lambda: hand_rate(bundle, args.threads)),
                              ("engine-noaug", lambda: engine_rate(bundle, args.threads, "none")),
                              ("matmul", lambda: matmul_flops(args.threads))):
            w, c = measure()
            wall[name].append(w)
            cpu[name].append(c)
        print(f"round {r + 1}/{args.rounds}: engine {wall['engine'][-1]:.0f} img/s, "
              f"hand {wall['hand'][-1]:.0f} img/s, engine-noaug {wall['engine-noaug'][-1]:.0f} img/s, "
              f"matmul {wall['matmul'][-1] / 1e9:.1f} GFLOP/s", file=sys.stderr)
    per_image = training_flops_per_image()
    report = {
        "data": source, "threads": args.threads, "batch": BATCH, "steps": args.steps, "rounds": args.rounds,
        "torch": torch.__version__, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
        "training_gflop_per_image": per_image / 1e9,
    }
    for clock_name, rates in (("wall", wall), ("cpu", cpu)):
        report[clock_name] = {
            "engine_images_per_s": summarize(rates["engine"]), "hand_images_per_s": summarize(rates["hand"]),
            "engine_noaug_images_per_s": summarize(rates["engine-noaug"]),
            "ratio_engine_vs_hand": summarize(ratios(rates["engine"], rates["hand"])),
            "ratio_engine_noaug_vs_hand": summarize(ratios(rates["engine-noaug"], rates["hand"])),
            "matmul_gflops": summarize([m / 1e9 for m in rates["matmul"]]),
            "mfu": summarize(ratios([e * per_image for e in rates["engine"]], rates["matmul"])),
        }
    if args.json:
        write_json(figures(wall, cpu, per_image, report), args.json)
    print(f"resnet20, batch {BATCH}, {args.threads} threads, {source}, {args.rounds} rounds "
          f"(median [min-max]), OMP_WAIT_POLICY={report['omp_wait_policy']}")
    for clock_name, unit in (("wall", "per wall-clock second"), ("cpu", "per CPU-second of this process")):
        print(f"{unit}:")
        print_block(report[clock_name], per_image)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
