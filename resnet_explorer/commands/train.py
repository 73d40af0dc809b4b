"""``resnet-explorer train``: the training engine on the command line (also under ``torchrun``).

Progress goes to stderr; with ``--json`` stdout carries one JSON document (the final RunFinished).
Ctrl-C (SIGINT) or SIGTERM stops cleanly after the current step, writing a checkpoint; ``--resume``
continues from it. Exit status: 0 completed, 1 diverged or error, 130 stopped by a signal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
from collections.abc import Iterator
from typing import Any

from resnet_explorer.commands.options import fractions, in_range
from resnet_explorer.commands.output import dumps, printable
from resnet_explorer.core import limits

# CLI option -> TrainConfig field, for every option that overrides a recipe value (default None = recipe).
OVERRIDES = ("epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule", "warmup_iters",
             "warmup_lr", "label_smoothing", "augment", "seed", "subset", "data_dir", "image_size",
             "shortcut", "variant", "nesterov", "zero_init_residual", "device", "threads", "eval_batch_size",
             "val_fraction", "cpu_bf16")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a network (or several side by side) with the paper's recipe",
        description="Train with the paper's recipe (section 4.2 for CIFAR-style nets: SGD 0.1, momentum "
                    "0.9, weight decay 1e-4, lr/10 at 50% and 75%, pad-4 crop + flip). Several "
                    "comma-separated archs train side by side on the same batches (compare mode). "
                    "Runs under torchrun --nproc-per-node=N for DistributedDataParallel.")
    p.add_argument("--arch", help="e.g. resnet20, or plain20,plain56,resnet20,resnet56 to compare")
    p.add_argument("--compare", action="store_true",
                   help="shorthand for --arch plain20,plain56,resnet20,resnet56 (the paper's Figure 6)")
    p.add_argument("--dataset", help="fashion-mnist, mnist, cifar10, cifar100, imagefolder:PATH, synthetic")
    p.add_argument("--epochs", type=in_range(limits.EPOCHS), help="epochs (default 10)")
    p.add_argument("--batch-size", type=in_range(limits.TRAIN_BATCH),
                   help="batch per process (default 128)")
    p.add_argument("--lr", type=in_range(limits.LR), help="learning rate (default 0.1)")
    p.add_argument("--momentum", type=in_range(limits.MOMENTUM), help="SGD momentum (default 0.9)")
    p.add_argument("--weight-decay", type=in_range(limits.WEIGHT_DECAY), help="weight decay (default 1e-4)")
    p.add_argument("--schedule", choices=["step", "cosine", "constant"],
                   help="lr schedule (default step: /10 at the milestones)")
    p.add_argument("--milestones", type=fractions,
                   help="step schedule: fractions of training (default 0.5,0.75)")
    p.add_argument("--warmup-iters", type=in_range(limits.WARMUP_ITERS),
                   help="iterations at --warmup-lr first (default 400 for resnet110/1202, else 0)")
    p.add_argument("--warmup-lr", type=in_range(limits.LR), help="warm-up learning rate (default 0.01)")
    p.add_argument("--label-smoothing", type=in_range(limits.LABEL_SMOOTHING),
                   help="cross-entropy label smoothing (default 0)")
    p.add_argument("--augment", choices=["auto", "crop", "resized-crop", "flip", "none"],
                   help="augmentation (default auto: pad-4 crop + flip for CIFAR-style nets, "
                        "random-resized crop + flip for ImageNet-style nets)")
    p.add_argument("--no-flip", dest="hflip", action="store_false", default=None,
                   help="no horizontal flips (never used for mnist digits)")
    p.add_argument("--seed", type=in_range(limits.SEED),
                   help="seed of initialisation, data order and augmentation (default 0)")
    p.add_argument("--subset", type=in_range(limits.SUBSET),
                   help="train on a fixed seeded subset of N images (quick demos)")
    p.add_argument("--data-dir", help="where datasets are looked for / downloaded (default: per-user dir)")
    p.add_argument("--image-size", type=in_range(limits.IMAGE_SIDE),
                   help="imagefolder/synthetic image side in pixels")
    p.add_argument("--val-fraction", type=in_range(limits.VAL_FRACTION),
                   help="imagefolder: share held out for testing (0.2)")
    p.add_argument("--shortcut", type=str.upper, choices=["A", "B", "C"], help="shortcut option")
    p.add_argument("--variant", choices=["paper", "torchvision"], help="bottleneck stride placement")
    p.add_argument("--nesterov", action="store_true", default=None, help="Nesterov momentum")
    p.add_argument("--zero-init-residual", action="store_true", default=None,
                   help="start every residual branch at zero (its last BN's weight; Goyal et al. 2017)")
    p.add_argument("--cpu-bf16", action="store_true", default=None,
                   help="experimental CPU bf16 autocast: 1.6x faster with 1 thread on an AVX512-BF16 CPU, "
                        "but 6x slower with 2 threads there; measure first")
    p.add_argument("--out", help="run directory (default runs/<dataset>-<arch>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start again even if --out holds a run")
    p.add_argument("--device", help="auto (default), cpu, cuda")
    p.add_argument("--threads", type=in_range(limits.THREADS),
                   help="CPU threads (default: $RESNET_EXPLORER_THREADS, else torch's default)")
    p.add_argument("--eval-batch-size", type=in_range(limits.EVAL_BATCH), help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print one JSON document (the run's result)")


def _config(args: argparse.Namespace) -> Any:
    """The TrainConfig: explicit options over the saved config (--resume) or the defaults."""
    import dataclasses

    from resnet_explorer.core.engine import TrainConfig, load_run_config
    from resnet_explorer.core.errors import UserInputError

    given = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
    if args.milestones is not None:
        given["milestones"] = args.milestones
    if args.hflip is not None:
        given["hflip"] = args.hflip
    env_threads = os.environ.get("RESNET_EXPLORER_THREADS", "")
    default_threads = int(env_threads) if env_threads.isdigit() and int(env_threads) > 0 else None
    arch = "plain20,plain56,resnet20,resnet56" if args.compare else args.arch
    command = shlex.join(["resnet-explorer", *getattr(args, "argv", sys.argv[1:])])
    if args.resume and args.overwrite:
        raise UserInputError("--resume and --overwrite exclude each other: continue the run, or start again")
    if args.resume:
        if not args.out and not (arch and args.dataset):
            raise UserInputError("--resume needs --out DIR (or --arch and --dataset for the default DIR)")
        out = args.out or str(TrainConfig(arch=arch, dataset=args.dataset).out_dir())
        base = load_run_config(out)
        if arch:
            given["arch"], given["archs"] = arch, None
        if args.dataset:
            given["dataset"] = args.dataset
        if "threads" not in given and base.threads is None:
            given["threads"] = default_threads
        # The model card keeps the command that started the run; each resume is added to its list.
        return dataclasses.replace(base, **given, out=out, resume=True, command=base.command or command,
                                   resumed_with=(*base.resumed_with, command))
    if not arch or not args.dataset:
        raise UserInputError("--arch (or --compare) and --dataset are required (or --resume --out DIR)")
    given.setdefault("threads", default_threads)
    return TrainConfig(arch=arch, dataset=args.dataset, out=args.out, resume=args.resume,
                       overwrite=args.overwrite, command=command, **given)


@contextlib.contextmanager
def _stop_on_signals(run: Any) -> Iterator[dict[str, bool]]:
    """SIGINT/SIGTERM ask the run to stop (a checkpoint is written); a second Ctrl-C interrupts at once."""
    seen = {"signal": False}

    def handler(signum: int, frame: object) -> None:
        if seen["signal"] and signum == signal.SIGINT:
            raise KeyboardInterrupt
        seen["signal"] = True
        print("\nstopping after this step (Ctrl-C again to abort) ...", file=sys.stderr)
        run.stop()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def passive_openmp() -> None:
    """Let idle OpenMP threads sleep instead of spin, unless the user chose otherwise.

    On a CPU shared with anything else (the GUI, other jobs, a laptop's browser) spinning threads wait
    for descheduled siblings: resnet20 training fell from 123 to 26 images/s with 2 threads on a busy
    2-core machine. libgomp reads the variable once, when torch is first imported, hence here.
    """
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def run(args: argparse.Namespace) -> int:
    """Train as ``args`` say, printing progress (rank 0); the exit status (see the module docstring)."""
    passive_openmp()
    from resnet_explorer.core.distributed import launched_distributed
    from resnet_explorer.core.engine import TrainingRun
    from resnet_explorer.core.training_callbacks import ConsoleOutput

    config = _config(args)
    main_process = int(os.environ.get("RANK", "0")) == 0 or not launched_distributed()
    # Progress is a callback (rank 0 prints); epoch lines go to stdout unless it carries the JSON.
    console = ConsoleOutput(sys.stderr if args.json else sys.stdout, tty=sys.stderr.isatty())
    run_ = TrainingRun(config, callbacks=[console])
    with _stop_on_signals(run_) as seen:
        finished = run_.run()
    if main_process:
        if args.json:
            print(dumps(finished.to_dict()))
        stream = sys.stderr if finished.status == "diverged" or args.json else sys.stdout
        print(printable(finished.message), file=stream)
    if finished.status == "diverged":
        return 1
    return 130 if finished.status == "stopped" and seen["signal"] else 0
