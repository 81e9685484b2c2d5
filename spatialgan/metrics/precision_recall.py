"""Improved precision and recall (Kynkäänniemi et al. 2019): k-NN hyperspheres approximate each manifold."""

from __future__ import annotations

import torch


def knn_radii(features: torch.Tensor, k: int = 3, batch: int = 4096) -> torch.Tensor:
    """Distance from each point to its k-th nearest other point."""
    radii = []
    for chunk in features.split(batch):
        d = torch.cdist(chunk, features)
        radii.append(d.kthvalue(k + 1, dim=1).values)   # the k+1-th smallest includes the point itself (0)
    return torch.cat(radii)


def coverage(manifold: torch.Tensor, radii: torch.Tensor, probes: torch.Tensor, batch: int = 4096) -> float:
    """Fraction of probes inside at least one hypersphere (centre in `manifold`, radius in `radii`)."""
    inside = []
    for chunk in probes.split(batch):
        inside.append((torch.cdist(chunk, manifold) <= radii[None]).any(dim=1))
    return float(torch.cat(inside).double().mean())


def precision_recall(real: torch.Tensor, fake: torch.Tensor, k: int = 3) -> tuple[float, float]:
    """precision: fakes inside the real manifold; recall: reals inside the fake manifold."""
    real, fake = real.double(), fake.double()
    precision = coverage(real, knn_radii(real, k), fake)
    recall = coverage(fake, knn_radii(fake, k), real)
    return precision, recall
