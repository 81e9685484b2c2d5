"""Discriminator augmentation: ADA's adaptive 'bgc' pipeline, a fixed-p variant, and DiffAugment (training only)."""

from __future__ import annotations

from spatialgan.training.augment.ada import AdaPipeline
from spatialgan.training.augment.controller import AdaptiveProbability
from spatialgan.training.augment.diffaug import diffaugment


class Augmenter:
    """What D's inputs go through in one run: `augment(images)` on reals, fakes and R1's reals alike.

    ada: the bgc pipeline at a probability p that the controller moves with D's overfitting; fixed: the same
    pipeline at --augment-p; diffaug: DiffAugment's colour, translation and cutout on every image; none: identity.
    Images may carry extra channels after RGB (CIPS's coordinates): geometric ops move them with the image,
    colour ops leave them alone."""

    def __init__(self, config):
        self.mode = config.augment
        self.pipeline = AdaPipeline() if self.mode in ("ada", "fixed") else None
        self.controller = (AdaptiveProbability(config.augment_p, config.ada_target, config.ada_kimg)
                           if self.mode == "ada" else None)
        self.fixed_p = config.augment_p

    @property
    def p(self) -> float:
        if self.controller is not None:
            return self.controller.p
        return self.fixed_p if self.mode == "fixed" else (1.0 if self.mode == "diffaug" else 0.0)

    def __call__(self, images):
        if isinstance(images, (list, tuple)):            # several batches (ScaleParty's pair): each augmented
            return [self(x) for x in images]
        if self.mode == "diffaug":
            return diffaugment(images)
        if self.pipeline is None:
            return images
        return self.pipeline(images, self.p)

    def observe_reals(self, real_logits) -> None:
        """D's logits on augmented reals feed the overfitting heuristic r_t = E[sign(D(real))]."""
        if self.controller is not None:
            self.controller.accumulate(real_logits)

    def state_dict(self) -> dict:
        return {} if self.controller is None else self.controller.state_dict()

    def load_state_dict(self, state: dict) -> None:
        if self.controller is not None and state:
            self.controller.load_state_dict(state)


__all__ = ["AdaPipeline", "AdaptiveProbability", "Augmenter", "diffaugment"]
