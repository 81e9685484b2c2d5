"""ADA's adaptive augmentation probability: p follows the overfitting heuristic r_t = E[sign(D(real))]."""

from __future__ import annotations

import math

import torch

from spatialgan import SpatialGANError

ADJUST_INTERVAL = 4      # iterations over which r_t is accumulated before p moves (ADA's default)


class AdaptiveProbability:
    """p moves by sign(r_t - target) * (images seen in the interval) / (ada_kimg * 1000), within [0, 1]: from 0 to
    1 in ada_kimg thousand images of steady overfitting. Under torchrun the sign sums are all-reduced before the
    step, so every rank holds the same p."""

    def __init__(self, p: float = 0.0, target: float = 0.6, ada_kimg: float = 500.0):
        self.p, self.target, self.ada_kimg = float(p), float(target), float(ada_kimg)
        self.sign_sum = 0.0
        self.count = 0
        self.last_rt: float | None = None

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Kept on the logits' device: the one host sync is at the adjustment, every ADJUST_INTERVAL steps."""
        signs = torch.sign(real_logits.detach().float()).sum()
        self.sign_sum = signs + self.sign_sum
        self.count += real_logits.numel()

    def update(self, step: int, images_per_step: int, reduce_sum=None) -> None:
        """Call after every iteration; every ADJUST_INTERVAL-th moves p. `reduce_sum` sums a tensor over ranks."""
        if (step + 1) % ADJUST_INTERVAL:
            return
        totals = torch.tensor([float(self.sign_sum), float(self.count)], dtype=torch.float64)
        if reduce_sum is not None:
            totals = reduce_sum(totals)
        self.sign_sum, self.count = 0.0, 0
        if totals[1] <= 0:
            return
        self.last_rt = float(totals[0] / totals[1])
        speed = images_per_step * ADJUST_INTERVAL / (self.ada_kimg * 1000)
        direction = (self.last_rt > self.target) - (self.last_rt < self.target)
        self.p = min(max(self.p + direction * speed, 0.0), 1.0)

    def state_dict(self) -> dict:
        return {"p": torch.tensor(self.p, dtype=torch.float64),
                "sign_sum": torch.tensor(float(self.sign_sum), dtype=torch.float64),
                "count": torch.tensor(self.count, dtype=torch.int64)}

    def load_state_dict(self, state: dict) -> None:
        try:
            p, sign_sum, count = float(state["p"]), float(state["sign_sum"]), int(state["count"])
        except (KeyError, TypeError, ValueError, RuntimeError):
            raise SpatialGANError("checkpoint's augmentation state is malformed") from None
        if not (0 <= p <= 1 and math.isfinite(sign_sum) and count >= 0):
            raise SpatialGANError(f"checkpoint's augmentation state is out of range (p = {p:g})")
        self.p, self.sign_sum, self.count = p, sign_sum, count
