"""Batch-shaped random draws that are identical whether a batch is generated whole or sharded across ranks.

In distributed training every rank holds the same RNG state and generates its strided share (rank, rank + world,
...) of the global batch. Drawing the whole batch's values and keeping that share makes a 2-process run draw
exactly what a 1-process run draws (tested), and keeps the ranks' RNGs in step without communication.
"""

from __future__ import annotations

import torch

_shard = (0, 1)            # (rank, world)


def set_shard(rank: int, world: int) -> None:
    global _shard
    if not 0 <= rank < world:
        raise ValueError(f"rank {rank} outside a world of {world}")
    _shard = (rank, world)


def shard() -> tuple[int, int]:
    return _shard


def _draw(fn, n: int, shape, **kw) -> torch.Tensor:
    rank, world = _shard
    if world == 1:
        return fn((n, *shape), **kw)
    return fn((n * world, *shape), **kw)[rank::world]


def randn(n: int, *shape: int, device=None, dtype=None) -> torch.Tensor:
    """Like torch.randn(n, *shape): this rank's share of the (n * world, *shape) draw."""
    return _draw(torch.randn, n, shape, device=device, dtype=dtype)


def rand(n: int, *shape: int, device=None, dtype=None) -> torch.Tensor:
    return _draw(torch.rand, n, shape, device=device, dtype=dtype)


def randint(high: int, n: int, *shape: int, device=None) -> torch.Tensor:
    return _draw(lambda size, **kw: torch.randint(high, size, **kw), n, shape, device=device)
