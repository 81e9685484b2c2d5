"""The `spatialgan` command line: train, generate, serve, resample, evaluate, render, project, convert, dataset, demo."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from spatialgan import SpatialGANError, __version__
from spatialgan.training.config import TrainConfig

# Flags of `train` that map one-to-one onto TrainConfig fields (dest name = field name).
TRAIN_FLAGS = {
    "model": (str, "model to train"), "data": (str, "folder, .zip or LMDB of images"),
    "outdir": (str, "run folder (checkpoints, stats, grids)"), "resolution": (int, "output resolution"),
    "batch": (int, "batch size"), "kimg": (float, "training length in thousands of real images"),
    "width": (int, "maximum channel count (default 512 on CUDA, 128 on CPU)"), "channel_base": (int, "channels at res r: min(base/r, width)"),
    "z_dim": (int, "latent size"), "w_dim": (int, "style size"), "mapping_layers": (int, "mapping depth"),
    "upsample": (str, "generator upsampling: bilinear or fir"), "downsample": (str, "D downsampling: fir or avg"),
    "lr": (float, "Adam learning rate (G and D)"), "gamma": (float, "R1 weight (default 0.0002 res^2/batch)"),
    "r1_interval": (int, "R1 every N steps"), "pl_weight": (float, "path-length weight"),
    "pl_interval": (int, "path length every N steps"), "style_mixing": (float, "style mixing probability"),
    "ema_kimg": (float, "G_ema half-life in kimg (default batch*10/32)"), "crop": (str, "center, random or none"),
    "workers": (int, "data loader processes"), "seed": (int, "random seed"), "device": (str, "auto, cpu or cuda"),
    "tick_kimg": (float, "kimg between stats lines"), "snap_kimg": (float, "kimg between snapshots"),
    "keep": (int, "snapshots to keep (0: all)"),
    "lambda_distortion": (float, "SSN: weight of the distortion regularizer (default 100)"),
    "distortion_interval": (int, "SSN: distortion regularizer every N steps (default 4)"),
    "cips_layers": (int, "CIPS: modulated FC layers, even (default 14)"),
    "patch_size": (int, "CIPS: train on patches of this size at random places and scales"),
    "panorama_frames": (float, "CIPS: train cylindrically; 360 degrees = this many frame widths (e.g. 4)"),
    "small_size": (int, "ScaleParty: r_small of multi-scale training (default resolution/2; r_large = 1.5x)"),
    "scale_min": (float, "ScaleParty: smallest region side, as a fraction of the frame (default 0.6)"),
    "scale_max": (float, "ScaleParty: largest region side, as a fraction of the frame (default 1.0)"),
    "interscale": (str, "ScaleParty: inter-scale augmentation: mix (CutMix+ChannelMix), l1 or none"),
    "interscale_prob": (float, "ScaleParty: probability of rendering a sample at both sizes (default 0.2)"),
    "lambda_interscale": (float, "ScaleParty: weight of the L1 consistency when --interscale l1"),
    "fp16_res": (int, "float16 in the N highest-resolution blocks of G and D, activations clamped to +-256 "
                      "(StyleGAN2-ADA uses 4; for CUDA, also runs on CPU)"),
    "init_from": (str, "start from a trained StyleGAN2: our checkpoint or a rosinality .pt (SSN transfer)"),
    "metrics": (str, "metrics at each snapshot, e.g. swd,fid (see `evaluate`)"),
    "metrics_num": (int, "generated samples per evaluation (default 2000)"),
    "metrics_features": (str, "features for fid/kid/pr: inception or resnet20 (proxy)"),
    "metrics_weights": (str, "weights file of the feature extractor"),
}


def _add_train(sub):
    p = sub.add_parser("train", help="train a model on a folder, zip or LMDB of images",
                       description="Train a GAN. A new run needs --data and --outdir; --resume continues a run "
                                   "(flags given with --resume, such as --kimg, override its config).")
    for name, (typ, text) in TRAIN_FLAGS.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=typ, default=None, help=text)
    p.add_argument("--xflip", action="store_true", default=None, help="random horizontal flips of reals")
    p.add_argument("--amp", action="store_true", default=None, help="bf16 mixed precision (CUDA only)")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the networks for the main G and D phases (regularizers stay eager)")
    p.add_argument("--no-coord-embedding", dest="coord_embedding", action="store_false", default=None,
                   help="CIPS-NE: Fourier features only, no learned coordinate embedding")
    p.add_argument("--no-multiscale", dest="multiscale", action="store_false", default=None,
                   help="ScaleParty: train on the full frame only (no multi-scale partial generation)")
    p.add_argument("--latent-grid", default=None, help="SSN: latent block grid ROWSxCOLS (default 4x4)")
    p.add_argument("--resume", default=None, help="run folder or checkpoint to continue from")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    import torch

    from spatialgan.training.checkpoint import find_snapshots, resolve_checkpoint
    from spatialgan.training.distributed import barrier, init_from_environment, shutdown
    from spatialgan.training.loop import Trainer

    given = {k: getattr(args, k) for k in list(TRAIN_FLAGS) + ["xflip", "amp", "compile", "coord_embedding", "multiscale"]
             if getattr(args, k) is not None}
    if args.latent_grid:
        try:
            given["latent_rows"], given["latent_cols"] = (int(v) for v in args.latent_grid.lower().split("x"))
        except ValueError:
            raise SpatialGANError(f"--latent-grid takes ROWSxCOLS such as 4x4, got {args.latent_grid!r}") from None
    if not args.resume:
        for required in ("data", "outdir"):
            if required not in given:
                raise SpatialGANError(f"train needs --{required} (or --resume RUN_DIR to continue a run)")
        if find_snapshots(given["outdir"]):
            raise SpatialGANError(f"{given['outdir']} already holds a run; pass --resume {given['outdir']} "
                                  "to continue it, or choose another --outdir")
    # Under torchrun (WORLD_SIZE > 1) this process is one rank: NCCL on CUDA, Gloo on CPU.
    dist, device_name = init_from_environment(given.get("device", "auto"))
    device = torch.device(device_name) if dist.enabled else None
    try:
        if args.resume:
            ckpt = resolve_checkpoint(args.resume)
            given.setdefault("outdir", str(ckpt.parent))
            trainer = Trainer.from_checkpoint(ckpt, given, dist=dist, device=device)
            if dist.is_main:
                print(f"resuming {ckpt} at {trainer.cur_nimg} images", file=sys.stderr)
        else:
            trainer = Trainer(TrainConfig(**given), device, dist=dist)
        trainer.run(progress=not args.quiet)
        barrier(dist)          # every rank is done before any tears the group down (Gloo aborts otherwise)
    finally:
        shutdown(dist)
    if dist.is_main:
        where = f" on {dist.world} processes" if dist.enabled else ""
        print(f"done: {trainer.cur_nimg} images{where}; snapshots in {trainer.cfg.outdir}")
    return 0


def _add_generate(sub):
    p = sub.add_parser("generate", help="generate images from a checkpoint",
                       description="Write one PNG per seed (seedNNNN.png) and, with --grid, a grid.png.")
    p.add_argument("--ckpt", default=None, help="checkpoint file or run folder (newest snapshot); default: the "
                   "shipped demo SSN (or name a shipped model: ssn, cips, scaleparty)")
    p.add_argument("--seeds", default="0-7", help="e.g. 0-7 or 1,5,9-11")
    p.add_argument("--latent", default=None, help="a latent file from the studio's 'download latent' instead of "
                   "--seeds")
    p.add_argument("--outdir", required=True)
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi")
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none", "grid"],
                   help="grid: scaleparty's noise fixed in image space")
    p.add_argument("--grid", action="store_true", help="also write grid.png")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args) -> int:
    from spatialgan.generate import generate_images, load_generator, parse_seeds, write_outputs
    from spatialgan.training.loop import resolve_device

    seeds = parse_seeds(args.seeds)
    G, cfg, hooks = load_generator(checkpoint_or_shipped(args.ckpt), resolve_device(args.device))
    if args.noise_mode == "grid" and cfg.model != "scaleparty":
        raise SpatialGANError(f"--noise-mode grid is scaleparty's; {cfg.model} takes const, random or none")
    if args.latent:
        import torch

        from spatialgan.generate import load_latent_file

        z = load_latent_file(args.latent, hooks).to(next(G.parameters()).device)
        with torch.no_grad():
            images = hooks.sample_images(G, z, args.trunc, args.noise_mode)
        seeds = list(range(len(images)))
    else:
        images = generate_images(G, hooks, cfg, seeds, args.trunc, args.noise_mode)
    written = write_outputs(images, seeds, args.outdir, args.grid)
    print(f"wrote {len(written)} file(s) to {args.outdir}")
    return 0


def checkpoint_or_shipped(ckpt: str | None) -> str:
    """A checkpoint path as given, or a shipped demo model by name (none given: the shipped SSN)."""
    from spatialgan.generate import SHIPPED_MODELS, shipped_models

    if ckpt is None or (ckpt in SHIPPED_MODELS and not Path(ckpt).exists()):
        return str(shipped_models()[SHIPPED_MODELS.index(ckpt or "ssn")])
    return ckpt


def _add_serve(sub):
    p = sub.add_parser("serve", help="the studio: a local web app to resample blocks, zoom and scroll panoramas",
                       description="Starts the studio on http://127.0.0.1:PORT/. With no --ckpt it serves the "
                                   "shipped demo models (SSN, cylindrical CIPS, ScaleParty).")
    p.add_argument("--ckpt", nargs="*", default=None, help="checkpoints or run folders (or shipped names)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--max-pixels", type=int, default=1 << 20, help="largest render in pixels (default 1048576)")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from spatialgan.generate import shipped_models
    from spatialgan.serve.app import serve

    paths = [checkpoint_or_shipped(c) for c in args.ckpt] if args.ckpt else [str(p) for p in shipped_models()]
    if args.max_pixels < 1 or not 0 < args.port < 65536:
        raise SpatialGANError("--max-pixels must be positive and --port within 1..65535")
    serve(paths, args.host, args.port, args.device, args.max_pixels)
    return 0


def _add_resample(sub):
    p = sub.add_parser("resample", help="SSN: redraw chosen latent blocks of an image",
                       description="Writes original.png, resample_KK.png, overview.png (latent grid overlaid, "
                                   "resampled blocks marked, then the resamples) and latents.safetensors.")
    p.add_argument("--ckpt", required=True, help="SSN checkpoint file or run folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the image to edit")
    p.add_argument("--blocks", nargs="+", required=True, help="blocks as row,column, e.g. 0,1 0,2")
    p.add_argument("--count", type=int, default=4, help="number of resamples")
    p.add_argument("--outdir", required=True)
    p.add_argument("--trunc", type=float, default=1.0)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_resample)


def cmd_resample(args) -> int:
    from spatialgan.generate import load_generator
    from spatialgan.render.resample import parse_blocks, resample_blocks, write_resample_outputs
    from spatialgan.training.loop import resolve_device

    if args.count < 1:
        raise SpatialGANError("--count must be at least 1")
    G, cfg, hooks = load_generator(checkpoint_or_shipped(args.ckpt), resolve_device(args.device))
    if cfg.model != "ssn":
        raise SpatialGANError(f"{args.ckpt} holds a {cfg.model} model; block resampling needs --model ssn")
    blocks = parse_blocks(args.blocks, (cfg.latent_rows, cfg.latent_cols))
    result = resample_blocks(G, hooks, args.seed, blocks, args.count, args.trunc)
    written = write_resample_outputs(result, args.outdir)
    print(f"wrote {len(written)} files to {args.outdir}")
    return 0


def _add_evaluate(sub):
    from spatialgan.metrics.evaluate import METRICS

    p = sub.add_parser("evaluate", help="compute metrics of a checkpoint and write a JSON report",
                       description="FID/KID/precision-recall use the FID Inception (local weights file) or, with "
                                   "--features resnet20, a CIFAR-10 ResNet-20 proxy; SWD needs no weights; ppl is "
                                   "the pixel-space variant; distortion is SSN's. Real-image features are cached.")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--data", default=None, help="real images (default: the checkpoint's training data)")
    p.add_argument("--metrics", default="swd", help=f"comma list of: {', '.join(METRICS)}")
    p.add_argument("--num", type=int, default=10000, help="number of generated samples")
    p.add_argument("--num-real", type=int, default=None, help="real images (default: min(dataset, --num))")
    p.add_argument("--features", default="inception", choices=["inception", "resnet20"])
    p.add_argument("--inception-weights", default=None,
                   help="pt_inception-2015-12-05-6726825d.pth (or set SPATIALGAN_INCEPTION)")
    p.add_argument("--resnet20-weights", default=None,
                   help="resnet20-cifar10-12fca82f.th (or set SPATIALGAN_RESNET20)")
    p.add_argument("--lpips-dir", default=None, help="folder with vgg16-397923af.pth and LPIPS vgg.pth: PPL with "
                   "LPIPS (or set SPATIALGAN_LPIPS); without it ppl is the pixel-space variant")
    p.add_argument("--cache-dir", default=None, help="real-feature cache (default ~/.cache/spatialgan)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the real-feature cache")
    p.add_argument("--truncation-psi", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON report path")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    import json

    from spatialgan.generate import load_generator
    from spatialgan.metrics.evaluate import EvalOptions, evaluate, format_table, parse_metrics
    from spatialgan.training.loop import resolve_device

    names = parse_metrics(args.metrics)
    if args.num < 2 or args.batch < 1:
        raise SpatialGANError("--num must be at least 2 and --batch at least 1")
    G, cfg, hooks = load_generator(checkpoint_or_shipped(args.ckpt), resolve_device(args.device))
    options = EvalOptions(num=args.num, num_real=args.num_real, seed=args.seed, batch=args.batch,
                          truncation_psi=args.truncation_psi, features=args.features,
                          feature_weights=args.inception_weights if args.features == "inception"
                          else args.resnet20_weights, cache_dir="" if args.no_cache else args.cache_dir,
                          lpips_dir=args.lpips_dir)
    results = evaluate(G, hooks, cfg, names, args.data or cfg.data, options)
    print(format_table(results))
    if args.out:
        Path(args.out).write_text(json.dumps({"checkpoint": str(args.ckpt), "model": cfg.model,
                                              "results": results}, indent=1))
    return 0


def _add_render(sub):
    p = sub.add_parser("render", help="render one latent at any size, region and scale (cips, scaleparty)",
                       description="Renders a seed's image at --size: the full frame stretched to the size, or the "
                                   "region around --center whose pixels are --scale times the trained frame's pixel. "
                                   "CIPS renders in row bands of --band-pixels pixels and ScaleParty in tiles of "
                                   "--tile pixels, so memory stays bounded (e.g. --size 4096x4096 on CPU).")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", required=True, help="WIDTHxHEIGHT, e.g. 2048x512")
    p.add_argument("--center", default=None, help="cx,cy in image space (the trained frame spans -1..1)")
    p.add_argument("--scale", type=float, default=None, help="pixel size as a multiple of the trained frame's "
                   "pixel: 0.25 zooms in 4x, 2 shows twice the frame (extrapolating past it)")
    p.add_argument("--region", default=None, help="x0,x1,y0,y1 in image space instead of --center/--scale, as --region=-1,1,-1,1 "
                   "(default: the trained frame -1,1,-1,1)")
    p.add_argument("--panorama", action="store_true", help="the whole 360-degree strip of a cylindrical CIPS "
                   "(trained with --panorama-frames); overrides --region")
    p.add_argument("--foveate", default=None, help="cx,cy: foveated render (cips), dense samples around this point")
    p.add_argument("--samples", default=None, help="foveated render: WIDTHxHEIGHT samples (default: half of --size)")
    p.add_argument("--gamma", type=float, default=2.0, help="foveated render: concentration (1 = uniform)")
    p.add_argument("--warp", default=None, help="scaleparty: warp of the positional encoding, swirl:STRENGTH"
                   "[:RADIUS] or stretch:FX[:FY]")
    p.add_argument("--noise", default="grid", help="scaleparty noise: grid (fixed in image space; tiles join "
                   "exactly), const, random or none")
    p.add_argument("--tile", type=int, default=256, help="scaleparty: tile side in pixels")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi")
    p.add_argument("--ws", default=None, help="scaleparty: a W+ latent file (from project or the studio) instead "
                   "of --seed's latent")
    p.add_argument("--band-pixels", type=int, default=1 << 16, help="cips: pixels rendered at a time")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_render)


def _floats(text: str, count: int, flag: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise SpatialGANError(f"{flag} takes {count} comma-separated numbers, got {text!r}")
    return values


def cmd_render(args) -> int:
    from spatialgan.generate import latent_for_seed, load_generator
    from spatialgan.imageutils import save_image
    from spatialgan.render.render import (parse_size, region_for, render_image, render_scaleparty,
                                          require_coordinate_model)
    from spatialgan.training.loop import resolve_device

    width, height = parse_size(args.size)
    if args.band_pixels < 1 or args.tile < 1:
        raise SpatialGANError("--band-pixels and --tile must be positive")
    if args.scale is not None and not (math.isfinite(args.scale) and args.scale > 0):
        raise SpatialGANError(f"--scale must be a positive number, got {args.scale}")
    if args.region and (args.center or args.scale):
        raise SpatialGANError("give either --region or --center/--scale, not both")
    G, cfg, hooks = load_generator(checkpoint_or_shipped(args.ckpt), resolve_device(args.device))
    require_coordinate_model(G, scaleparty_ok=True)
    scaleparty = hasattr(G, "tiles")
    if not scaleparty and (args.warp or args.noise != "grid"):
        raise SpatialGANError("--warp and --noise apply to scaleparty models")
    if scaleparty and (args.panorama or args.foveate):
        raise SpatialGANError("--panorama and --foveate apply to cips models")
    center = _floats(args.center, 2, "--center") if args.center else (0.0, 0.0)
    if args.region:
        x0, x1, y0, y1 = _floats(args.region, 4, "--region")
        if x1 <= x0 or y1 <= y0:
            raise SpatialGANError(f"--region needs x0 < x1 and y0 < y1, got {args.region}")
    elif args.scale is None and not args.center:
        x0, x1, y0, y1 = -1.0, 1.0, -1.0, 1.0
    else:
        (x0, x1), (y0, y1) = region_for(G, width, height, center, args.scale or 1.0)
    if args.panorama:
        frames = getattr(G, "panorama_frames", None)
        if not frames:
            raise SpatialGANError(f"--panorama needs a CIPS trained with cylindrical coordinates (--panorama-frames); "
                                  f"{args.ckpt} is a planar {cfg.model} model")
        x0, x1, y0, y1 = -frames, frames, -1.0, 1.0
    z = latent_for_seed(args.seed, hooks.latent_shape()).to(next(G.parameters()).device)
    ws = hooks.map_latents(G, z, args.trunc)
    if args.ws:
        from spatialgan.render.project import load_ws

        if not scaleparty:
            raise SpatialGANError("--ws applies to scaleparty models")
        ws = load_ws(args.ws, G)
    if scaleparty:
        from spatialgan.coords import parse_warp
        from spatialgan.models.scaleparty import NOISE_POLICIES

        if args.noise not in NOISE_POLICIES:
            raise SpatialGANError(f"--noise must be one of {', '.join(NOISE_POLICIES)}, got {args.noise!r}")
        sx, sy = (x1 - x0) * G.resolution / (2 * width), (y1 - y0) * G.resolution / (2 * height)
        if abs(sx - sy) > 1e-3 * max(sx, sy):
            raise SpatialGANError(f"a scaleparty render has square pixels: --region {x0:g},{x1:g},{y0:g},{y1:g} at "
                                  f"{width}x{height} would stretch them; use --center and --scale, or --warp stretch")
        try:
            warp = parse_warp(args.warp) if args.warp else None
        except ValueError as exc:
            raise SpatialGANError(f"--warp: {exc}") from None
        image = render_scaleparty(G, ws, width, height, ((x0 + x1) / 2, (y0 + y1) / 2), sx, args.tile, args.noise,
                                  args.seed, warp)
    elif args.foveate:
        from spatialgan.imageutils import to_uint8
        from spatialgan.render.render import render_foveated

        cx, cy = _floats(args.foveate, 2, "--foveate")
        if not (-1 < cx < 1 and -1 < cy < 1) or args.gamma <= 0:
            raise SpatialGANError("--foveate must lie inside the frame (-1..1) and --gamma be positive")
        samples = parse_size(args.samples) if args.samples else (max(1, width // 2), max(1, height // 2))
        image = to_uint8(render_foveated(G, ws, width, height, samples, (cx, cy), args.gamma))[0]
    else:
        image = render_image(G, ws, width, height, (x0, x1), (y0, y1), args.band_pixels)
    save_image(image, args.out)
    print(f"wrote {args.out} ({width}x{height})")
    return 0


def _add_project(sub):
    p = sub.add_parser("project", help="scaleparty: find the latent of a photo, then render it at other scales",
                       description="Optimises a W+ latent so that the model's renders at two scales match the photo "
                                   "(L2 plus LPIPS with --lpips-dir, else a Laplacian-pyramid L1). Writes target.png, "
                                   "projection.png, scales.png, warps.png and latent.safetensors (for render --ws).")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--image", required=True, help="the photo (its centred square is used)")
    p.add_argument("--outdir", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--lpips-dir", default=None, help="folder with vgg16-397923af.pth and vgg.pth (LPIPS)")
    p.add_argument("--noise-seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_project)


def cmd_project(args) -> int:
    from spatialgan.generate import load_generator
    from spatialgan.render.project import load_target, project, write_projection
    from spatialgan.training.loop import resolve_device

    G, cfg, _ = load_generator(checkpoint_or_shipped(args.ckpt), resolve_device(args.device))
    if cfg.model != "scaleparty":
        raise SpatialGANError(f"project needs a scaleparty checkpoint; {args.ckpt} is {cfg.model}")
    target = load_target(args.image, G.resolution)
    lpips = None
    if args.lpips_dir:
        from spatialgan.metrics.lpips import load_lpips

        lpips = load_lpips(args.lpips_dir).to(next(G.parameters()).device)
    every = max(1, args.steps // 10)

    def progress(step, loss):
        if step % every == 0 or step == args.steps - 1:
            print(f"step {step + 1}/{args.steps}  loss {loss:.4f}", file=sys.stderr)

    result = project(G, target, args.steps, args.lr, lpips, args.noise_seed, progress)
    written = write_projection(G, result, target, args.outdir, args.noise_seed)
    print(f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f} ({result.perceptual}); wrote "
          f"{', '.join(p.name for p in written)} to {args.outdir}")
    return 0


def _add_convert(sub):
    p = sub.add_parser("convert", help="turn an official CIPS checkpoint into a spatialgan run folder",
                       description="Reads saic-mdal/CIPS generator weights (g_ema) and writes a checkpoint that "
                                   "generate, render, evaluate and train --resume accept.")
    p.add_argument("--cips-official", required=True, help="the official .pt file")
    p.add_argument("--dest", required=True, help="run folder to write")
    p.add_argument("--resolution", type=int, default=None, help="only for CIPS-NE files (no embedding)")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args) -> int:
    from spatialgan.models.convert import convert_official_cips

    if not Path(args.cips_official).is_file():
        raise SpatialGANError(f"{args.cips_official}: no such file")
    print(f"wrote {convert_official_cips(args.cips_official, args.dest, args.resolution)}")
    return 0


def _add_dataset(sub):
    p = sub.add_parser("dataset", help="pack a folder of images into a training .zip",
                       description="Decode, crop to square, resize (Lanczos) and store as PNG in a zip; unreadable "
                                   "files are listed and skipped.")
    p.add_argument("--source", required=True, help="folder, zip or LMDB of images")
    p.add_argument("--dest", required=True, help="output .zip")
    p.add_argument("--resolution", type=int, required=True)
    p.add_argument("--crop", default="center", choices=["center", "none"])
    p.set_defaults(func=cmd_dataset)


def cmd_dataset(args) -> int:
    from spatialgan.data.pack import pack_dataset

    if args.resolution < 1:
        raise SpatialGANError("--resolution must be positive")
    print(pack_dataset(args.source, args.dest, args.resolution, args.crop).text())
    return 0


def _add_demo(sub):
    p = sub.add_parser("demo", help="build a small dataset from bundled photos, train, and write an HTML report",
                       description="Needs no network and no data: crops of scikit-image's bundled CC0 photos.")
    p.add_argument("--outdir", default="demo-out")
    p.add_argument("--kimg", type=float, default=None, help="training length (default: the demo preset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from spatialgan.demo import run_demo

    report = run_demo(args.outdir, kimg=args.kimg, seed=args.seed, progress=not args.quiet)
    print(f"report: {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spatialgan", description="Position-aware GAN image synthesis.")
    parser.add_argument("--version", action="version", version=f"spatialgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_generate, _add_serve, _add_resample, _add_evaluate, _add_render, _add_project, _add_convert, _add_dataset,
                _add_demo):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from spatialgan.runtime import keep_freed_memory

    keep_freed_memory()        # page faults on every fresh activation otherwise dominate on CPU
    try:
        return args.func(args)
    except SpatialGANError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
