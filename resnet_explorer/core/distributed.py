"""Several processes (``torchrun``): detection, process group, and the few collectives the engine needs.

Under ``torchrun --nproc-per-node=N`` each process sees ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and
``MASTER_ADDR``/``MASTER_PORT`` in its environment; the engine then trains with DistributedDataParallel
(gloo on CPU, nccl on CUDA). Without those variables everything here is a no-op for one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` (1 and 0 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints and logs."""
        return self.rank == 0

    def all_sum(self, values: list[float], device: torch.device) -> list[float]:
        """Element-wise sum of ``values`` over all processes."""
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def any_flags(self, flags: list[bool], device: torch.device) -> list[bool]:
        """Element-wise logical OR of ``flags`` over all processes (so every rank takes the same branch)."""
        if not self.enabled:
            return flags
        t = torch.tensor([float(f) for f in flags], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]

    def average_buffers(self, model: torch.nn.Module) -> None:
        """Average floating-point buffers (BatchNorm running stats) so all ranks hold identical models.

        DDP keeps parameters in step, but each rank's BN statistics see only its shard of the batch.
        """
        if not self.enabled:
            return
        for buf in model.buffers():
            if buf.is_floating_point():
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf.div_(self.world_size)

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (small, trusted objects between our own processes only)."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        """Tear down the process group if this context created it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def launched_distributed() -> bool:
    """Whether this process was started by torchrun (or similar) with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); a no-op for one process."""
    if not launched_distributed():
        return DistContext()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timedelta(minutes=10))
        owns = True
    return DistContext(rank=rank, world_size=world, local_rank=local_rank, owns_group=owns)
