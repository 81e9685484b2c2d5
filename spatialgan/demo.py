"""`spatialgan demo`: a small real dataset from bundled CC0 photos, a short CPU training run, and an HTML report."""

from __future__ import annotations

import html
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spatialgan import __version__
from spatialgan.api import load
from spatialgan.config import TrainConfig
from spatialgan.data.dataset import RESIZE_FILTER
from spatialgan.data.pack import pack_images
from spatialgan.imageutils import make_grid, save_image, to_uint8
from spatialgan.training.loop import Trainer

# Colour photos that scikit-image ships inside its wheel (no download on first use).
DEMO_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")

# recipe ada: the demo's minutes-long CPU budgets were tuned with StyleGAN2-ADA's values (R1 0.0064 at 32 px,
# bilinear); the papers' recipes (the default) are for full runs, and ScaleParty's needs reals at 2.5x the size.
DEMO_CONFIG = dict(model="stylegan2", resolution=32, batch=32, kimg=36.0, width=64, z_dim=128, w_dim=128,
                   mapping_layers=4, tick_kimg=1.0, snap_kimg=6.0, grid=64, device="cpu", recipe="ada")
# SSN, the paper's way: initialised from the StyleGAN2 run, then fine-tuned with the distortion regularizer at its
# default (lambda_D = 100 on the metric's scale, learned encoder: the sweep in benchmarks/RESULTS.md).
DEMO_SSN = dict(model="ssn", kimg=6.0, snap_kimg=6.0, latent_rows=4, latent_cols=4)
# CIPS with cylindrical coordinates (360 degrees = 4 frame widths), trained on the same crops as frames.
DEMO_CIPS = dict(model="cips", kimg=8.0, snap_kimg=8.0, cips_layers=8, panorama_frames=4.0, style_mixing=0.0)
# ScaleParty with multi-scale partial training (16 and 24 pixel renders of 60-100% regions) and CutMix/ChannelMix.
DEMO_SCALEPARTY = dict(model="scaleparty", kimg=10.0, snap_kimg=10.0)


def bundled_photos() -> dict[str, np.ndarray]:
    import skimage.data

    return {name: getattr(skimage.data, name)() for name in DEMO_PHOTOS}


def random_crops(photos: dict[str, np.ndarray], count: int, resolution: int, seed: int = 0):
    """Yields (name, image): square crops of 10-60% of the shorter side at random places, resized (Lanczos)."""
    rng = np.random.default_rng(seed)
    names = sorted(photos)
    for i in range(count):
        name = names[i % len(names)]
        arr = photos[name]
        h, w = arr.shape[:2]
        side = int(min(h, w) * rng.uniform(0.10, 0.60))
        top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(arr[top:top + side, left:left + side, :3])
        yield f"{name}#{i}", crop.resize((resolution, resolution), RESIZE_FILTER)


def build_demo_dataset(dest: Path, count: int = 4096, resolution: int = 32, seed: int = 0) -> Path:
    if not dest.exists():
        pack_images(random_crops(bundled_photos(), count, resolution, seed), dest, resolution,
                    "scikit-image bundled photos: " + ", ".join(DEMO_PHOTOS))
    return dest


def _svg_curves(records: list[dict], keys: list[str], width: int = 520, height: int = 220) -> str:
    """A small inline SVG line chart of stats.jsonl columns against kimg (no plotting library needed)."""
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    pts = {k: [(r["kimg"], r[k]) for r in records if k in r] for k in keys}
    xs = [x for v in pts.values() for x, _ in v]
    ys = [y for v in pts.values() for _, y in v]
    if not xs:
        return "<p>no statistics recorded</p>"
    x0, x1, y0, y1 = min(xs), max(xs) or 1, min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    def sx(x):
        return 40 + (x - x0) / (x1 - x0) * (width - 50)

    def sy(y):
        return height - 25 - (y - y0) / (y1 - y0) * (height - 40)

    parts = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" style="background:#fff">',
             f'<text x="5" y="12" font-size="10">{y1:.3g}</text><text x="5" y="{height - 25}" font-size="10">'
             f'{y0:.3g}</text><text x="{width - 60}" y="{height - 5}" font-size="10">{x1:.3g} kimg</text>']
    for i, (k, v) in enumerate(pts.items()):
        c = colors[i % len(colors)]
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in v)
        parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>')
        parts.append(f'<text x="{50 + 130 * i}" y="{height - 5}" font-size="11" fill="{c}">{html.escape(k)}</text>')
    return "".join(parts) + "</svg>"


class Report:
    """An HTML page of titled sections; models append their own pictures."""

    def __init__(self, outdir: Path, title: str):
        self.outdir, self.title, self.sections = outdir, title, []

    def add(self, title: str, body_html: str) -> None:
        self.sections.append((title, body_html))

    def image(self, array: np.ndarray, name: str, caption: str, upscale: int = 1) -> str:
        save_image(array, self.outdir / name, upscale)
        return (f'<figure><img src="{html.escape(name)}" style="image-rendering:pixelated">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    def write(self) -> Path:
        body = "".join(f"<section><h2>{html.escape(t)}</h2>{b}</section>" for t, b in self.sections)
        page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}figure{display:inline-block;"
                "margin:6px}table{border-collapse:collapse}td{border:1px solid #ccc;padding:2px 8px}</style>"
                f"</head><body><h1>{html.escape(self.title)}</h1>{body}</body></html>")
        path = self.outdir / "index.html"
        path.write_text(page)
        return path


def train_or_reuse(values: dict, progress: bool) -> tuple[Trainer, float]:
    """Trains a demo model to values['kimg']; a rerun continues (or simply reuses) the run in values['outdir']
    instead of starting over. Returns the trainer and the seconds spent in this call."""
    from spatialgan.checkpoint import find_snapshots

    snaps = find_snapshots(values["outdir"])
    trainer = Trainer.from_checkpoint(snaps[-1], {"kimg": values["kimg"]}) if snaps else Trainer(TrainConfig(**values))
    start = time.time()
    trainer.run(progress=progress)
    return trainer, time.time() - start


def train_section_model(outdir: Path, run_name: str, model_config: dict, data: Path, kimg: float, seed: int,
                        progress: bool, **extra):
    """Trains (or reuses) one report section's model in outdir/run_name on the demo data; returns
    (trainer, seconds spent in this call, the trained Model)."""
    run_dir = outdir / run_name
    values = dict(DEMO_CONFIG, **model_config)
    values.update(kimg=kimg, data=str(data), outdir=str(run_dir), seed=seed, **extra)
    trainer, seconds = train_or_reuse(values, progress)
    return trainer, seconds, load(run_dir)


def run_demo(outdir: str | Path = "demo-out", kimg: float | None = None, seed: int = 0, progress: bool = True
             ) -> Path:
    outdir = Path(outdir)
    run_dir = outdir / "run"
    outdir.mkdir(parents=True, exist_ok=True)
    data = build_demo_dataset(outdir / "demo-data.zip", resolution=DEMO_CONFIG["resolution"], seed=seed)
    values = dict(DEMO_CONFIG, data=str(data), outdir=str(run_dir), seed=seed)
    if kimg is not None:
        values["kimg"] = kimg
    trainer, train_seconds = train_or_reuse(values, progress)

    model = load(run_dir)
    cfg = model.config
    report = Report(outdir, "spatialgan demo report")
    add_shipped_section(report)
    records = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines() if line.strip()]
    speed = np.median([r["timing/img_per_sec"] for r in records]) if records else float("nan")
    rows = "".join(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in cfg.to_dict().items())
    report.add("This run", f"<p>spatialgan {__version__}, torch {torch.__version__}, {platform.processor() or 'cpu'}; "
                           f"trained a StyleGAN2 on crops of scikit-image's bundled photos for {trainer.cur_nimg} "
                           f"images in {train_seconds:.0f} s this call (median {speed:.1f} img/s), then the models "
                           f"below from it.</p><details><summary>configuration</summary><table>{rows}</table>"
                           "</details>")
    reals = np.asarray(Image.open(run_dir / "reals.png"))
    report.add("Training data", "<p>Random crops (10-60% of the shorter side) of scikit-image's bundled CC0 photos, "
                                "resized to 32x32 with Lanczos.</p>" + report.image(reals, "reals.png", "reals", 3))
    samples = model.sample(range(64), noise_mode="const")
    report.add("StyleGAN2 samples (G_ema, seeds 0-63)",
               report.image(make_grid(to_uint8(samples), 8), "samples.png", "truncation 1.0", 3))
    trunc = [model.sample(range(8), truncation_psi=psi, noise_mode="const") for psi in (1.0, 0.7, 0.4, 0.0)]
    report.add("Truncation", report.image(make_grid(to_uint8(torch.cat(trunc)), 8), "truncation.png",
                                          "rows: psi = 1.0, 0.7, 0.4, 0.0", 3))
    progress_imgs = "".join(
        report.image(np.asarray(Image.open(p)), f"progress-{p.stem}.png", f"{int(p.stem[5:]) / 1000:g} kimg", 2)
        for p in sorted(run_dir.glob("fakes*.png")))
    report.add("Progress (snapshot grids)", progress_imgs)
    report.add("Losses", _svg_curves(records, ["Loss/G/loss", "Loss/D/loss"]) +
               _svg_curves(records, ["Loss/scores/real", "Loss/scores/fake"]))
    add_ssn_section(report, outdir, data, trainer.cfg, DEMO_SSN["kimg"] if kimg is None else kimg / 4, seed,
                    progress)
    add_cips_section(report, outdir, data, DEMO_CIPS["kimg"] if kimg is None else kimg / 4, seed, progress)
    add_scaleparty_section(report, outdir, data, DEMO_SCALEPARTY["kimg"] if kimg is None else kimg / 4, seed,
                           progress)
    return report.write()


def add_shipped_section(report: Report) -> None:
    """The report opens with the shipped models (trained on photographs): samples, an SSN resampling strip, a CIPS
    panorama and a ScaleParty zoom, with their quality against held-back photos when it was measured."""
    from spatialgan.api import SHIPPED_DIR, SHIPPED_MODELS
    from spatialgan.models.ssn.resample import overview_strip

    quality_file = SHIPPED_DIR / "quality.json"
    quality = json.loads(quality_file.read_text()) if quality_file.is_file() else {}
    order = sorted(SHIPPED_MODELS, key=lambda n: n != "stylegan2")       # the baseline first, then the others
    models = {name: load(name) for name in order if (SHIPPED_DIR / f"{name}.safetensors").is_file()}
    body = [f"<p>{html.escape(quality.get('about', 'The models that ship with spatialgan.'))}</p>"]
    for name, model in models.items():
        grid = make_grid(to_uint8(model.sample(range(32), noise_mode=model.adapter.default_noise)), 8, pad=1)
        q = quality.get("models", {}).get(name)
        note = (f" SWD x1e3 {q['swd']:.1f} against held-back photos (real-vs-real floor {quality['floor_swd']:.1f}),"
                f" diversity {q['diversity']:.3f}." if q and "floor_swd" in quality else "")
        upscale = max(1, 128 // model.resolution)            # 8 samples across: at most 1024 px wide
        body.append(report.image(grid, f"shipped-{name}.png", f"{name}: seeds 0-31.{note}", upscale))
    if "ssn" in models:
        strip = overview_strip(models["ssn"].resample([(1, 2)], 6, seed=3), scale=4)
        body.append(report.image(strip, "shipped-ssn-resample.png", "ssn: seed 3, latent block (1, 2) redrawn six "
                                 "times; the rest of the image is kept", 1))
    cips = models.get("cips")
    if cips is not None and cips.G.panorama_frames:
        height = max(256, cips.resolution)              # CIPS renders any size: 256 px and more, as the issue asks
        turn = int(height * cips.G.panorama_frames)
        pano = cips.render(seed=1, size=(turn * 3 // 2, height), panorama=True)
        body.append(report.image(pano, "shipped-cips-panorama.png", f"cips: seed 1 as a 360-degree panorama at "
                                 f"{height} px, one and a half turns ({turn} px a turn): the seam does not show", 1))
    if "scaleparty" in models:
        sp = models["scaleparty"]
        size = max(256, 2 * sp.resolution)
        lo, hi = sp.trained_densities
        zooms = np.concatenate([sp.render(seed=2, size=(size, size), scale=sp.resolution / size / k)
                                for k in (1, 2, 4)], 1)
        body.append(report.image(zooms, "shipped-scaleparty-zoom.png", f"scaleparty: seed 2, the frame at {size} px, "
                                 f"then 2x and 4x zoom into its centre ({size}, {2 * size} and {4 * size} px per "
                                 f"frame height; trained at {lo:g}-{hi:g})", 1))
    body.append(quality_table(quality))
    report.add("Shipped models, trained on photographs", "".join(body))


def quality_table(quality: dict) -> str:
    """The shipped models' quality file as an HTML table: the two floors, then each model (SSN adds its own)."""
    if "floor_swd" not in quality:
        return ""
    floor = quality["floor_swd"]

    def cell(q, key, fmt):
        return f"<td>{format(q[key], fmt)}</td>" if key in q else "<td>-</td>"

    crops = quality["train_vs_heldout_swd"]
    rows = [f"<tr><td>real vs real (held-back halves)</td><td>{floor:.1f}</td><td>1.0x</td><td>{floor / crops:.2f}x"
            "</td><td colspan=5></td></tr>",
            f"<tr><td>training crops vs held-back</td><td>{crops:.1f}</td><td>{crops / floor:.1f}x</td><td>1.00x</td>"
            "<td colspan=5></td></tr>"]
    for name, q in quality.get("models", {}).items():
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{q['swd']:.1f}</td><td>{q['swd'] / floor:.1f}x</td>"
                    f"<td>{q['swd'] / crops:.2f}x</td>"
                    + cell(q, "kid_x1e3", ".1f") + cell(q, "diversity", ".3f") + cell(q, "distortion", ".4f")
                    + cell(q, "resample_ratio", ".1f") + cell(q, "leakage", ".3f") + "</tr>")
    return ("<table><tr><th>against held-back photos</th><th>SWD x1e3</th><th>to real vs real</th>"
            "<th>to training crops</th><th>KID proxy x1e3</th><th>diversity</th><th>distortion</th>"
            "<th>resampled block inside/outside</th><th>leakage</th></tr>"
            + "".join(rows) + "</table>")


def draw_box(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, color=(255, 40, 40)) -> np.ndarray:
    """A copy of an (H, W, 3) uint8 image with a one-pixel rectangle outline over [x0, x1) x [y0, y1)."""
    out = image.copy()
    h, w = out.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    out[y0:y1, [x0, x1 - 1]] = color
    out[[y0, y1 - 1], x0:x1] = color
    return out


def add_scaleparty_section(report: Report, outdir: Path, data: Path, kimg: float, seed: int, progress: bool) -> None:
    """Trains (or reuses) a small ScaleParty and adds pictures of one latent at many scales and regions."""
    from spatialgan.core.coords import swirl

    trainer, seconds, model = train_section_model(outdir, "scaleparty-run", DEMO_SCALEPARTY, data, kimg, seed,
                                                  progress)
    G, r = model.G, model.resolution

    def render(ws, **kw):
        return to_uint8(G.render(ws, noise_seed=0, **kw))

    with torch.no_grad():
        ws = model.map(model.latents(range(3)))
        zooms = np.geomspace(2.0, 0.25, 8)
        continuum = np.concatenate([render(ws, scale=float(s), size=(r, r)) for s in zooms])
        continuum = continuum.reshape(len(zooms), 3, r, r, 3).transpose(1, 0, 2, 3, 4).reshape(-1, r, r, 3)
        frame = render(ws[:1], scale=0.5, size=(2 * r, 2 * r))[0]          # the frame [-1, 1]^2 at 64x64
        cx, cy, zoom = 0.4, -0.3, 0.125                                   # 8x the trained pixel density

        def px(v, center, scale):          # image coordinate -> pixel of a 2r-wide render around `center`
            return int(round((v - center) / (scale * 2 / r) + r))

        zoomed = render(ws[:1], center=(cx, cy), scale=zoom, size=(2 * r, 2 * r))[0]
        half = zoom * 2 / r * r                                            # half the zoomed region, image units
        marked = draw_box(frame, px(cx - half, 0, 0.5), px(cy - half, 0, 0.5), px(cx + half, 0, 0.5),
                          px(cy + half, 0, 0.5))
        wide = render(ws[:1], scale=1.0, size=(r, 3 * r))[0]
        tall = render(ws[:1], scale=1.0, size=(2 * r, r))[0]
        outside = render(ws[:1], scale=2.0, size=(2 * r, 2 * r))[0]           # [-4, 4]: past the trained frame
        outside = draw_box(outside, px(-1, 0, 2.0), px(-1, 0, 2.0), px(1, 0, 2.0), px(1, 0, 2.0))
        warped = render(ws[:1], scale=0.5, size=(2 * r, 2 * r), warp=swirl(2.5, 0.7))[0]
    report.add("ScaleParty: one latent at any scale and region",
               f"<p>A ScaleParty generator (pad-free StyleGAN2 on scale-consistent positional encodings) trained for "
               f"{trainer.cur_nimg} images ({seconds:.0f} s this call) on random regions (60-100% of the frame) "
               f"rendered at 16 and 24 pixels, with CutMix/ChannelMix inter-scale augmentation. Noise is fixed in "
               f"image space ('grid'), so every picture below shows the same image.</p>"
               + report.image(make_grid(continuum, ncol=len(zooms), pad=2), "scaleparty-continuum.png",
                              "rows: seeds 0-2; columns: one latent at pixel sizes 2x down to 0.25x the trained "
                              "frame's, 32x32 each (a continuum of scales)", 3)
               + report.image(np.concatenate([marked, zoomed], 1), "scaleparty-zoom.png",
                              "seed 0: the frame (64x64) with a region marked, and that region rendered at 64x64 "
                              "(8x the trained pixel density)", 3)
               + report.image(wide, "scaleparty-wide.png", "aspect ratio 3:1 at the trained scale: the frame "
                              "extended sideways", 3)
               + report.image(tall, "scaleparty-tall.png", "aspect ratio 1:2", 3)
               + report.image(outside, "scaleparty-extrapolation.png", "extrapolation: four times the frame's "
                              "width and height; the box is the trained frame", 3)
               + report.image(warped, "scaleparty-swirl.png", "a swirl warp of the positional encoding", 3))


def add_cips_section(report: Report, outdir: Path, data: Path, kimg: float, seed: int, progress: bool) -> None:
    """Trains (or reuses) a small cylindrical CIPS and adds any-resolution, panorama and foveated pictures."""
    trainer, seconds, model = train_section_model(outdir, "cips-run", DEMO_CIPS, data, kimg, seed, progress)
    cfg, r = model.config, model.resolution
    z = model.latents(range(4))
    scales = [to_uint8(model.render_full_frame(z, r * k)) for k in (1, 2, 4)]
    up = [np.repeat(np.repeat(a, 4 // k, 1), 4 // k, 2) for a, k in zip(scales, (1, 2, 4))]
    rows = make_grid(np.concatenate(up), ncol=4, pad=2)
    frames = cfg.panorama_frames
    pano = model.render(z=z[:1], size=(int(r * 2 * frames), r), panorama=True)
    pano2 = np.concatenate([pano, pano[:, : pano.shape[1] // 4]], 1)     # wrapped past 360 degrees: no seam
    fov = model.render(z=z[:1], size=(4 * r, 4 * r), foveate=(0.3, -0.2), samples=(r, r), gamma=2.0)
    report.add("CIPS: any resolution, panorama, foveation",
               f"<p>A CIPS (pixels computed independently from coordinates, {cfg.cips_layers} modulated FC layers) "
               f"trained for {trainer.cur_nimg} images ({seconds:.0f} s this call) with cylindrical coordinates: "
               f"each crop is a frame of a 360-degree panorama {frames:g} frames wide.</p>"
               + report.image(rows, "cips-scales.png", "rows: seeds 0-3 rendered at 32, 64 and 128 pixels "
                              "(shown at one size)", 2)
               + report.image(pano2, "cips-panorama.png", "seed 0: the whole 360-degree strip, followed by its "
                              "first quarter again (the seam is continuous)", 2)
               + report.image(fov, "cips-foveated.png", "seed 0, foveated: 32x32 samples concentrated at "
                              "(0.3, -0.2), resampled to 128x128", 2))


def add_ssn_section(report: Report, outdir: Path, data: Path, stylegan2_cfg: TrainConfig, kimg: float, seed: int,
                    progress: bool) -> None:
    """Fine-tunes an SSN from the demo's StyleGAN2 (or reuses it) and adds block-resampling strips."""
    from spatialgan.checkpoint import find_snapshots
    from spatialgan.models.ssn.distortion import distortion
    from spatialgan.models.ssn.resample import overview_strip

    trainer, seconds, model = train_section_model(
        outdir, "ssn-run", DEMO_SSN, data, kimg, seed, progress,
        init_from=str(find_snapshots(stylegan2_cfg.outdir)[-1]))
    cfg, rows = model.config, []
    for s in range(4):
        block = (s % cfg.latent_rows, (3 * s + 1) % cfg.latent_cols)
        rows.append(overview_strip(model.resample([block], 6, seed=s), scale=4))
    d = distortion(model.G, 256, seed=seed)["value"]
    report.add("SSN block resampling",
               f"<p>An SSN initialised from the StyleGAN2 above and fine-tuned for {trainer.cur_nimg} images "
               f"({seconds:.0f} s this call) with the distortion regularizer (lambda_D = {cfg.lambda_distortion:g}), "
               f"4x4 latent blocks. Each row: an image with its latent grid and one block marked, then six versions "
               f"with only that latent block redrawn (`spatialgan resample`). Distortion outside the block: {d:.4f} "
               f"(mean squared difference in [-1, 1], 256 samples).</p>"
               + "".join(report.image(r, f"ssn-resample-{i}.png", f"seed {i}", 1) for i, r in enumerate(rows)))
