"""Projection of a real image into a ScaleParty latent (W+), matched at two scales at once (ScaleParty Sec. 4.4).

The W+ latent starts at the mean w and is optimised with Adam so that the full-frame render at the trained
resolution R matches the image and the render at R/2 (the same frame, pixels twice as large) matches the image
downsized to R/2 (antialiased). Loss per scale: mean squared error plus, when LPIPS weights are given, the LPIPS
distance; without them a Laplacian-pyramid L1 (three levels) stands in for the perceptual term, so edges and
texture count beside the colours. The noise is the 'grid' policy with a fixed seed and is not optimised, so the
projected latent renders the same at any other region, scale or warp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from spatialgan import SpatialGANError
from spatialgan.imageutils import resize_antialiased


@dataclass
class Projection:
    ws: torch.Tensor                          # (1, num_ws, w_dim)
    losses: list[float] = field(default_factory=list)
    perceptual: str = "pyramid-l1"


def load_target(path: str | Path, resolution: int) -> torch.Tensor:
    """A photo as (1, 3, R, R) in [-1, 1]: the largest centred square, resized with Lanczos."""
    from PIL import Image, UnidentifiedImageError

    from spatialgan.data.dataset import ImageTooLarge, crop_square, open_image

    path = Path(path)
    if not path.is_file():
        raise SpatialGANError(f"no image at {path}")
    try:
        img = open_image(path)
    except ImageTooLarge as exc:
        raise SpatialGANError(f"{path}: {exc}") from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise SpatialGANError(f"cannot read {path} as an image: {exc}") from None
    img = crop_square(img, "center").resize((resolution, resolution), Image.LANCZOS)
    array = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(resolution, resolution, 3)
    return array.permute(2, 0, 1)[None].float() / 127.5 - 1


def laplacian_l1(a: torch.Tensor, b: torch.Tensor, levels: int = 3) -> torch.Tensor:
    """Sum over pyramid levels of the mean absolute difference of the band-pass images (2x2 average pooling down,
    bilinear up), plus the coarsest low-pass."""
    total = a.new_zeros(())
    for _ in range(levels):
        if min(a.shape[-2:]) < 2:
            break
        a_low, b_low = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        up = dict(size=a.shape[-2:], mode="bilinear", align_corners=False)
        total = total + ((a - F.interpolate(a_low, **up)) - (b - F.interpolate(b_low, **up))).abs().mean()
        a, b = a_low, b_low
    return total + (a - b).abs().mean()


def mean_w(G, samples: int = 1000, seed: int = 0) -> torch.Tensor:
    device = next(G.parameters()).device
    z = torch.randn(samples, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(device)
    with torch.no_grad():
        return G.map(z).mean(0, keepdim=True)


MAX_STEPS, MAX_LR, MAX_SEED = 100_000, 10.0, 2 ** 63 - 1


def check_project_options(steps, lr, noise_seed) -> None:
    """One-line errors for the optimiser's settings (an infinite lr would 'succeed' with a black image)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise SpatialGANError(f"--steps must be a whole number within 1..{MAX_STEPS}, got {steps}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or not 0 < lr <= MAX_LR:
        raise SpatialGANError(f"--lr must be a number in (0, {MAX_LR:g}], got {lr}")
    if isinstance(noise_seed, bool) or not isinstance(noise_seed, int) or not 0 <= noise_seed <= MAX_SEED:
        raise SpatialGANError(f"--noise-seed must be a whole number within 0..2^63-1, got {noise_seed}")


def project(G, target: torch.Tensor, steps: int = 300, lr: float = 0.05, lpips=None, noise_seed: int = 0,
            progress=None) -> Projection:
    """Optimises W+ for `target` (1, 3, R, R) in [-1, 1] at two scales. `lpips`: an LPIPS module or None."""
    if not hasattr(G, "tiles"):
        raise SpatialGANError("project needs a scaleparty model")
    r = G.resolution
    if target.shape[-2:] != (r, r):
        raise SpatialGANError(f"the target must be {r}x{r} for this model, got {tuple(target.shape[-2:])}")
    check_project_options(steps, lr, noise_seed)
    target = target.to(next(G.parameters()).device)
    small = resize_antialiased(target, r // 2)
    views = ((1.0, r, target), (2.0, r // 2, small))          # (scale, size, target): one frame, two pixel sizes
    ws = mean_w(G).clone().requires_grad_(True)
    opt = torch.optim.Adam([ws], lr=lr, betas=(0.9, 0.999))
    result = Projection(ws=ws, perceptual="lpips" if lpips is not None else "pyramid-l1")
    for step in range(steps):
        t = step / steps                                       # StyleGAN2's projector schedule: ramp up, cosine down
        ramp_down = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1 - t) / 0.25))
        opt.param_groups[0]["lr"] = lr * min(1.0, (step + 1) / max(1, 0.05 * steps)) * ramp_down
        loss = ws.new_zeros(())
        for scale, size, goal in views:
            image = G.render(ws, scale=scale, size=(size, size), noise_mode="grid", noise_seed=noise_seed)
            loss = loss + F.mse_loss(image, goal)
            loss = loss + (lpips(image, goal).mean() if lpips is not None else laplacian_l1(image, goal))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        result.losses.append(float(loss.detach()))
        if progress:
            progress(step, result.losses[-1])
    result.ws = ws.detach()
    return result


SHOWCASE_SCALES = (2.0, 1.0, 0.5, 0.25)      # zoomed out (extrapolating past the frame), the frame, zoomed in 2x, 4x


@torch.no_grad()
def write_projection(G, result: Projection, target: torch.Tensor, outdir: str | Path, noise_seed: int = 0,
                     upscale: int = 4) -> list[Path]:
    """target.png, projection.png, scales.png (the latent at SHOWCASE_SCALES around the centre), warps.png (swirl,
    stretch) and latent.safetensors (`ws`, which `spatialgan render --ws` reads)."""
    from safetensors.torch import save

    from spatialgan.atomic import write_atomic
    from spatialgan.core.coords import stretch, swirl
    from spatialgan.imageutils import make_grid, save_image, to_uint8

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    r = G.resolution
    ws = result.ws.to(next(G.parameters()).device)
    render = dict(size=(r, r), noise_mode="grid", noise_seed=noise_seed)
    save_image(to_uint8(target)[0], outdir / "target.png", upscale)
    save_image(to_uint8(G.render(ws, **render))[0], outdir / "projection.png", upscale)
    scales = torch.cat([G.render(ws, scale=s, **render) for s in SHOWCASE_SCALES])
    save_image(make_grid(to_uint8(scales), ncol=len(SHOWCASE_SCALES), pad=2), outdir / "scales.png", upscale)
    warps = torch.cat([G.render(ws, warp=w, **render) for w in (swirl(2.0, 0.8), stretch(1.5, 1.0))])
    save_image(make_grid(to_uint8(warps), ncol=2, pad=2), outdir / "warps.png", upscale)
    write_atomic(outdir / "latent.safetensors", save({"ws": result.ws.contiguous().cpu()},
                 metadata={"noise_seed": str(noise_seed), "perceptual": result.perceptual,
                           "final_loss": f"{result.losses[-1]:.6f}"}))
    return [outdir / n for n in ("target.png", "projection.png", "scales.png", "warps.png", "latent.safetensors")]


def load_ws(path: str | Path, G) -> torch.Tensor:
    """A W+ latent written by `project` (or the studio), checked against the model."""
    from spatialgan.latents import load_latent_tensor

    return load_latent_tensor(path, "ws", (G.num_ws, G.w_dim)).to(next(G.parameters()).device)


def project_photo(G, image: str | Path, outdir: str | Path, steps: int = 300, lr: float = 0.05, lpips=None,
                  noise_seed: int = 0, log=print) -> tuple[Projection, list[Path]]:
    """`spatialgan project`: loads the photo, projects it (with an LPIPS module, or the pyramid L1), writes the
    outputs; logs ten progress lines."""
    target = load_target(image, G.resolution)
    every = max(1, steps // 10)

    def progress(step, loss):
        if step % every == 0 or step == steps - 1:
            log(f"step {step + 1}/{steps}  loss {loss:.4f}")

    result = project(G, target, steps, lr, lpips, noise_seed, progress)
    return result, write_projection(G, result, target, outdir, noise_seed)
