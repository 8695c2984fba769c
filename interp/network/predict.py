"""Classification: the model's top guesses for an image, never the unused dummy classes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from interp.network.labels import Labels
from interp.network.model import InceptionV1


@dataclass(frozen=True)
class Prediction:
    index: int  # logit index (1..1000)
    label: str
    probability: float

    def as_dict(self, digits: int = 4) -> dict:
        return {**asdict(self), "probability": round(self.probability, digits)}


def probabilities(model: InceptionV1, images: torch.Tensor) -> torch.Tensor:
    """Softmax over all 1008 logits (the network's own softmax2), N x 1008, on the CPU."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        return model(images.to(device)).float().softmax(dim=-1).cpu()


def top_predictions(probs: torch.Tensor, labels: Labels, top: int = 5) -> list[Prediction]:
    """The ``top`` most probable real classes of one probability vector (dummy classes skipped)."""
    probs = probs.reshape(-1).clone()
    real = torch.zeros_like(probs, dtype=torch.bool)
    real[list(labels.real_indices)] = True
    probs[~real] = -1.0
    values, indices = probs.topk(max(0, min(top, int(real.sum()))))
    return [Prediction(int(i), labels.name(int(i)), float(v)) for v, i in zip(values, indices)]


def classify(model: InceptionV1, image: torch.Tensor, labels: Labels, top: int = 5) -> list[Prediction]:
    """Top predictions for one image (1 x 3 x H x W, RGB in [0, 1])."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    return top_predictions(probabilities(model, image)[0], labels, top)
