"""The `spatialgan` command line: a thin layer over the Python API (spatialgan.api) and the training engine."""

from __future__ import annotations

import argparse
import sys
import threading

from spatialgan import SpatialGANError, __version__

DEVICE_HELP = "auto, cpu, cuda or cuda:N"


def _device(p):
    """--device and --amp of the inference commands."""
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "off"],
                   help="bf16 autocast: auto (where it measured faster on this machine; fp32 on CPUs without bf16 "
                   "units), bf16 or off (8-bit output within a few levels of fp32: README)")


def _ckpt(p, required=True, nargs=None):
    p.add_argument("--ckpt", required=required, nargs=nargs, default=None,
                   help="checkpoint file, run folder (newest snapshot) or shipped model name: ssn, cips, scaleparty")


def _add_train(sub):
    from spatialgan.config import CoreOptions, TrainConfig, model_option_fields
    from spatialgan.options import add_flags, declared
    from spatialgan.registry import MODELS

    p = sub.add_parser("train", help="train a model on a folder, zip or LMDB of images",
                       description="Train a GAN. A new run needs --data and --outdir; --resume continues a run "
                                   "in its own folder (flags given with --resume, such as --kimg, override its "
                                   "config; a resume into another folder or with changed training options is a "
                                   "new run in an empty --outdir).")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for f in declared(CoreOptions):
        group = f.metadata["group"]
        groups.setdefault(group, p.add_argument_group(group))
        add_flags(groups[group], [f])
    for name, spec in MODELS.items():
        if spec.options is not None:
            add_flags(p.add_argument_group(f"{name} options", spec.summary), model_option_fields(name))
    p.add_argument("--latent-grid", default=None, help="SSN: latent block grid ROWSxCOLS (instead of --latent-rows "
                   "and --latent-cols)")
    p.add_argument("--resume", default=None, help="run folder or checkpoint to continue from")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train, option_names=[f.name for f in declared(TrainConfig)])


def cmd_train(args) -> int:
    from spatialgan.training.launch import exit_status, parse_latent_grid, train

    given = _given(args)
    if args.latent_grid:
        given["latent_rows"], given["latent_cols"] = parse_latent_grid(args.latent_grid)
    return exit_status(train(given, args.resume, progress=not args.quiet))


def _add_generate(sub):
    p = sub.add_parser("generate", help="generate images from a checkpoint",
                       description="Write one PNG per seed (seedNNNN.png) and, with --grid, a grid.png.")
    _ckpt(p, required=False)
    p.add_argument("--seeds", default="0-7", help="e.g. 0-7 or 1,5,9-11")
    p.add_argument("--latent", default=None, help="a latent file from the studio's 'download latent' instead of "
                   "--seeds")
    p.add_argument("--outdir", required=True)
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi")
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none", "grid"],
                   help="grid: scaleparty's noise fixed in image space")
    p.add_argument("--grid", action="store_true", help="also write grid.png")
    _device(p)
    p.set_defaults(func=cmd_generate)


def cmd_generate(args) -> int:
    from spatialgan.api import load
    from spatialgan.imageutils import save_seed_images
    from spatialgan.latents import load_latent_file, parse_seeds

    seeds = parse_seeds(args.seeds, limit=100_000)
    model = load(args.ckpt, args.device, amp=args.amp)
    if args.latent:
        z = load_latent_file(args.latent, model.adapter.latent_shape())
        images, seeds = model.sample(z=z, truncation_psi=args.trunc, noise_mode=args.noise_mode), range(len(z))
    else:
        images = model.sample(seeds, truncation_psi=args.trunc, noise_mode=args.noise_mode)
    written = save_seed_images(images, list(seeds), args.outdir, args.grid)
    print(f"wrote {len(written)} file(s) to {args.outdir}")
    return 0


def _add_serve(sub):
    p = sub.add_parser("serve", help="the studio: a local web app to resample blocks, zoom and scroll panoramas",
                       description="Starts the studio on http://127.0.0.1:PORT/. With no --ckpt it serves the "
                                   "shipped demo models (SSN, cylindrical CIPS, ScaleParty).")
    _ckpt(p, required=False, nargs="*")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--max-pixels", type=int, default=1 << 20, help="largest render in pixels (default 1048576)")
    _device(p)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    from spatialgan.api import SHIPPED_MODELS
    from spatialgan.serve.app import serve

    if args.max_pixels < 1 or not 0 < args.port < 65536:
        raise SpatialGANError("--max-pixels must be positive and --port within 1..65535")
    serve(args.ckpt or list(SHIPPED_MODELS), args.host, args.port, args.device, args.max_pixels, args.amp)
    return 0


def _add_resample(sub):
    p = sub.add_parser("resample", help="SSN: redraw chosen latent blocks of an image",
                       description="Writes original.png, resample_KK.png, overview.png (latent grid overlaid, "
                                   "resampled blocks marked, then the resamples) and latents.safetensors.")
    _ckpt(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the image to edit")
    p.add_argument("--blocks", nargs="+", required=True, help="blocks as row,column, e.g. 0,1 0,2")
    p.add_argument("--count", type=int, default=4, help="number of resamples")
    p.add_argument("--outdir", required=True)
    p.add_argument("--trunc", type=float, default=1.0)
    _device(p)
    p.set_defaults(func=cmd_resample)


def cmd_resample(args) -> int:
    from spatialgan.api import load
    from spatialgan.models.ssn.resample import parse_blocks, write_resample_outputs

    blocks = parse_blocks(args.blocks)
    result = load(args.ckpt, args.device, amp=args.amp).resample(blocks, args.count, seed=args.seed,
                                                                 truncation_psi=args.trunc)
    written = write_resample_outputs(result, args.outdir)
    change = result.change()
    print(f"wrote {len(written)} files to {args.outdir}; mean squared change inside the blocks "
          f"{change['inside']:.4f}, outside {change['outside']:.4f} (ratio {change['ratio']:.1f})")
    return 0


def _add_evaluate(sub):
    from spatialgan.metrics.evaluate import EvalOptions
    from spatialgan.metrics.registry import metrics

    p = sub.add_parser("evaluate", help="compute metrics of a checkpoint and write a JSON report",
                       description="FID/KID/precision-recall use the FID Inception (local weights file) or, with "
                                   "--features resnet20, a CIFAR-10 ResNet-20 proxy; SWD needs no weights; ppl is "
                                   "the pixel-space variant; distortion is SSN's. Real-image features are cached.")
    _ckpt(p)
    p.add_argument("--data", default=None, help="real images (default: the checkpoint's training data)")
    p.add_argument("--metrics", default="swd", help=f"comma list of: {', '.join(metrics())}")
    p.add_argument("--inception-weights", default=None,
                   help="pt_inception-2015-12-05-6726825d.pth (or set SPATIALGAN_INCEPTION)")
    p.add_argument("--resnet20-weights", default=None,
                   help="resnet20-cifar10-12fca82f.th (or set SPATIALGAN_RESNET20)")
    p.add_argument("--vgg16-weights", default=None, help="torchvision's vgg16-397923af.pth (or set SPATIALGAN_VGG16)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the real-feature cache")
    p.add_argument("--out", default=None, help="JSON report path")
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.set_defaults(func=cmd_evaluate, option_names=_declared_flags(p, EvalOptions, "metric options"))


def _declared_flags(parser, cls, title: str) -> list[str]:
    from spatialgan.options import add_flags, declared

    return add_flags(parser.add_argument_group(title), declared(cls))


def _given(args) -> dict:
    return {k: getattr(args, k) for k in args.option_names if getattr(args, k, None) is not None}


def cmd_evaluate(args) -> int:
    from spatialgan.api import load
    from spatialgan.metrics.evaluate import evaluate_to_report, options_from_args

    options, names = options_from_args(args, _given(args))
    model = load(args.ckpt, args.device)
    print(evaluate_to_report(model, names, args.data or model.config.data, options, args.out, str(args.ckpt)))
    return 0


def _add_render(sub):
    from spatialgan.rendering import View

    p = sub.add_parser("render", help="render one latent at any size, region and scale (cips, scaleparty)",
                       description="Renders a seed's image at --size: the full frame stretched to the size, or the "
                                   "region around --center whose pixels are --scale times the trained frame's pixel. "
                                   "CIPS renders in row bands of --band-pixels pixels and ScaleParty in tiles of "
                                   "--tile pixels, so memory stays bounded (e.g. --size 4096x4096 on CPU).")
    _ckpt(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", required=True, help="WIDTHxHEIGHT, e.g. 2048x512")
    p.add_argument("--trunc", type=float, default=1.0, help="truncation psi")
    p.add_argument("--ws", default=None, help="scaleparty: a W+ latent file (from project or the studio) instead "
                   "of --seed's latent")
    p.add_argument("--out", required=True, help="output image (.png)")
    _device(p)
    p.set_defaults(func=cmd_render, option_names=_declared_flags(p, View, "what to render (spatialgan.View)"))


def cmd_render(args) -> int:
    from spatialgan.api import load
    from spatialgan.imageutils import check_image_path, save_image
    from spatialgan.rendering import parse_size

    check_image_path(args.out)
    (width, height), view = parse_size(args.size), _given(args)
    model = load(args.ckpt, args.device, amp=args.amp)
    ws = None
    if args.ws:
        from spatialgan.models.interface import WS_INPUT, require
        from spatialgan.models.scaleparty.project import load_ws

        require(model.spec, WS_INPUT, "--ws")
        ws = load_ws(args.ws, model.G)
    image = model.render(seed=args.seed, ws=ws, size=(width, height), truncation_psi=args.trunc, **view)
    save_image(image, args.out)
    print(f"wrote {args.out} ({width}x{height})")
    return 0


def _add_project(sub):
    p = sub.add_parser("project", help="scaleparty: find the latent of a photo, then render it at other scales",
                       description="Optimises a W+ latent so that the model's renders at two scales match the photo "
                                   "(L2 plus LPIPS with --lpips-dir, else a Laplacian-pyramid L1). Writes target.png, "
                                   "projection.png, scales.png, warps.png and latent.safetensors (for render --ws).")
    _ckpt(p)
    p.add_argument("--image", required=True, help="the photo (its centred square is used)")
    p.add_argument("--outdir", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--lpips-dir", default=None, help="folder with vgg16-397923af.pth and vgg.pth (LPIPS)")
    p.add_argument("--noise-seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help=DEVICE_HELP)
    p.set_defaults(func=cmd_project)


def cmd_project(args) -> int:
    from spatialgan.api import load
    from spatialgan.models.interface import PROJECT, require
    from spatialgan.models.scaleparty.project import check_project_options, project_photo

    check_project_options(args.steps, args.lr, args.noise_seed)      # before loading or reading anything
    model = load(args.ckpt, args.device)
    require(model.spec, PROJECT, "project")
    lpips = None
    if args.lpips_dir:
        from spatialgan.metrics.lpips import load_lpips

        lpips = load_lpips(args.lpips_dir).to(model.device)
    result, written = project_photo(model.G, args.image, args.outdir, args.steps, args.lr, lpips, args.noise_seed,
                                    log=lambda line: print(line, file=sys.stderr))
    print(f"loss {result.losses[0]:.4f} -> {result.losses[-1]:.4f} ({result.perceptual}); wrote "
          f"{', '.join(p.name for p in written)} to {args.outdir}")
    return 0


def _add_convert(sub):
    p = sub.add_parser("convert", help="turn a StyleGAN2-ADA pickle, rosinality .pt or official CIPS .pt into a "
                                       "spatialgan checkpoint",
                       description="Reads another codebase's checkpoint (never running code from it) and writes a "
                                   "run folder that generate, render, evaluate, serve and train --init-from accept. "
                                   "See the README's table of checkpoint families.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--stylegan2-ada", metavar="FILE.pkl", help="NVIDIA StyleGAN2-ADA network pickle (G_ema, G, D)")
    src.add_argument("--rosinality", metavar="FILE.pt", help="rosinality stylegan2-pytorch checkpoint (g_ema, g, d)")
    src.add_argument("--cips-official", metavar="FILE.pt", help="saic-mdal/CIPS checkpoint (g_ema)")
    p.add_argument("--dest", required=True, help="run folder to write")
    p.add_argument("--resolution", type=int, default=None, help="only for CIPS-NE files (no embedding)")
    p.add_argument("--cips-reading", choices=("eval", "train"), default="eval",
                   help="CIPS: read the coordinate embedding as the official eval mode does (its images; default) or "
                        "at its table entries as its training mode does (for fine-tuning)")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args) -> int:
    from spatialgan.convert import convert

    family, src = next((name, path) for name, path in (("stylegan2-ada", args.stylegan2_ada),
                                                       ("rosinality", args.rosinality),
                                                       ("cips-official", args.cips_official)) if path)
    print(f"wrote {convert(family, src, args.dest, args.resolution, args.cips_reading)}")
    return 0


def _add_dataset(sub):
    p = sub.add_parser("dataset", help="pack images, or random crops of photos, into a training .zip",
                       description="Decode, crop to square, resize (Lanczos) and store as PNG in a zip; unreadable "
                                   "files are listed and skipped. With --crops: that many random crops of the "
                                   "photos instead, and with --hold-out whole photos held back in DEST-heldout.zip.")
    p.add_argument("--source", required=True, help="folder, zip or LMDB of images")
    p.add_argument("--dest", required=True, help="output .zip")
    p.add_argument("--resolution", type=int, required=True, help="output height (and width, times --aspect)")
    p.add_argument("--crop", default="center", choices=["center", "none"], help="without --crops: square crop")
    p.add_argument("--crops", type=int, default=None, help="random crops of the photos instead of one image each")
    from spatialgan.data.crops import CropPlan

    p.set_defaults(func=cmd_dataset, option_names=_declared_flags(p, CropPlan, "photo crops (with --crops)"))


def cmd_dataset(args) -> int:
    from spatialgan.data.crops import CropPlan, make_crop_datasets
    from spatialgan.data.pack import pack_dataset

    if not 1 <= args.resolution <= 8192:
        raise SpatialGANError(f"--resolution must be within 1..8192, got {args.resolution}")
    if args.crops is None:
        if _given(args):
            flags = ", ".join("--" + k.replace("_", "-") for k in _given(args))
            raise SpatialGANError(f"{flags} only apply to random crops: add --crops N")
        print(pack_dataset(args.source, args.dest, args.resolution, args.crop).text())
        return 0
    plan = CropPlan(resolution=args.resolution, crops=args.crops, **_given(args))
    for summary in make_crop_datasets(args.source, args.dest, plan):
        print(summary.text())
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
    import math

    from spatialgan.demo import run_demo

    if args.kimg is not None and not (math.isfinite(args.kimg) and args.kimg > 0):
        raise SpatialGANError(f"--kimg must be a positive number, got {args.kimg}")
    if not 0 <= args.seed < 2 ** 32:
        raise SpatialGANError(f"--seed must be within 0..2^32-1, got {args.seed}")
    print(f"report: {run_demo(args.outdir, kimg=args.kimg, seed=args.seed, progress=not args.quiet)}")
    return 0


COMMANDS = (_add_train, _add_generate, _add_serve, _add_resample, _add_evaluate, _add_render, _add_project,
            _add_convert, _add_dataset, _add_demo)


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's error style: one `error:` line on stderr, exit 2."""

    def error(self, message):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="spatialgan", description="Position-aware GAN image synthesis.")
    parser.add_argument("--version", action="version", version=f"spatialgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _report_thread_error(hook_args) -> None:
    """A background writer (TensorBoard's) that fails on a full disk says so in one line, not a traceback."""
    if isinstance(hook_args.exc_value, OSError):
        exc = hook_args.exc_value
        name = hook_args.thread.name if hook_args.thread is not None else "a background thread"
        print(f"warning: {name}: {exc.strerror or exc}", file=sys.stderr)
        return
    _default_thread_hook(hook_args)


_default_thread_hook = threading.excepthook


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:            # --help, --version, or a flag argparse refused (already reported)
        return int(exc.code or 0)
    previous, threading.excepthook = threading.excepthook, _report_thread_error
    try:
        return _run(args)
    finally:
        threading.excepthook = previous


def _run(args) -> int:
    try:
        for name in ("outdir", "out", "dest"):
            if getattr(args, name, None) == "":
                raise SpatialGANError(f"--{name} needs a path (an empty one would write into the working folder)")
        return args.func(args)
    except SpatialGANError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:          # disk full, read-only folder, a file where a folder should be...
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
