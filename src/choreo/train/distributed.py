"""Data parallelism under ``torchrun`` (gloo on CPU, nccl on GPU), and the same code with one process.

Every process holds the full model and computes the loss on its share of the global batch; gradients are
averaged with one all-reduce of a flat buffer after ``backward`` (the arithmetic of DistributedDataParallel,
without its hooks, so a method may leave parameters unused in a step). Parameters are broadcast from rank 0
at the start, so every process starts from the same weights.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from choreo.errors import ChoreoError


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> cuda if available else cpu; ``cuda`` -> this process's GPU."""
    if name not in ("auto", "cpu", "cuda") and not name.startswith("cuda:"):
        raise ChoreoError(f"unknown device {name!r} (cpu, cuda or auto)")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ChoreoError("--device cuda was asked for but no CUDA GPU is available")
        if name == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device(name)
    return torch.device("cpu")


def init_distributed(device: str = "auto") -> DistInfo:
    """Join the process group when started by torchrun (WORLD_SIZE > 1); otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend)
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev)


def shutdown(info: DistInfo) -> None:
    """Leave the process group together: a process that tears gloo down while another still talks to it can
    abort (``terminate called without an active exception``), so every process waits for the others first."""
    if info.distributed and dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if not info.distributed:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Average the gradients of ``params`` over processes.

    A parameter without a gradient on some process counts as zero there; one without a gradient on every
    process keeps ``grad = None`` (as it would with one process, so the optimiser skips it the same way).
    """
    if not info.distributed:
        return
    flag_dev = info.device if info.device.type == "cuda" else torch.device("cpu")
    flags = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=flag_dev)
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    grads = []
    for p, used in zip(params, flags.tolist(), strict=True):
        if not used:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        grads.append(p.grad)
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def average_values(values: list[float], info: DistInfo) -> list[float]:
    """Mean of a list of floats over processes (identity with one process)."""
    if not info.distributed or not values:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=info.device if info.device.type == "cuda" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / info.world_size).tolist()


# ---- differentiable gather (contrastive losses over the global batch; moved from models/align.py) -------------
class _GatherWithGrad(torch.autograd.Function):
    """``all_gather`` whose backward sends every process the summed gradient of its own rows.

    (``torch.distributed.nn.all_gather`` needs reduce-scatter, which gloo lacks: an all-reduce of the full
    gradient followed by taking one's own slice is the same arithmetic.)
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        world, rank = dist.get_world_size(), dist.get_rank()
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous())
        ctx.rank, ctx.n = rank, x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]


def gather_rows(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Every process's rows of ``x`` (n, ...) in rank order, differentiably, and where this process's start.

    With one process (or no process group) ``x`` itself and 0. All processes must hold the same number of rows.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x, 0
    return _GatherWithGrad.apply(x), dist.get_rank() * x.shape[0]


# ---- collectives on plain tensors (the audio codec's EMA codebooks; moved from models/codec.py) ---------------
# The codebooks are buffers updated from each batch, not parameters, so gradient averaging does not reach them:
# their counts and sums are summed over processes and dead-code restarts draw from the gathered global batch, which
# keeps one codebook on every process. Each is the identity with one process or no process group, so the same code
# runs under torchrun and alone.
def _group():
    """``torch.distributed`` when a process group of more than one process is running, else None."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return dist
    return None


def all_sum(t: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of ``t`` over processes (a new tensor; ``t`` itself with one process)."""
    if _group() is None:
        return t
    t = t.clone()
    dist.all_reduce(t)
    return t


def all_max(t: torch.Tensor) -> torch.Tensor:
    """The element-wise maximum of ``t`` over processes (a new tensor; ``t`` itself with one process)."""
    if _group() is None:
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def all_cat(t: torch.Tensor) -> torch.Tensor:
    """Equal-shaped tensors of every process concatenated along dim 0 in rank order: the single-process batch
    order (no gradient; :func:`gather_rows` is the differentiable one)."""
    if _group() is None:
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)
