"""Activation memory of one training step, phase by phase, measured on the CPU: the bytes autograd holds for
backward (what fills a GPU's memory) and the largest live set, for our models and for StyleGAN2-ADA's own code.

    python benchmarks/memory.py --resolution 256 --models stylegan2,ssn,cips,scaleparty \
        [--stylegan2-ada PATH_TO_CHECKOUT] [--json benchmarks/results/memory-256.json]

Saved bytes: every tensor packed by autograd (torch.autograd.graph.saved_tensors_hooks, double-backward graphs of
R1 and path length included) counted once per storage while a graph node holds it (weights and buffers excluded),
summed when a phase calls backward(): retained graphs and graphs kept alive across phases count too ("carried":
what was saved before the previous backward call and is still held). A phase with
several backward calls (D main: fakes, then reals) reports the largest. Live set: every storage created under a
TorchDispatchMode, until the storage dies; the peak within the phase over what was live at its start. Per image:
divided by the step's batch (path length: by its shrunk batch). StyleGAN2-ADA's bias_act and upfirdn2d run their
PyTorch reference code on the CPU; the bytes saved only inside them are reported apart, with an estimate of what
its fused CUDA kernels would hold instead (bias_act keeps its output y for lrelu; upfirdn2d only the filter).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import types
import weakref
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

PAPER256 = dict(channel_base=16384, width=512, z_dim=512, w_dim=512, mapping_layers=8, batch=4)


class LiveSet(TorchDispatchMode):
    """Bytes of every storage created by an op while active, until the storage is freed; tracks the peak."""

    def __init__(self):
        super().__init__()
        self.live, self.peak, self.seen = 0, 0, set()

    def _free(self, key, nbytes):
        self.seen.discard(key)
        self.live -= nbytes

    def __torch_dispatch__(self, func, types_, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (list, tuple)) else (out,):
            if isinstance(t, torch.Tensor) and t.device.type == "cpu":
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key and key not in self.seen:
                    self.seen.add(key)
                    self.live += storage.nbytes()
                    weakref.finalize(storage, self._free, key, storage.nbytes())
        self.peak = max(self.peak, self.live)
        return out


class _Held:
    """What autograd keeps in place of a saved tensor: it lives exactly as long as the graph node that saved it."""

    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor):
        self.tensor = tensor


class PhaseMeter:
    """Bytes held for backward (and live-set peaks) at each backward() call, grouped into named phases."""

    def __init__(self, modules, batch: int):
        self.exclude = {t.untyped_storage().data_ptr() for m in modules for t in [*m.parameters(), *m.buffers()]}
        self.batch = batch
        self.held: dict[int, dict] = {}           # storage -> {"bytes", "plain": holders, "reference": holders}
        self.in_reference_op = 0
        self.fused_outputs: dict[int, int] = {}    # storages a fused kernel would keep (StyleGAN2-ADA's bias_act y)
        self.calls: list[dict] = []
        self.live = LiveSet()
        self.start_live = 0

    def pack(self, t: torch.Tensor):
        storage = t.untyped_storage()
        key = storage.data_ptr()
        if not key or key in self.exclude:
            return t
        kind = "reference" if self.in_reference_op else "plain"
        entry = self.held.setdefault(key, {"bytes": storage.nbytes(), "plain": 0, "reference": 0,
                                           "call": len(self.calls)})
        entry[kind] += 1
        holder = _Held(t)
        weakref.finalize(holder, self._release, key, kind)
        return holder

    def _release(self, key: int, kind: str) -> None:
        entry = self.held[key]
        entry[kind] -= 1
        if entry["plain"] == entry["reference"] == 0:
            del self.held[key]

    def note_fused_output(self, y: torch.Tensor) -> None:
        storage = y.untyped_storage()
        key = storage.data_ptr()
        self.fused_outputs[key] = storage.nbytes()
        weakref.finalize(storage, self.fused_outputs.pop, key, None)

    def close_call(self) -> None:
        """At a backward(): what every graph alive holds now (retained graphs included)."""
        plain = sum(e["bytes"] for e in self.held.values() if e["plain"])
        only_reference = sum(e["bytes"] for e in self.held.values() if e["reference"] and not e["plain"])
        kept_by_kernels = sum(v for k, v in self.fused_outputs.items()
                              if not (k in self.held and self.held[k]["plain"]))
        carried = sum(e["bytes"] for e in self.held.values() if e["call"] < len(self.calls))
        cuda_peak = {}
        if torch.cuda.is_available():        # on a GPU: the allocator's own peak since the previous call
            cuda_peak = {"cuda_peak": torch.cuda.max_memory_allocated()}
            torch.cuda.reset_peak_memory_stats()
        self.calls.append({"saved": plain + only_reference, "reference_ops": only_reference,
                           "fused_estimate": plain + kept_by_kernels, "live_peak": self.live.peak - self.start_live,
                           "carried": carried, **cuda_peak})

    def start_phase_window(self) -> None:
        self.live.peak = self.start_live = self.live.live

    @contextlib.contextmanager
    def active(self):
        original = torch.Tensor.backward

        def backward(tensor, *args, **kwargs):
            self.close_call()
            original(tensor, *args, **kwargs)
            self.start_phase_window()

        torch.Tensor.backward = backward
        try:
            unpack = lambda x: x.tensor if isinstance(x, _Held) else x       # noqa: E731
            with torch.autograd.graph.saved_tensors_hooks(self.pack, unpack), self.live:
                self.start_phase_window()
                yield self
        finally:
            torch.Tensor.backward = original

    def phases(self, names_and_batches: list[tuple[str, int, int]]) -> list[dict]:
        """[(name, number of backward calls, images)] -> per-phase figures, the largest call of each phase."""
        out, i = [], 0
        for name, count, images in names_and_batches:
            calls = self.calls[i:i + count]
            i += count
            out.append({"phase": name, "images": images,
                        **{key: max(c[key] for c in calls) / images for key in calls[0] if key != "cuda_peak"},
                        **({"cuda_peak": max(c["cuda_peak"] for c in calls)} if "cuda_peak" in calls[0] else {})})
        if i != len(self.calls):
            raise RuntimeError(f"expected {i} backward calls, measured {len(self.calls)}")
        return out


# ----------------------------------------------------------------------------- ours
def our_config(model: str, resolution: int, tmp: Path, device: str = "cpu", batch: int | None = None):
    from spatialgan.config import TrainConfig

    extra = {"cips": {"patch_size": min(64, resolution)}, "ssn": {}, "scaleparty": {}, "stylegan2": {}}[model]
    return TrainConfig(model=model, resolution=resolution, recipe="paper", augment="none", device=device,
                       outdir=str(tmp / model), amp="off", **{**PAPER256, "batch": batch or PAPER256["batch"]},
                       **extra)


def measure_ours(model: str, resolution: int, tmp: Path, device: str = "cpu", batch: int | None = None
                 ) -> list[dict]:
    from spatialgan.training.loop import Trainer

    cfg = our_config(model, resolution, tmp, device, batch)
    trainer = Trainer(cfg)
    reals = torch.rand(cfg.batch, 3, resolution, resolution, device=trainer.device) * 2 - 1
    meter = PhaseMeter([trainer.G, trainer.D, trainer.G_ema], cfg.batch)
    requests, sample_request = [], trainer.hooks.sample_request

    def logged(batch, device):             # what each phase rendered (ScaleParty: its size and pairs)
        request = sample_request(batch, device)
        requests.append({"batch": batch, **{k: request[k] for k in ("size", "partner_size") if k in request},
                         "pairs": len(request.get("pair_index", ()))})
        return request

    trainer.hooks.sample_request = logged
    with meter.active():
        trainer.train_step(reals)
    print(f"{model} requests (G main, [path length], D main): {requests}", flush=True)
    names = [("G main", 1, cfg.batch)]
    if cfg.pl_weight > 0:
        names.append(("G path length", 1, max(1, cfg.batch // cfg.pl_batch_shrink)))
    names.append(("D main", 2, cfg.batch))            # fakes, then reals
    if cfg.gamma > 0:
        names.append(("D R1", 1, cfg.batch))
    return meter.phases(names)


# ----------------------------------------------------------------------------- StyleGAN2-ADA
def _import_stylegan2_ada(repo: Path):
    sys.modules.setdefault("requests", types.ModuleType("requests"))     # dnnlib imports it for downloads only
    sys.path.insert(0, str(repo))
    from torch_utils.ops import bias_act, upfirdn2d
    from training import loss, networks

    return networks, loss, bias_act, upfirdn2d


def _count_reference_ops(meter: PhaseMeter, bias_act, upfirdn2d) -> None:
    """Tags what their reference bias_act/upfirdn2d save, and notes the bias_act outputs a CUDA kernel would keep."""
    ref_bias_act, ref_upfirdn2d = bias_act._bias_act_ref, upfirdn2d._upfirdn2d_ref

    def tagged_bias_act(x, *args, act="linear", **kwargs):
        meter.in_reference_op += 1
        try:
            y = ref_bias_act(x, *args, act=act, **kwargs)
        finally:
            meter.in_reference_op -= 1
        if act != "linear" and torch.is_grad_enabled() and y.requires_grad:
            meter.note_fused_output(y)
        return y

    def tagged_upfirdn2d(*args, **kwargs):
        meter.in_reference_op += 1
        try:
            return ref_upfirdn2d(*args, **kwargs)
        finally:
            meter.in_reference_op -= 1

    bias_act._bias_act_ref, upfirdn2d._upfirdn2d_ref = tagged_bias_act, tagged_upfirdn2d


def measure_stylegan2_ada(repo: Path, resolution: int) -> list[dict]:
    networks, loss_module, bias_act, upfirdn2d = _import_stylegan2_ada(repo)
    kw = PAPER256
    common = dict(channel_base=kw["channel_base"], channel_max=kw["width"], num_fp16_res=0, conv_clamp=None)
    G = networks.Generator(z_dim=kw["z_dim"], c_dim=0, w_dim=kw["w_dim"], img_resolution=resolution, img_channels=3,
                           mapping_kwargs=dict(num_layers=kw["mapping_layers"]), synthesis_kwargs=common).train()
    D = networks.Discriminator(c_dim=0, img_resolution=resolution, img_channels=3, epilogue_kwargs=dict(
        mbstd_group_size=4), **common).train()
    loss = loss_module.StyleGAN2Loss(torch.device("cpu"), G.mapping, G.synthesis, D, r1_gamma=10, pl_weight=2,
                                     style_mixing_prob=0.9)
    batch = kw["batch"]
    reals = torch.rand(batch, 3, resolution, resolution) * 2 - 1
    c = torch.zeros(batch, 0)
    meter = PhaseMeter([G, D], batch)
    _count_reference_ops(meter, bias_act, upfirdn2d)
    with meter.active():
        for phase, module in (("Gmain", G), ("Greg", G), ("Dmain", D), ("Dreg", D)):
            G.requires_grad_(module is G)
            D.requires_grad_(module is D)
            z = torch.randn(batch, kw["z_dim"])
            loss.accumulate_gradients(phase, reals, c, z, c, sync=True, gain=1)
    sys.path.remove(str(repo))
    return meter.phases([("G main", 1, batch), ("G path length", 1, batch // 2), ("D main", 2, batch),
                         ("D R1", 1, batch)])


# ----------------------------------------------------------------------------- report
def table(results: dict) -> str:
    mib = 2 ** 20
    lines = ["| code | phase | saved MiB/img | live peak MiB/img | in reference ops MiB/img | fused estimate MiB/img |",
             "|---|---|---|---|---|---|"]
    for name, phases in results.items():
        for p in phases:
            ref = f"{p['reference_ops'] / mib:.1f}" if name == "stylegan2-ada" else "-"
            fused = f"{p['fused_estimate'] / mib:.1f}" if name == "stylegan2-ada" else "-"
            lines.append(f"| {name} | {p['phase']} | {p['saved'] / mib:.1f} | {p['live_peak'] / mib:.1f} | {ref} | "
                         f"{fused} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--models", default="stylegan2,ssn,cips,scaleparty")
    parser.add_argument("--stylegan2-ada", type=Path, default=None, help="NVlabs/stylegan2-ada-pytorch checkout")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--device", default="cpu", help="cuda: also the allocator's peak per phase (whole batch)")
    parser.add_argument("--batch", type=int, default=None, help="default 4 (paper256 on the CPU); 32 on a GPU")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.stylegan2_ada:
            results["stylegan2-ada"] = measure_stylegan2_ada(args.stylegan2_ada, args.resolution)
            print(table({"stylegan2-ada": results["stylegan2-ada"]}), flush=True)
        for model in [m for m in args.models.split(",") if m]:
            results[model] = measure_ours(model, args.resolution, Path(tmp), args.device, args.batch)
            print(table({model: results[model]}), flush=True)
    print(table(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"resolution": args.resolution, "config": PAPER256, "results": results},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
