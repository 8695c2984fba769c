"""The model-randomisation sanity check (Adebayo et al., "Sanity Checks for Saliency Maps", 2018).

Re-initialise the weights of the top layers, one more layer at a time (logits, then mixed5b, mixed5a, ...),
and compare each method's map on the randomised model with its map on the trained one. A map that explains
the MODEL must change when the model's knowledge is destroyed; a map that barely changes (high rank
correlation) is mostly showing the image's edges, whatever the network learned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from interp.attribution.methods import Attribution, as_batch, attribute
from interp.attribution.replicas import fresh_replica

# Top-down cascade for InceptionV1: (what a person reads, the prefix of the parameter names it covers).
CASCADE: tuple[tuple[str, str], ...] = (
    ("logits", "softmax2_pre_activation_matmul"),
    ("mixed5b", "mixed5b_"),
    ("mixed5a", "mixed5a_"),
    ("mixed4e", "mixed4e_"),
    ("mixed4d", "mixed4d_"),
)
DEFAULT_METHODS = ("saliency", "guided-backprop", "gradcam", "ig")

Progress = Callable[[int, int, str], object]  # (done, total, what is being computed)


@dataclass
class SanityStage:
    randomised: tuple[str, ...]  # every layer re-initialised so far, top first
    correlation: dict[str, float]  # method -> Spearman rank correlation with the trained model's map
    heat: dict[str, torch.Tensor] = field(default_factory=dict)  # method -> |map| (H x W) on this model


@dataclass
class SanityCheck:
    target: int
    methods: tuple[str, ...]
    original: dict[str, torch.Tensor]  # method -> |map| on the trained model
    stages: list[SanityStage]
    seconds: float

    def final_correlation(self, method: str) -> float:
        return self.stages[-1].correlation[method]


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """Rank correlation of two maps of the same shape (1: same order of importance, 0: unrelated)."""
    ra, rb = _ranks(a.flatten().double()), _ranks(b.flatten().double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(ra.norm() * rb.norm())
    return float((ra @ rb) / denominator) if denominator > 0 else 0.0


def _ranks(values: torch.Tensor) -> torch.Tensor:
    ranks = torch.empty_like(values)
    ranks[values.argsort()] = torch.arange(len(values), dtype=values.dtype)
    return ranks


def randomise(model: nn.Module, prefixes: Sequence[str], *, seed: int = 0) -> nn.Module:
    """A copy of ``model`` whose parameters under ``prefixes`` are redrawn from a normal distribution with
    each tensor's own standard deviation (the scale stays plausible; what was learned is gone)."""
    copy = fresh_replica(model)
    generator = torch.Generator().manual_seed(seed)
    found = 0
    with torch.no_grad():
        for name, parameter in copy.named_parameters():
            if any(name.startswith(prefix) for prefix in prefixes):
                std = float(parameter.float().std()) if parameter.numel() > 1 else 0.01
                noise = torch.randn(parameter.shape, generator=generator) * (std or 0.01)
                parameter.copy_(noise.to(parameter.device, parameter.dtype))
                found += 1
    if prefixes and not found:
        raise ValueError(f"no parameters start with {', '.join(prefixes)}")
    return copy


def randomisation_check(
    model: nn.Module,
    image: torch.Tensor,
    *,
    target: int | None = None,
    methods: Sequence[str] = DEFAULT_METHODS,
    cascade: Sequence[tuple[str, str]] = CASCADE,
    options: dict[str, dict] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> SanityCheck:
    """Run ``methods`` on the trained model, then on copies with ever more top layers randomised."""
    start = time.perf_counter()
    options = options or {}
    image = as_batch(image, model)
    total, done = len(methods) * (len(cascade) + 1), 0

    def run(on: nn.Module, label: str) -> dict[str, Attribution]:
        nonlocal done, target
        out = {}
        for method in methods:
            if progress is not None:
                progress(done, total, f"{method} on the {label} model")
            out[method] = attribute(on, image, method, target=target, **options.get(method, {}))
            target = out[method].target  # the trained model's top class, kept for every randomised copy
            done += 1
        return out

    original = {m: r.heat(absolute=True) for m, r in run(model, "trained").items()}
    stages: list[SanityStage] = []
    for depth in range(1, len(cascade) + 1):
        names = tuple(label for label, _ in cascade[:depth])
        randomised = randomise(model, [prefix for _, prefix in cascade[:depth]], seed=seed)
        heat = {m: r.heat(absolute=True) for m, r in run(randomised, "randomised " + names[-1]).items()}
        stages.append(SanityStage(names, {m: spearman(original[m], heat[m]) for m in methods}, heat))
        del randomised
    if progress is not None:
        progress(total, total, "done")
    return SanityCheck(int(target), tuple(methods), original, stages, time.perf_counter() - start)
