"""Distributed training: 2 CPU processes on Gloo, launched by torchrun, against 1 process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from spatialgan import batchrng

from conftest import write_image_folder

TINY = ["--resolution", "8", "--batch", "8", "--width", "16", "--z-dim", "16", "--w-dim", "16",
        "--mapping-layers", "2", "--device", "cpu", "--quiet", "--tick-kimg", "0.008"]


def train(nproc: int, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
                if nproc > 1 else [sys.executable])
    return subprocess.run([*launcher, "-m", "spatialgan", "train", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def losses(run_dir) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k.startswith("Loss/") or k in ("nimg", "pl_mean")} for r in rows
            if "tick" in r]


def augment_p(run_dir) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    return [r["Augment/p"] for r in rows if "tick" in r]


def assert_same_losses(a: list[dict], b: list[dict], rel: float = 1e-4) -> None:
    assert len(a) == len(b) and a
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            assert ra[k] == pytest.approx(rb[k], rel=rel, abs=1e-6), (ra["nimg"], k)


def test_batch_draws_are_the_same_sharded_or_whole():
    torch.manual_seed(0)
    whole = batchrng.randn(8, 3)
    parts = []
    try:
        for rank in (0, 1):
            torch.manual_seed(0)
            batchrng.set_shard(rank, 2)
            parts.append(batchrng.randn(4, 3))
    finally:
        batchrng.set_shard(0, 1)
    torch.testing.assert_close(parts[0], whole[0::2])
    torch.testing.assert_close(parts[1], whole[1::2])
    with pytest.raises(ValueError):
        batchrng.set_shard(2, 2)


def test_sharded_sampler_splits_each_global_batch_by_stride():
    from spatialgan.data.dataset import InfiniteSampler
    from spatialgan.training.distributed import DistributedContext, ShardedSampler

    inner = InfiniteSampler(10, seed=3)
    stream = [x for _, x in zip(range(16), inner)]
    for rank in (0, 1):
        sharded = ShardedSampler(InfiniteSampler(10, seed=3), 8, DistributedContext(rank, 2))
        mine = [x for _, x in zip(range(8), sharded)]
        assert mine == stream[rank::2]


@pytest.mark.slow
def test_two_processes_match_one_process_and_resume(tmp_path):
    data = write_image_folder(tmp_path / "data", count=32, size=10)
    # ADA from p = 0.5 with target 0: p moves on every adjustment, by the sign of the all-reduced statistic.
    augment = ["--augment", "ada", "--augment-p", "0.5", "--ada-target", "0", "--ada-kimg", "0.1"]
    common = ["--data", str(data), *TINY, *augment]
    metrics = ["--metrics", "swd", "--metrics-num", "40"]       # generated on both ranks, gathered on rank 0
    two = train(2, "--outdir", str(tmp_path / "two"), "--kimg", "0.064", "--snap-kimg", "0.032", *metrics, *common)
    # Each snapshot first checks that both ranks hold bitwise the same weights, or the run fails.
    assert two.returncode == 0, two.stderr
    assert "done: 64 images on 2 processes" in two.stdout
    one = train(1, "--outdir", str(tmp_path / "one"), "--kimg", "0.064", "--snap-kimg", "0.032", *metrics, *common)
    assert one.returncode == 0, one.stderr
    rows = [json.loads(line) for line in (tmp_path / "two" / "stats.jsonl").read_text().splitlines()]
    swd = [r["Metrics/swd"] for r in rows if "Metrics/swd" in r]
    assert len(swd) == 2 and all(v > 0 for v in swd)
    # Same global batch and seed: the same losses, up to the order of floating-point sums.
    assert_same_losses(losses(tmp_path / "two"), losses(tmp_path / "one"))
    # One p for both ranks, from the signs of the whole global batch (a rank's own half would move it otherwise).
    assert augment_p(tmp_path / "two") == augment_p(tmp_path / "one")
    assert len(set(augment_p(tmp_path / "one"))) > 1

    # A 2-process run stopped half-way and resumed on 2 processes continues the same run.
    half = train(2, "--outdir", str(tmp_path / "half"), "--kimg", "0.032", "--snap-kimg", "0.032", *common)
    assert half.returncode == 0, half.stderr
    resumed = train(2, "--resume", str(tmp_path / "half"), "--kimg", "0.064", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert "at 32 images" in resumed.stderr
    assert_same_losses(losses(tmp_path / "half"), losses(tmp_path / "two"), rel=1e-6)

    from spatialgan.checkpoint import load_checkpoint
    a = load_checkpoint(tmp_path / "half" / "network-snapshot-000000064.safetensors")
    b = load_checkpoint(tmp_path / "two" / "network-snapshot-000000064.safetensors")
    for key in a["G_ema"]:
        torch.testing.assert_close(a["G_ema"][key], b["G_ema"][key], rtol=0, atol=1e-6)


def test_batch_must_split_evenly_across_processes():
    from spatialgan import SpatialGANError
    from spatialgan.training.distributed import DistributedContext, local_batch

    assert local_batch(8, DistributedContext(1, 2)) == 4
    with pytest.raises(SpatialGANError, match="multiple of the process count 3"):
        local_batch(8, DistributedContext(0, 3))


def _sync_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from spatialgan.training.distributed import DistributedContext, all_reduce_gradients, parameters_in_sync

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    ctx = DistributedContext(rank, world)
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    results = [parameters_in_sync(net, ctx)]
    net.weight.grad = torch.full_like(net.weight, float(rank + 1))     # rank 0: 1, rank 1: 2; bias: no grad
    all_reduce_gradients(net.parameters(), ctx)
    results.append(float(net.weight.grad.mean()))
    results.append(net.bias.grad is None)
    if rank == 1:
        with torch.no_grad():
            net.weight[0, 0] += 1e-6
    results.append(parameters_in_sync(net, ctx))
    # ADA's p from both ranks' signs: rank 0 sees 8 positive logits per step, rank 1 8 negative and 8 positive.
    from spatialgan.training.augment import AdaptiveProbability
    from spatialgan.training.distributed import sum_over_ranks

    ctrl = AdaptiveProbability(p=0.5, target=0.6, ada_kimg=1.0)
    for step in range(4):
        ctrl.accumulate(torch.ones(8) if rank == 0 else torch.cat([-torch.ones(8), torch.ones(8)]))
        ctrl.update(step, 24, reduce_sum=lambda t: sum_over_ranks(t, ctx))
    results.append((ctrl.p, ctrl.last_rt))
    torch.save(results, f"{out}/rank{rank}.pt")
    dist.destroy_process_group()


def test_gradient_average_and_replica_check_on_two_gloo_processes(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_sync_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        in_sync, mean_grad, bias_untouched, after_drift, (p, rt) = torch.load(tmp_path / f"rank{rank}.pt")
        # r_t = (32 + 0) / (32 + 64) = 1/3 < 0.6 on both ranks (rank 0 alone would see 1 and raise p).
        assert rt == pytest.approx(1 / 3) and p == pytest.approx(0.5 - 24 * 4 / 1000)
        assert in_sync and bias_untouched
        assert mean_grad == pytest.approx(1.5)
        assert not after_drift                # one weight off by 1e-6 on one rank is caught on every rank
