"""GAN losses and regularizers: non-saturating logistic loss, R1, and path-length regularization."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from spatialgan import batchrng


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating loss: mean softplus(-D(G(z))) = -log sigmoid(D(G(z)))."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic loss: mean softplus(D(G(z))) + mean softplus(-D(x))."""
    return discriminator_fake_loss(fake_logits) + discriminator_real_loss(real_logits)


def discriminator_fake_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The fakes' half of the logistic loss (backpropagated on its own, so that fakes' and reals' graphs are never
    held together)."""
    return F.softplus(fake_logits).mean()


def discriminator_real_loss(real_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(-real_logits).mean()


def r1_penalty(real_images: torch.Tensor, real_logits: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """Per-sample squared gradient norm ||dD(x)/dx||^2 (reals must require grad); weight it by gamma/2. With
    `channels`, only the first that many input channels count (the image, not conditioning channels after it)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad[:, :channels].square().sum(dim=[1, 2, 3])


def path_length_penalty(images: torch.Tensor, ws: torch.Tensor, pl_mean: torch.Tensor, decay: float = 0.01,
                        reduce_mean=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2's path-length regularizer.

    With y ~ N(0, I) / sqrt(H W), the per-sample length is ||J_w^T y|| = sqrt(mean over layers of
    sum over features of (d(sum g(w) * y)/dw)^2); the penalty is (length - a)^2 with a the running mean.
    Returns (per-sample penalty, lengths, updated running mean); `pl_mean` is not modified. `reduce_mean` turns
    this process's batch mean into the global one (distributed training).
    """
    h, w = images.shape[-2:]
    noise = batchrng.randn(*images.shape, device=images.device, dtype=images.dtype) / math.sqrt(h * w)
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=-1).flatten(1).mean(dim=1).sqrt()
    batch_mean = lengths.detach().mean()
    if reduce_mean is not None:
        batch_mean = reduce_mean(batch_mean)
    new_mean = pl_mean.lerp(batch_mean.to(pl_mean.dtype), decay)
    return (lengths - new_mean).square(), lengths, new_mean


def lazy_adam_hyperparameters(lr: float, betas: tuple[float, float], interval: int
                              ) -> tuple[float, tuple[float, float]]:
    """Adjusts Adam for a regularizer run every `interval` steps (StyleGAN2 appendix): lr*c, betas**c, c = k/(k+1)."""
    if not interval:
        return lr, (float(betas[0]), float(betas[1]))
    c = interval / (interval + 1)
    return lr * c, (float(betas[0]) ** c, float(betas[1]) ** c)
