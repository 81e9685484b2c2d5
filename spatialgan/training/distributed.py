"""Multi-process training on torch.distributed: the process group from torchrun's environment, gradient
all-reduce, and the data shard of each rank.

Every rank starts from the same seed, so all ranks hold the same weights and the same RNG state. Each rank
generates and loads its strided share (rank, rank + world, ...) of the global batch, and per-sample random draws go
through `spatialgan.batchrng`, so a run on N processes computes what one process computes on the whole batch, up to
the order of floating-point sums (tested). Gradients are averaged with one all-reduce per optimizer step over a
flattened buffer (the equivalent of DDP's, which does not see our hook-driven calls to G.map / G.synthesis).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from spatialgan import SpatialGANError, batchrng


@dataclass(frozen=True)
class DistributedContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistributedContext()


def init_from_environment(device_name: str = "auto") -> tuple[DistributedContext, str]:
    """Joins the process group that torchrun describes (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR/PORT): NCCL on
    CUDA, Gloo on CPU. Returns the context and the device name for this rank. Without torchrun: one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE, device_name
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        if torch.cuda.device_count() <= local_rank:
            raise SpatialGANError(f"rank {rank} wants GPU {local_rank}, but this node has "
                                  f"{torch.cuda.device_count()}; use --nproc_per_node <= the GPU count")
        torch.cuda.set_device(local_rank)
        device_name = f"cuda:{local_rank}"
    else:
        device_name = "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    ctx = DistributedContext(rank, world, local_rank)
    batchrng.set_shard(rank, world)
    return ctx, device_name


def shutdown(ctx: DistributedContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
        batchrng.set_shard(0, 1)


def local_batch(global_batch: int, ctx: DistributedContext) -> int:
    if global_batch % ctx.world:
        raise SpatialGANError(f"--batch {global_batch} must be a multiple of the process count {ctx.world}")
    return global_batch // ctx.world


def all_reduce_gradients(params, ctx: DistributedContext) -> None:
    """Averages the gradients of `params` over ranks. A parameter without a gradient on every rank keeps None, so
    Adam skips it as it would in one process (a lazy regularizer does not reach every parameter); one that has a
    gradient on some rank counts as zero where it has none."""
    if not ctx.enabled:
        return
    params = [p for p in params if p.requires_grad]
    has = torch.tensor([p.grad is not None for p in params], dtype=torch.float32,
                       device=params[0].device if params else "cpu")
    dist.all_reduce(has)
    params = [p for p, h in zip(params, has.tolist()) if h > 0]
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def average_running_buffers(module: torch.nn.Module, ctx: DistributedContext, suffix: str = "w_avg") -> None:
    """Averages running statistics that each rank updated from its own samples (the mapping's w_avg). The update
    is a lerp towards the batch mean, so the average over ranks is the update with the global batch mean."""
    if not ctx.enabled:
        return
    for name, buffer in module.named_buffers():
        if name.endswith(suffix):
            dist.all_reduce(buffer)
            buffer /= ctx.world


def mean_over_ranks(value: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    return sum_over_ranks(value, ctx) / ctx.world if ctx.enabled else value


def sum_over_ranks(value: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    if not ctx.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value)
    return value


def any_rank(flag: bool, ctx: DistributedContext, device) -> bool:
    """True on every rank when any rank's flag is set (stop requests: all ranks must stop at the same step)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def barrier(ctx: DistributedContext) -> None:
    if ctx.enabled:
        dist.barrier()


def parameters_in_sync(module: torch.nn.Module, ctx: DistributedContext) -> bool:
    """Whether every rank holds bitwise the same parameters and buffers (compares rank 0's with each rank's)."""
    return tensors_in_sync(module.state_dict().values(), ctx)


def tensors_in_sync(tensors, ctx: DistributedContext) -> bool:
    """Whether every rank holds bitwise the same values in these tensors."""
    if not ctx.enabled:
        return True
    flat = torch.cat([t.detach().double().reshape(-1) for t in tensors])
    reference = flat.clone()
    dist.broadcast(reference, 0)
    same = torch.tensor([float(torch.equal(flat, reference))], device=flat.device)
    dist.all_reduce(same, op=dist.ReduceOp.MIN)
    return bool(same.item() == 1.0)


class ShardedSampler(torch.utils.data.Sampler):
    """This rank's strided share of every global batch of `inner` (an infinite sampler of global positions)."""

    def __init__(self, inner, global_batch: int, ctx: DistributedContext):
        self.inner, self.global_batch, self.ctx = inner, global_batch, ctx

    def __iter__(self):
        for position, item in enumerate(self.inner):
            if (position % self.global_batch) % self.ctx.world == self.ctx.rank:
                yield item


def reduce_stats(means: dict[str, float], ctx: DistributedContext) -> dict[str, float]:
    """Per-tick statistics averaged over the ranks that recorded each one (ranks may record different names)."""
    if not ctx.enabled:
        return means
    gathered: list[dict] = [None] * ctx.world
    dist.all_gather_object(gathered, means)
    names = sorted({k for m in gathered for k in m})
    return {k: sum(m[k] for m in gathered if k in m) / sum(1 for m in gathered if k in m) for k in names}
