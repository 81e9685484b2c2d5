"""The training loop shared by every model: G main / path length / D main / R1 phases, EMA, ticks, snapshots."""

from __future__ import annotations

import copy
import signal
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from spatialgan import SpatialGANError, __version__
from spatialgan.autocast import autocast, config_key, median_seconds, use_bf16
from spatialgan.checkpoint import find_snapshots, load_checkpoint, save_checkpoint, snapshot_name
from spatialgan.config import TrainConfig, default_ema_kimg
from spatialgan.core.layers.precision import set_fp16_resolutions
from spatialgan.core.losses import (
    discriminator_fake_loss,
    discriminator_real_loss,
    generator_loss,
    lazy_adam_hyperparameters,
    path_length_penalty,
    r1_penalty,
)
from spatialgan.data.dataset import ImageDataset, InfiniteSampler
from spatialgan.imageutils import from_uint8, save_grid
from spatialgan.registry import get_model, make_adapter
from spatialgan.runtime import keep_freed_memory, resolve_device
from spatialgan.training import runfolder
from spatialgan.training.augment import Augmenter
from spatialgan.training.distributed import (
    SINGLE,
    DistributedContext,
    ShardedSampler,
    all_reduce_gradients,
    any_rank,
    average_running_buffers,
    barrier,
    local_batch,
    mean_over_ranks,
    parameters_in_sync,
    reduce_stats,
    sum_over_ranks,
    tensors_in_sync,
)
from spatialgan.training.ema import ema_beta, update_ema
from spatialgan.training.stats import StatCollector, StatsLogger

PROGRESS_FIELDS = frozenset({"cur_nimg", "step", "tick", "tick_start_nimg", "last_snap_nimg"})


def seconds_per_step(cfg: TrainConfig, device: torch.device, bf16: bool, batch: int, steps: int = 3) -> float:
    """Median seconds of a main training step (no regularizer step) of a throwaway trainer, in one precision;
    the caller's random state is left as it was."""
    values = {**cfg.to_dict(), "amp": "bf16" if bf16 else "off", "init_from": None, "metrics": "", "batch": batch}
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        trainer = Trainer(TrainConfig.from_dict(values), device)
        reals = torch.rand(batch, 3, cfg.resolution, cfg.resolution, device=device) * 2 - 1
        # The untimed warm-up is step 0, the one that also runs R1 and path length.
        return median_seconds(lambda: trainer.train_step(reals), device, steps)


class CompiledGenerator:
    """A generator whose map and synthesis run through torch.compile; every other attribute is the module's own,
    so hooks use it like the generator. Used where no double backward is needed (the main G and D phases)."""

    def __init__(self, G: torch.nn.Module):
        self._module = G
        for name in ("map", "synthesize"):
            if hasattr(G, name):
                setattr(self, name, torch.compile(getattr(G, name)))

    def __getattr__(self, name):
        return getattr(self._module, name)


class Trainer:
    """Owns the networks, optimizers and progress of one run; `train_step` is one iteration of all phases."""

    def __init__(self, config: TrainConfig, device: torch.device | None = None, initialize: bool = True,
                 dist: DistributedContext = SINGLE):
        self.cfg = config
        self.dist = dist
        self.local_batch = local_batch(config.batch, dist)
        self.device = device or resolve_device(config.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        spec = get_model(config.model)
        torch.manual_seed(config.seed)
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.G = spec.build_generator(config).to(self.device, memory_format=self.memory_format).train()
        self.D = spec.build_discriminator(config).to(self.device, memory_format=self.memory_format).train()
        if config.init_from and initialize:
            self._initialize_from(config.init_from)
        if config.ema_kimg is None:                 # --init-from without its weights: the usual default
            config.ema_kimg = default_ema_kimg(config.batch)
        if config.fp16_res:
            set_fp16_resolutions(self.G, self.D, config.fp16_res)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        if config.init_from and initialize:
            self.G_ema.load_state_dict(self._init_state["G_ema"], strict=False)
            del self._init_state
        self.spec = spec
        self.hooks = spec.hooks(config)
        self.adapter = make_adapter(spec, self.G_ema, config)      # grids and metrics see G_ema as tools do
        betas = (config.beta1, config.beta2)
        g_interval = config.g_adam_interval or (config.pl_interval if config.pl_weight else 0)
        lr_g, betas_g = lazy_adam_hyperparameters(config.lr, betas, g_interval)
        lr_d, betas_d = lazy_adam_hyperparameters(config.lr, betas, config.r1_interval if config.gamma else 0)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=betas_g, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=betas_d, eps=1e-8)
        self.pl_mean = torch.zeros([], device=self.device)
        self.cur_nimg = 0
        self.run_id: str | None = None          # set when the run claims its folder (or from the checkpoint)
        self.resumed: runfolder.Resume | None = None     # the checkpoint this run was resumed from
        self.stopped_by = None                   # the signal that stopped `run` early, if any
        self.step = 0
        self.tick = 0
        self.tick_start_nimg = 0
        self.last_snap_nimg = 0
        self.stats = StatCollector()
        self.augment = Augmenter(config)         # every image D sees goes through it (reals, fakes, R1's reals)
        self.amp = self._choose_precision()      # bf16 autocast for the main G and D phases
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True      # fixed shapes per phase: let cuDNN pick its fastest kernels
        # torch.compile cannot differentiate twice, so R1 and path length use the eager modules (same weights).
        self.G_fast = CompiledGenerator(self.G) if config.compile else self.G
        self.D_fast = torch.compile(self.D) if config.compile else self.D
        self._extractor = None

    def _initialize_from(self, path) -> None:
        """Transfer learning (SSN's recipe): start G (and D, from our own checkpoints) from a trained StyleGAN2 or
        any model with the same layer names; SSN's layers have StyleGAN2's names, so the weights carry over."""
        from spatialgan.checkpoint import copy_matching as transfer_weights
        from spatialgan.training.transfer import check_transfer, load_generator_weights, source_ema_kimg

        self._init_state = load_generator_weights(path)
        check_transfer(path, self._init_state, self.cfg)
        if self.cfg.ema_kimg is None:             # keep averaging at the source's pace (its G_ema is kept too)
            self.cfg.ema_kimg = source_ema_kimg(self._init_state)
        clamp = self._init_state["config"].get("conv_clamp")
        if clamp is not None and self.cfg.conv_clamp is None:    # StyleGAN2-ADA clamps in fp32 too: keep its maths
            self.cfg.conv_clamp = clamp
            self.G.synthesis.set_conv_clamp(clamp)
        missing = transfer_weights(self.G, self._init_state["G"], "G")
        if self._init_state["D"] is not None:
            transfer_weights(self.D, self._init_state["D"], "D")
        if missing:
            print(f"init-from {path}: {len(missing)} generator entries kept their initialisation "
                  f"({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})", file=sys.stderr)

    # ----------------------------------------------------------------- one iteration
    def _autocast(self):
        return autocast(self.device, self.amp)

    def _choose_precision(self) -> bool:
        """--amp: bf16 on request, or (auto) where a probe of this configuration measured it faster."""
        if self.cfg.fp16_res:
            return False                          # float16 blocks are their own mixed precision
        bf16 = use_bf16(self.cfg.amp, self.device, config_key("train", self.cfg, self.local_batch),
                        lambda amp: seconds_per_step(self.cfg, self.device, amp, self.local_batch))
        if self.dist.enabled:                     # every rank runs the same precision
            bf16 = not any_rank(not bf16, self.dist, self.device)
        return bf16

    def train_step(self, reals: torch.Tensor) -> None:
        """One iteration on a batch of real images in [-1, 1]: G, lazy PL, D, lazy R1, EMA. Each phase is its own
        method, so that nothing one phase built (a graph, a partner render) is still held while the next runs."""
        cfg, batch = self.cfg, reals.shape[0]      # this rank's share of the global batch
        reals = reals.contiguous(memory_format=self.memory_format)
        self.D.requires_grad_(False)
        self._generator_phase(batch)
        if cfg.pl_weight > 0 and self.step % cfg.pl_interval == 0:
            self._path_length_phase(max(1, batch // cfg.pl_batch_shrink))
        self.D.requires_grad_(True)
        reals = self._discriminator_phase(reals)
        if cfg.gamma > 0 and self.step % cfg.r1_interval == 0:
            self._r1_phase(reals)
        self.cur_nimg += batch * self.dist.world
        if self.augment.controller is not None:
            self.augment.controller.update(self.step, batch * self.dist.world, self._sum_over_ranks)
        self.step += 1
        update_ema(self.G_ema, self.G, ema_beta(batch * self.dist.world, cfg.ema_kimg, self.cur_nimg,
                                                cfg.ema_rampup))

    def _generator_phase(self, batch: int) -> None:
        """Non-saturating loss plus the model's own regularizers."""
        hooks, G = self.hooks, self.G
        request = hooks.sample_request(batch, self.device)
        with self._autocast():
            fakes, ws = hooks.generate(self.G_fast, request, update_w_avg=True)
            fake_logits = self._discriminate(self.augment(hooks.discriminator_input(fakes, request)))
        loss = generator_loss(fake_logits.float())
        self.stats.add("Loss/G/loss", loss)
        for name, value in hooks.generator_regularizers(G, self.D, request, fakes, ws, self.step).items():
            self.stats.add(f"Loss/{name}", value)
            loss = loss + value
        self.opt_G.zero_grad(set_to_none=True)
        loss.backward()
        self._step_optimizer(self.opt_G, G)
        average_running_buffers(G, self.dist)

    def _path_length_phase(self, batch: int) -> None:
        """Lazy path-length regularization on a smaller batch."""
        cfg = self.cfg
        request = self.hooks.regularizer_request(batch, self.device)
        fakes, ws = self.hooks.generate(self.G, request)
        penalty, lengths, self.pl_mean = path_length_penalty(fakes, ws, self.pl_mean, cfg.pl_decay,
                                                             lambda t: mean_over_ranks(t, self.dist))
        self.stats.add("Loss/pl_penalty", penalty.mean())
        self.stats.add("Loss/pl_length", lengths.mean())
        self.opt_G.zero_grad(set_to_none=True)
        (penalty.mean() * cfg.pl_weight * cfg.pl_interval).backward()
        self._step_optimizer(self.opt_G, self.G)

    def _discriminator_phase(self, reals: torch.Tensor):
        """Logistic loss on fresh fakes and the (request-matched) reals; returns the reals as D saw them (R1's).
        Fakes' and reals' halves are backpropagated one after the other (gradients accumulate, the same sum): the
        fakes' graph is freed before the reals' is built, as StyleGAN2-ADA does (half the memory)."""
        hooks = self.hooks
        request = hooks.sample_request(reals.shape[0], self.device)
        reals = hooks.prepare_reals(reals, request)
        with torch.no_grad(), self._autocast():
            fakes, _ = hooks.generate(self.G_fast, request, update_w_avg=False)
            fakes = self.augment(hooks.discriminator_input(fakes, request))
        self.opt_D.zero_grad(set_to_none=True)
        with self._autocast():
            fake_logits = self._discriminate(fakes)
        fake_loss = discriminator_fake_loss(fake_logits.float())
        fake_loss.backward()
        with self._autocast():
            real_logits = self._discriminate(self.augment(reals))   # a list too: ScaleParty's reals at both sizes
        self.augment.observe_reals(real_logits)
        real_loss = discriminator_real_loss(real_logits.float())
        real_loss.backward()
        self.stats.add("Loss/D/loss", fake_loss.detach() + real_loss.detach())
        self.stats.add("Loss/scores/fake", fake_logits.detach())
        self.stats.add("Loss/scores/real", real_logits.detach())
        self._step_optimizer(self.opt_D, self.D)
        return reals

    def _r1_phase(self, reals) -> None:
        """Lazy R1 on the same reals, augmented afresh as in ADA: the gradient is taken through the augmentation."""
        penalty = self._r1(reals)
        self.stats.add("Loss/r1_penalty", penalty.mean())
        self.opt_D.zero_grad(set_to_none=True)
        (penalty.mean() * (self.cfg.gamma / 2) * self.cfg.r1_interval).backward()
        self._step_optimizer(self.opt_D, self.D)

    def _r1(self, reals) -> torch.Tensor:
        """Per-sample R1 of D at the reals (each batch of a list: ScaleParty's two sizes)."""
        if isinstance(reals, (list, tuple)):
            return torch.cat([self._r1(x) for x in reals])
        reals = reals.detach().requires_grad_(True)
        return r1_penalty(reals, self.D(self.augment(reals)), self.hooks.r1_channels())

    def _sum_over_ranks(self, totals: torch.Tensor) -> torch.Tensor:
        return sum_over_ranks(totals.to(self.device), self.dist).cpu()

    def _discriminate(self, images) -> torch.Tensor:
        if isinstance(images, (list, tuple)):               # batches of different sizes (ScaleParty's pairs)
            return torch.cat([self.D_fast(x.contiguous(memory_format=self.memory_format)) for x in images])
        return self.D_fast(images)

    def _step_optimizer(self, opt: torch.optim.Optimizer, module: torch.nn.Module) -> None:
        all_reduce_gradients(module.parameters(), self.dist)
        # Non-finite gradient guard (StyleGAN2-ADA): replace NaN/Inf so one bad batch cannot poison Adam.
        for p in module.parameters():
            if p.grad is not None:
                torch.nan_to_num_(p.grad, nan=0.0, posinf=1e5, neginf=-1e5)
        opt.step()

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        rng = {"torch_cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["torch_cuda"] = torch.cuda.get_rng_state_all()
        return {
            "spatialgan_version": __version__,
            "config": self.cfg.to_dict(),
            "progress": {"cur_nimg": self.cur_nimg, "step": self.step, "tick": self.tick,
                         "tick_start_nimg": self.tick_start_nimg, "last_snap_nimg": self.last_snap_nimg},
            "G": self.G.state_dict(), "G_ema": self.G_ema.state_dict(), "D": self.D.state_dict(),
            "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
            "pl_mean": self.pl_mean, "rng": rng, "run_id": self.run_id, "augment": self.augment.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        if not all(k in state for k in ("G", "D", "opt_G", "opt_D", "progress", "rng")):
            raise SpatialGANError("this checkpoint holds a generator only (no discriminator or optimizer state), so "
                                  "it cannot be resumed; start a new run from it with --init-from")
        try:
            self.G.load_state_dict(state["G"])
            self.G_ema.load_state_dict(state["G_ema"])
            self.D.load_state_dict(state["D"])
            self.opt_G.load_state_dict(state["opt_G"])
            self.opt_D.load_state_dict(state["opt_D"])
        except (KeyError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
            raise SpatialGANError(f"checkpoint does not match the model configuration: {str(exc)[:300]}") from None
        self._load_progress(state)

    def _load_progress(self, state: dict) -> None:
        """Counters, run id, p, path-length mean and RNG, each type-checked (a forged file gets one error line)."""
        progress, rng, run_id = state["progress"], state["rng"], state.get("run_id")
        valid = (isinstance(progress, dict) and set(progress) <= PROGRESS_FIELDS
                 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in progress.values())
                 and isinstance(rng, dict) and isinstance(rng.get("torch_cpu"), torch.Tensor)
                 and rng["torch_cpu"].dtype == torch.uint8 and isinstance(state["pl_mean"], torch.Tensor)
                 and state["pl_mean"].numel() == 1 and (run_id is None or isinstance(run_id, str))
                 and isinstance(state.get("augment") or {}, dict))
        if not valid:
            raise SpatialGANError("checkpoint has malformed progress, RNG or run fields")
        self.run_id = run_id
        self.augment.load_state_dict(state.get("augment") or {})    # older checkpoints: p starts at --augment-p
        self.pl_mean = state["pl_mean"].float().reshape(()).to(self.device)
        for k, v in progress.items():
            setattr(self, k, v)
        try:
            torch.set_rng_state(rng["torch_cpu"])
            if "torch_cuda" in rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(rng["torch_cuda"])
        except (RuntimeError, TypeError, ValueError):
            raise SpatialGANError("checkpoint has a malformed RNG state") from None

    @classmethod
    def from_checkpoint(cls, path, overrides: dict | None = None, dist: DistributedContext = SINGLE,
                        device: torch.device | None = None) -> "Trainer":
        state = load_checkpoint(path)
        if not isinstance(state.get("config"), dict):
            raise SpatialGANError(f"{path} holds no run configuration")
        values = dict(state["config"])
        values.update(overrides or {})
        # initialize=False: the checkpoint has all weights, so --init-from is not read again.
        trainer = cls(TrainConfig.from_dict(values), device, initialize=False, dist=dist)
        trainer.load_state_dict(state)
        trainer.resumed = runfolder.Resume(path, trainer.cur_nimg,
                                           runfolder.changed_options(state["config"], overrides or {}))
        return trainer

    # ----------------------------------------------------------------- the run
    def save_snapshot(self) -> Path:
        outdir = Path(self.cfg.outdir)
        path = save_checkpoint(outdir / snapshot_name(self.cur_nimg), self.state_dict())
        save_grid(self.sample_grid(), outdir / f"fakes{self.cur_nimg:09d}.png")
        if self.cfg.keep > 0:
            for old in find_snapshots(outdir)[:-self.cfg.keep]:
                old.unlink(missing_ok=True)
        return path

    def grid_latents(self) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.cfg.seed + 12345)
        n = self.cfg.grid if self.cfg.resolution <= 128 else min(self.cfg.grid, 16)
        return torch.randn(n, *self.adapter.latent_shape(), generator=g)

    def sample_grid(self) -> torch.Tensor:
        z = self.grid_latents().to(self.device)
        return torch.cat([self.adapter.sample(chunk) for chunk in z.split(16)])

    def make_loader(self, dataset: ImageDataset):
        workers = self.cfg.workers if self.cfg.workers is not None else (3 if self.device.type == "cuda" else 0)
        sampler = InfiniteSampler(len(dataset), seed=self.cfg.seed, start=self.cur_nimg)
        if self.dist.enabled:
            sampler = ShardedSampler(sampler, self.cfg.batch, self.dist)
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.local_batch, sampler=sampler, num_workers=workers, drop_last=True,
            pin_memory=self.device.type == "cuda", generator=torch.Generator().manual_seed(self.cfg.seed),
            persistent_workers=False)

    def run(self, dataset: ImageDataset | None = None, progress: bool = True) -> dict:
        """Trains until cfg.kimg; SIGINT/SIGTERM save a snapshot before exiting. Returns the last tick's stats."""
        cfg, main = self.cfg, self.dist.is_main
        outdir = Path(cfg.outdir)
        if self.resumed is not None and self.cur_nimg >= int(cfg.kimg * 1000):
            # A finished run resumed to the same length: leave its folder exactly as it is (no log, no files).
            if main:
                print(f"{outdir} is already at {self.cur_nimg} images (--kimg {cfg.kimg:g}): nothing to train",
                      file=sys.stderr)
            return {}
        if main:
            if self.run_id is None and self.resumed is None:
                self.run_id = runfolder.new_run_id()             # a new run
            self.run_id = runfolder.claim(outdir, self.run_id, self.resumed)
            runfolder.remove_orphan_temporaries(outdir)
        dataset = dataset or ImageDataset(cfg.data, self.hooks.real_resolution(), crop=cfg.crop, xflip=cfg.xflip,
                                          allow_upscale=self.hooks.allow_upscaled_reals())
        dataset.load(0)                 # a dataset that cannot serve this run fails here, with its reason
        batches = iter(self.make_loader(dataset))
        self.feature_extractor()
        if self.cur_nimg == 0 and main:
            first = torch.stack([dataset[i] for i in range(min(len(dataset), 64))])
            save_grid(from_uint8(first), outdir / "reals.png")
        logger = StatsLogger(outdir, resume_nimg=self.cur_nimg, run_id=self.run_id) if main else None
        total_nimg = int(cfg.kimg * 1000)
        stop = {"signal": None}
        old_handlers = _install_stop_handlers(stop)
        bar = tqdm(total=total_nimg, initial=min(self.cur_nimg, total_nimg), unit="img",
                   disable=not (progress and main), dynamic_ncols=True, file=sys.stderr)
        tick_start_time, record = time.time(), {}
        try:
            # The loop ends only through `done`, decided from the ranks' common answer: a signal that lands
            # anywhere in an iteration is seen at the next check, which always ends in a snapshot.
            while self.cur_nimg < total_nimg:
                reals = from_uint8(next(batches).to(self.device, non_blocking=True))
                self.train_step(reals)
                bar.update(cfg.batch)
                stopping = any_rank(stop["signal"] is not None, self.dist, self.device)
                if stopping and stop["signal"] is None:
                    stop["signal"] = "on another rank"
                done = self.cur_nimg >= total_nimg or stopping
                if done or self.cur_nimg >= self.tick_start_nimg + cfg.tick_kimg * 1000:
                    record = self._end_tick(logger, tick_start_time)
                    bar.set_postfix({"img/s": f"{record['timing/img_per_sec']:.1f}",
                                     "G": f"{record.get('Loss/G/loss', float('nan')):.3f}",
                                     "D": f"{record.get('Loss/D/loss', float('nan')):.3f}",
                                     "p": f"{record['Augment/p']:.3f}"})
                    if done or self.cur_nimg >= self.last_snap_nimg + cfg.snap_kimg * 1000:
                        self.last_snap_nimg = self.cur_nimg
                        # A stop skips the metrics: it must end in seconds (a scheduler's grace period), and
                        # the next snapshot of the resumed run evaluates them.
                        self._snapshot_and_evaluate(logger, dataset, evaluate=not stopping)
                    tick_start_time = time.time()
                if done:
                    break
        finally:
            bar.close()
            if logger is not None:
                logger.close()
            _restore_handlers(old_handlers)
        self.stopped_by = stop["signal"]
        if stop["signal"] is not None:
            print(f"stopped by signal {stop['signal']}; snapshot saved at {self.cur_nimg} images", file=sys.stderr)
        return record

    def _snapshot_and_evaluate(self, logger, dataset, evaluate: bool = True) -> None:
        """Rank 0 writes the snapshot and evaluates; the others wait. Checks first that every rank holds the
        same weights (a replica that drifted would otherwise be saved silently)."""
        if not parameters_in_sync(self.G, self.dist) or not parameters_in_sync(self.D, self.dist):
            raise SpatialGANError("distributed replicas hold different weights; refusing to save this snapshot")
        if not tensors_in_sync([torch.tensor([self.augment.p], device=self.device)], self.dist):
            raise SpatialGANError("distributed ranks hold different augmentation probabilities; refusing to save")
        rng = torch.get_rng_state()     # rank-0-only work must not move rank 0's RNG away from the others'
        if self.dist.is_main:
            self.save_snapshot()
        if self.cfg.metrics and evaluate:       # every rank generates its share of the samples
            record = self.evaluate_metrics(dataset)
            if self.dist.is_main:
                logger.log(record)
        torch.set_rng_state(rng)
        barrier(self.dist)

    def feature_extractor(self):
        """Built once, and already at start-up, so that a missing weights file fails before training."""
        from spatialgan.metrics.features import build_extractor
        from spatialgan.metrics.registry import needs_features

        if self._extractor is None and needs_features(self.cfg.metrics.split(",")):
            self._extractor = build_extractor(self.cfg.metrics_features, self.cfg.metrics_weights, self.device)
        return self._extractor

    def evaluate_metrics(self, dataset: ImageDataset) -> dict:
        """cfg.metrics on G_ema against the training data: a record for stats.jsonl (Metrics/<name>)."""
        from spatialgan.metrics.evaluate import EvalOptions, evaluate

        cfg = self.cfg
        options = EvalOptions(num=cfg.metrics_num, seed=cfg.seed, features=cfg.metrics_features,
                              feature_weights=cfg.metrics_weights)
        start = time.time()
        results = evaluate(self.adapter, cfg.metrics.split(","), dataset.path, options, self.feature_extractor(),
                           dist=self.dist)
        record = {"nimg": self.cur_nimg, "kimg": self.cur_nimg / 1000}
        record.update({f"Metrics/{r['metric']}": r["value"] for r in results})
        record["timing/metrics_sec"] = time.time() - start
        return record

    def _end_tick(self, logger: StatsLogger, tick_start_time: float) -> dict:
        elapsed = max(time.time() - tick_start_time, 1e-9)
        record = {"tick": self.tick, "nimg": self.cur_nimg, "kimg": self.cur_nimg / 1000}
        record.update(reduce_stats(self.stats.means(), self.dist))
        record["pl_mean"] = float(self.pl_mean)
        record["Augment/p"] = self.augment.p
        if self.augment.controller is not None and self.augment.controller.last_rt is not None:
            record["Augment/rt"] = self.augment.controller.last_rt
        record["timing/sec_per_tick"] = elapsed
        record["timing/img_per_sec"] = (self.cur_nimg - self.tick_start_nimg) / elapsed
        if self.device.type == "cuda":
            record["resources/peak_gpu_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2 ** 30
        if logger is not None:
            logger.log(record)
        self.tick += 1
        self.tick_start_nimg = self.cur_nimg
        return record


def _install_stop_handlers(stop: dict):
    handlers = {}

    def request_stop(signum, frame):
        stop["signal"] = signum

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            handlers[sig] = signal.signal(sig, request_stop)
        except ValueError:  # not the main thread
            pass
    return handlers


def _restore_handlers(handlers: dict) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, handler)
