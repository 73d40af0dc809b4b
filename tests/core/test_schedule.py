"""What the optimizer really gets at every step: learning rate, SGD settings, batch size, flipped images.

Everything here is read where training happens - ``optimizer.param_groups[0]`` at the moment
``optimizer.step()`` runs (a global step pre-hook) and the batch the model's forward receives - never from
the engine's own ``lr_at``, its events or its config, so a schedule applied one step late or a default lost
between the CLI and the optimizer shows up as the numbers a user's run would really have used.
"""

from __future__ import annotations

import contextlib
import gzip
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from resnet_explorer.cli import main
from resnet_explorer.core import data as data_mod
from resnet_explorer.core import engine
from resnet_explorer.core.engine import IterationEvent, TrainConfig, TrainingRun
from resnet_explorer.core.training_state import read_metrics_csv

# 8x8 synthetic images, batches of 32; --subset 64 gives 2 steps per epoch, so 4 epochs are 8 steps and
# the paper's milestones (50%, 75%) fall exactly on steps 4 and 6.
TINY = ["--dataset", "synthetic", "--image-size", "8", "--batch-size", "32", "--threads", "1"]


@contextlib.contextmanager
def optimizer_steps() -> Iterator[list[dict]]:
    """Every ``optimizer.step()`` of any optimizer: its first param group as that step uses it."""
    seen: list[dict] = []

    def hook(optimizer: torch.optim.Optimizer, _args: object, _kwargs: object) -> None:
        group = optimizer.param_groups[0]
        keys = ("lr", "momentum", "weight_decay", "nesterov", "dampening")
        seen.append({"type": type(optimizer), "groups": len(optimizer.param_groups),
                     **{k: group.get(k) for k in keys}})

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield seen
    finally:
        handle.remove()


def cli_train(tmp_path: Path, *args: str) -> tuple[list[dict], list[dict]]:
    """``resnet-explorer train`` in this process: (every optimizer step, the rows of metrics.csv)."""
    out = tmp_path / "run"
    with optimizer_steps() as steps:
        assert main(["train", "--arch", "resnet20", *TINY, "--out", str(out), *args]) == 0
    return steps, read_metrics_csv(out / "resnet20" / "metrics.csv")


def lrs(steps: list[dict]) -> list[float]:
    return [s["lr"] for s in steps]


def assert_epoch_lr_is_the_last_steps(steps: list[dict], rows: list[dict], steps_per_epoch: int) -> None:
    """metrics.csv's ``lr`` of epoch e is what the optimizer used at e's last step (the file keeps 6
    significant digits)."""
    assert len(steps) == len(rows) * steps_per_epoch
    for row in rows:
        last = steps[int(row["epoch"]) * steps_per_epoch - 1]["lr"]
        assert row["lr"] == pytest.approx(last, rel=1e-5), row


def test_step_schedule_divides_by_ten_exactly_at_half_and_three_quarters(tmp_path):
    steps, rows = cli_train(tmp_path, "--subset", "64", "--epochs", "4")
    # 8 steps: 4 at 0.1; after 4 of 8 (50%) 0.01; after 6 of 8 (75%) 0.001 - not a step earlier or later.
    assert lrs(steps) == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2, rel=1e-9)
    assert_epoch_lr_is_the_last_steps(steps, rows, steps_per_epoch=2)
    assert [r["lr"] for r in rows] == pytest.approx([0.1, 0.1, 0.01, 0.001], rel=1e-5)


def test_milestones_option_moves_the_divisions(tmp_path):
    steps, rows = cli_train(tmp_path, "--subset", "64", "--epochs", "4", "--milestones", "0.25,0.5",
                            "--lr", "0.2")
    assert lrs(steps) == pytest.approx([0.2] * 2 + [0.02] * 2 + [0.002] * 4, rel=1e-9)
    assert_epoch_lr_is_the_last_steps(steps, rows, steps_per_epoch=2)


def test_cosine_schedule_every_step(tmp_path):
    steps, rows = cli_train(tmp_path, "--subset", "64", "--epochs", "3", "--schedule", "cosine")
    total = 6
    expected = [0.05 * (1 + math.cos(math.pi * s / total)) for s in range(total)]
    assert lrs(steps) == pytest.approx(expected, rel=1e-9)
    assert steps[0]["lr"] == pytest.approx(0.1)  # starts at the full rate, then decays every step
    assert all(a > b for a, b in zip(lrs(steps), lrs(steps)[1:], strict=False))
    assert_epoch_lr_is_the_last_steps(steps, rows, steps_per_epoch=2)


def test_constant_schedule_never_changes_the_lr(tmp_path):
    steps, rows = cli_train(tmp_path, "--subset", "64", "--epochs", "4", "--schedule", "constant",
                            "--lr", "0.05")
    assert lrs(steps) == [0.05] * 8
    assert [r["lr"] for r in rows] == [0.05] * 4


def test_sgd_defaults_as_the_optimizer_holds_them(tmp_path, monkeypatch):
    """No recipe option given: SGD with momentum 0.9, weight decay 1e-4, no Nesterov, lr 0.1, batch 128."""
    batches: list[int] = []
    real_build = engine.build_model

    def build_and_watch(*args, **kwargs):
        model = real_build(*args, **kwargs)

        def record(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if module.training:
                batches.append(inputs[0].shape[0])

        model.register_forward_pre_hook(record)
        return model

    monkeypatch.setattr(engine, "build_model", build_and_watch)
    out = tmp_path / "run"
    with optimizer_steps() as steps:
        assert main(["train", "--arch", "resnet20", "--dataset", "synthetic", "--image-size", "8",
                     "--subset", "256", "--epochs", "1", "--threads", "1", "--out", str(out)]) == 0
    assert len(steps) == 2 and batches == [128, 128]  # 256 images in batches of 128
    assert lrs(steps) == [0.1, pytest.approx(0.01)]  # the second of two steps is at 50%: the first /10
    for step in steps:
        assert step["type"] is torch.optim.SGD and step["groups"] == 1
        assert step["momentum"] == 0.9
        assert step["weight_decay"] == 1e-4
        assert step["nesterov"] is False
        assert step["dampening"] == 0


class _Linear(nn.Module):
    """A stand-in for a deep net where only the schedule matters: hundreds of steps in a second."""

    def __init__(self, in_chans: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_chans, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3)))


def _stand_in(name: str, *, num_classes: int, in_chans: int, **_kw: object) -> nn.Module:
    return _Linear(in_chans, num_classes)


def _first_steps(arch: str, n: int, monkeypatch) -> list[float]:
    """The optimizer's lr for the first ``n`` steps of ``arch`` with the default recipe (step schedule)."""
    monkeypatch.setattr(engine, "build_model", _stand_in)
    # 64 steps per epoch, 13 epochs: 832 steps, so the first milestone (416) comes after step 400.
    config = TrainConfig(arch, "synthetic", image_size=8, subset=128, batch_size=2, epochs=13, threads=1,
                         save=False, events_per_second=1e9)
    run = TrainingRun(config)
    with optimizer_steps() as steps:
        for event in run.events():
            if isinstance(event, IterationEvent) and event.global_step >= n:
                run.stop()
    assert len(steps) >= n
    return lrs(steps)[:n]


def test_resnet110_warms_up_at_001_for_exactly_400_iterations(monkeypatch):
    seen = _first_steps("resnet110", 402, monkeypatch)
    assert seen[:400] == [0.01] * 400  # paper 4.2: 0.01 until training error is below 80%, ~400 its
    assert seen[400:] == [0.1, 0.1]


def test_shallower_nets_start_at_the_full_rate(monkeypatch):
    assert _first_steps("resnet56", 3, monkeypatch) == [0.1, 0.1, 0.1]


# ----- flips: never for digits (a mirrored 2 is not a 2), half the time for clothes ----------------------
def _write_idx(path: Path, array: torch.Tensor) -> None:
    magic = bytes([0, 0, 0x08, array.dim()])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(magic + dims + array.numpy().tobytes()))


def _fake_mnist_like(root: Path, name: str, n_train: int = 64, n_test: int = 16) -> torch.Tensor:
    """The four IDX files of ``name`` under ``root/name``: random (so asymmetric) images, never 0."""
    g = torch.Generator().manual_seed(7)
    folder = root / name
    folder.mkdir(parents=True)
    train = torch.randint(1, 256, (n_train, 28, 28), generator=g, dtype=torch.uint8)
    test = torch.randint(1, 256, (n_test, 28, 28), generator=g, dtype=torch.uint8)
    for stem, array in (("train-images-idx3-ubyte", train), ("t10k-images-idx3-ubyte", test),
                        ("train-labels-idx1-ubyte", torch.arange(n_train, dtype=torch.uint8) % 10),
                        ("t10k-labels-idx1-ubyte", torch.arange(n_test, dtype=torch.uint8) % 10)):
        _write_idx(folder / f"{stem}.gz", array)
    return train.unsqueeze(1)


def _trained_inputs(dataset: str, data_dir: Path, monkeypatch) -> list[torch.Tensor]:
    """The batches the model's forward received while training one epoch (default augmentation)."""
    seen: list[torch.Tensor] = []

    def build_and_watch(*args, **kwargs):
        model = _stand_in(*args, **kwargs)  # the network does not matter here, only what it is fed
        model.register_forward_pre_hook(
            lambda module, inputs: seen.append(inputs[0].detach().clone()) if module.training else None)
        return model

    monkeypatch.setattr(engine, "build_model", build_and_watch)
    config = TrainConfig("resnet20", dataset, data_dir=str(data_dir), download=False, batch_size=32, epochs=1,
                         threads=1, save=False)
    events = list(TrainingRun(config).events())
    assert events[-1].status == "completed" and events[0].models == ("resnet20",)
    return seen


def _uncrop(image: torch.Tensor, pad: int) -> torch.Tensor:
    """Undo a pad-``pad`` random crop of an image with no zero pixel: the original where the crop saw it,
    0 where it saw padding. The padding's zero rows and columns tell the crop's offset."""
    _, h, w = image.shape
    canvas = torch.zeros(1, h + 2 * pad, w + 2 * pad, dtype=image.dtype)
    offsets = []
    for used in (image[0].any(dim=1), image[0].any(dim=0)):  # rows, columns that hold image pixels
        first = int(used.int().argmax())
        last = len(used) - 1 - int(used.flip(0).int().argmax())
        offsets.append(pad - first if first else pad + (len(used) - 1 - last))
    oy, ox = offsets
    assert 0 <= oy <= 2 * pad and 0 <= ox <= 2 * pad
    canvas[:, oy:oy + h, ox:ox + w] = image
    return canvas[:, pad:pad + h, pad:pad + w]


def _flipped(batches: list[torch.Tensor], originals: torch.Tensor, pad: int = 4) -> list[bool]:
    """For every image the model trained on: whether it is a (shifted) mirror image of a training image.

    Each one must be exactly one original, mirrored or not, cut from its zero-padded copy at some offset
    (the paper's pad-4 random crop); a match is exact in uint8 after undoing the normalisation.
    """
    mean, std = data_mod.channel_stats(originals)
    candidates = torch.cat([originals, originals.flip(-1)]).flatten(1)  # n originals, then mirrored
    n = originals.shape[0]
    flips = []
    for batch in batches:
        pixels = ((batch.float() * std[0] + mean[0]) * 255).round().to(torch.uint8)
        for image in pixels:
            seen = _uncrop(image, pad).flatten()
            known = seen != 0
            assert known.sum() >= (28 - pad) ** 2
            hits = (candidates[:, known] == seen[known]).all(dim=1).nonzero().flatten().tolist()
            assert len(hits) == 1, f"a trained image matches {len(hits)} candidates"
            flips.append(hits[0] >= n)
    return flips


def test_mnist_digits_are_never_flipped(tmp_path, monkeypatch):
    originals = _fake_mnist_like(tmp_path, "mnist")
    flips = _flipped(_trained_inputs("mnist", tmp_path, monkeypatch), originals)
    assert len(flips) == 64 and not any(flips)


def test_fashion_mnist_images_are_flipped_about_half_the_time(tmp_path, monkeypatch):
    originals = _fake_mnist_like(tmp_path, "fashion-mnist")
    flips = _flipped(_trained_inputs("fashion-mnist", tmp_path, monkeypatch), originals)
    assert len(flips) == 64 and 10 <= sum(flips) <= 54  # p = 0.5: outside this range ~1e-8
