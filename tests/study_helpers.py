"""Tiny networks with their images, for the tests of the explanation studies (lesion, landscape)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F

from resnet_explorer import build_model
from resnet_explorer.core.data import make_synthetic, normalize
from resnet_explorer.core.studies import EvalSet


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One intra-op thread (the test machine's other core is busy), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tiny_eval_set(arch: str = "resnet20", *, seed: int = 0, size: int = 8, n: int = 64,
                  steps: int = 15) -> EvalSet:
    """``arch`` trained for ``steps`` full-batch SGD steps on ``n`` synthetic ``size`` px images (enough
    to move it off chance, so deleting or shifting things changes its loss), with ``n`` test images."""
    torch.manual_seed(seed)
    model = build_model(arch)
    bundle = make_synthetic(n_train=n, n_test=n, size=size)
    mean = torch.tensor(bundle.mean).view(1, 3, 1, 1)
    std = torch.tensor(bundle.std).view(1, 3, 1, 1)
    x, y = normalize(bundle.train.images, mean, std), bundle.train.labels
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
    return EvalSet(model.eval(), bundle.test, mean, std, model_id=arch, dataset="synthetic")


def state_copy(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer, cloned."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_state(model: torch.nn.Module, saved: dict[str, torch.Tensor]) -> bool:
    """Whether every parameter and buffer is bit-for-bit as saved."""
    now = model.state_dict()
    return now.keys() == saved.keys() and all(torch.equal(now[k], saved[k]) for k in saved)
