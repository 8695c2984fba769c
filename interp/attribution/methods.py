"""Input attribution: which pixels pushed a class, by seven methods behind one verb.

    from interp.attribution import attribute
    result = attribute(model, image, "ig", target=41)      # Integrated Gradients for "dalmatian"
    result.map      # 3 x H x W (input methods) or H x W (Grad-CAM)
    result.heat()   # H x W, what an overlay shows

Everything is Captum's; this module picks sensible defaults, bounds memory (IG and SmoothGrad work in
batches), and runs on a private replica of the model (see :mod:`interp.attribution.replicas`) so hooks never
reach the model other sessions share. Captum is imported on first use: it pulls matplotlib, about half a
second that the app's first page should not pay.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from interp.attribution.replicas import borrowed, counterpart
from interp.errors import InterpError
from interp.network.layers import NUM_LOGITS, REAL_LOGITS, layer_info

# Captum announces its ReLU hooks on every guided call; that is the point of running on a replica, not news.
warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU activations", module="captum")


class AttributionError(InterpError, ValueError):
    """Bad attribution settings: unknown method, target out of range, a layer the method cannot use."""


@dataclass(frozen=True)
class Method:
    name: str  # what the CLI and the URL say
    title: str  # what a person reads
    signed: bool  # True: positive and negative evidence (diverging colours); False: magnitude only
    uses_layer: bool  # Grad-CAM family: needs a layer
    input_shaped: bool  # the raw map is C x H x W (else H x W)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("saliency", "Saliency (gradient)", signed=False, uses_layer=False, input_shaped=True),
        Method("ig", "Integrated Gradients", signed=True, uses_layer=False, input_shaped=True),
        Method("smoothgrad", "SmoothGrad", signed=False, uses_layer=False, input_shaped=True),
        Method("guided-backprop", "Guided Backprop", signed=True, uses_layer=False, input_shaped=True),
        Method("gradcam", "Grad-CAM", signed=False, uses_layer=True, input_shaped=False),
        Method("guided-gradcam", "Guided Grad-CAM", signed=True, uses_layer=True, input_shaped=True),
        Method("occlusion", "Occlusion", signed=True, uses_layer=False, input_shaped=True),
    )
}

# Grad-CAM's layer: the last block, as in the Grad-CAM paper. Earlier layers (mixed4d, 14 x 14) look finer but
# can light up flat background: on the test photo shrunk into one corner of a grey canvas, mixed4d put 4% of
# its map on the dog, mixed5a 98% and mixed5b 92% (tests/test_attribution.py uses such compositions).
DEFAULT_LAYER = "mixed5b"
BASELINES = ("black", "blur", "noise")

# Defaults, each overridable by keyword (the CLI and the page expose them).
# Batches of 4 images: on 2 CPU cores a forward+backward costs ~72 ms per image at 4, ~120 ms at 16 (cache).
DEFAULTS: dict[str, dict[str, Any]] = {
    "ig": {"steps": 32, "baseline": "black", "batch": 4},
    "smoothgrad": {"samples": 8, "noise": 0.15, "batch": 4, "seed": 0},
    "occlusion": {"window": 56, "stride": 28, "fill": 0.5, "batch": 8},
    "gradcam": {"layer": DEFAULT_LAYER},
    "guided-gradcam": {"layer": DEFAULT_LAYER},
}


@dataclass
class Attribution:
    """One method's answer for one image and one class."""

    method: str
    target: int
    map: torch.Tensor  # C x H x W (input methods) or H x W (Grad-CAM, upsampled to the image), on the CPU
    params: dict[str, Any]
    seconds: float
    probability: float = float("nan")  # softmax probability of the target on this image
    delta: float | None = None  # Integrated Gradients: completeness error, sum(map) - (f(x) - f(baseline))
    layer_map: torch.Tensor | None = None  # Grad-CAM at the layer's own resolution (h x w)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def info(self) -> Method:
        return METHODS[self.method]

    def heat(self, *, absolute: bool | None = None) -> torch.Tensor:
        """H x W: channels summed. Signed methods keep their sign unless ``absolute``."""
        values = self.map.sum(dim=0) if self.map.dim() == 3 else self.map
        absolute = (not self.info.signed) if absolute is None else absolute
        return values.abs() if absolute else values

    def as_dict(self) -> dict[str, Any]:
        """What ``--json`` prints (without the map)."""
        out = {
            "method": self.method,
            "target": self.target,
            "probability": round(self.probability, 6),
            "params": self.params,
            "seconds": round(self.seconds, 4),
            **self.extra,
        }
        if self.delta is not None:
            out["convergence_delta"] = self.delta
        return out


# -- the one verb ----------------------------------------------------------------------------------------


def attribute(
    model: nn.Module,
    image: torch.Tensor,
    method: str,
    *,
    target: int | None = None,
    **options: Any,
) -> Attribution:
    """Attribute ``model``'s ``target`` logit (default: its top class) to ``image`` (1 x 3 x H x W, or
    3 x H x W, RGB in [0, 1]) by ``method``. Options per method (defaults in ``DEFAULTS``):

    ig: steps, baseline (black | blur | noise | a tensor), batch (images per pass: bounds memory)
    smoothgrad: samples, noise (sd in [0, 1] pixel units), batch, seed (of the noise: same seed, same map)
    occlusion: window, stride (pixels), fill (grey value of the patch), batch
    gradcam, guided-gradcam: layer (a catalogue name such as ``mixed4d`` or ``mixed4d_pre_relu``, or a module
        of ``model``, which is mapped to the private replica's copy of it)
    """
    if method not in METHODS:
        raise AttributionError(f"Unknown method '{method}': use one of {', '.join(METHODS)}.")
    params = {**DEFAULTS.get(method, {}), **{k: v for k, v in options.items() if v is not None}}
    unknown = set(params) - set(DEFAULTS.get(method, {}))
    if unknown:
        raise AttributionError(f"{method} takes no option {', '.join(sorted(unknown))}.")
    image = as_batch(image, model)
    start = time.perf_counter()
    with borrowed(model) as replica:
        with torch.no_grad():
            logits = replica(image)[0].float()
        target = top_class(logits) if target is None else checked_target(target, logits)
        raw, delta, layer_map = _RUNNERS[method](replica, image, target, params, logits=logits, shared=model)
    seconds = time.perf_counter() - start
    shown = {k: (v if isinstance(v, (int, float, str, bool)) else type(v).__name__) for k, v in params.items()}
    return Attribution(
        method,
        target,
        raw[0].detach().float().cpu(),
        shown,
        seconds,
        probability=float(logits.softmax(dim=0)[target]),
        delta=delta,
        layer_map=None if layer_map is None else layer_map.detach().float().cpu(),
    )


def top_class(logits: torch.Tensor) -> int:
    """The highest logit of one image; for InceptionV1 never one of its unused dummy classes."""
    logits = logits.reshape(-1).float()
    if logits.numel() == NUM_LOGITS:
        masked = torch.full_like(logits, -math.inf)
        masked[REAL_LOGITS.start : REAL_LOGITS.stop] = logits[REAL_LOGITS.start : REAL_LOGITS.stop]
        logits = masked
    return int(logits.argmax())


def checked_target(target: int, logits: torch.Tensor) -> int:
    """``target`` if it is a real class of the model whose ``logits`` these are, else a clear error."""
    classes = logits.numel()
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < classes:
        raise AttributionError(f"target {target} is not a class of this model (0-{classes - 1}).")
    if classes == NUM_LOGITS and target not in REAL_LOGITS:
        raise AttributionError(
            f"target {target} is one of InceptionV1's unused dummy classes; "
            f"choose {REAL_LOGITS.start}-{REAL_LOGITS.stop - 1}."
        )
    return int(target)


def as_batch(image: torch.Tensor, model: nn.Module) -> torch.Tensor:
    """One RGB image as the batch of one that every method takes, on ``model``'s device, wanting gradients."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] != 3:
        raise AttributionError(f"attribute takes one RGB image (1 x 3 x H x W), not {tuple(image.shape)}.")
    device = next(model.parameters()).device
    # Channels-last like the model's weights: the interpolated batches Captum builds from it keep that
    # layout, which saves a conversion per pass (IG, 32 steps: 2.14-2.20 s instead of 2.24-2.65 s).
    # A leaf that wants gradients: Captum would otherwise switch that on itself, with a warning.
    image = image.detach().to(device=device, dtype=torch.float32).contiguous(memory_format=torch.channels_last)
    return image.requires_grad_(True)


def resolve_layer(model: nn.Module, layer: str | nn.Module, shared: nn.Module) -> nn.Module:
    """The module of ``model`` (a private replica of ``shared``) to hook for ``layer``. A catalogue name
    (``mixed4d``, ``4d``, ``mixed4d_pre_relu``) becomes the hook point there; other models may name any
    submodule (``features.3``); a module of ``shared`` becomes the replica's copy of it, so that no hook ever
    lands on the model other sessions share."""
    if isinstance(layer, nn.Module):
        module = counterpart(layer, shared, model)
        if module is None:
            raise AttributionError(
                "The layer given is a module that is not part of this model: pass a layer name "
                "such as 'mixed4d', or one of the model's own modules."
            )
        return module
    hooks = getattr(model, "hook", None)
    if isinstance(hooks, nn.ModuleDict):
        info = layer_info(layer)  # raises UnitError with the list of names
        if info.name == "logits" or info.kind == "avgpool":
            raise AttributionError(f"{info.name} has no spatial map: choose a convolutional layer or block.")
        return hooks[info.name]
    try:
        return model.get_submodule(layer)
    except AttributeError:
        raise AttributionError(f"The model has no layer '{layer}'.") from None


def make_baseline(image: torch.Tensor, kind: str | torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """The "absence of signal" IG integrates from: black, a heavy blur of the image, or uniform noise."""
    if isinstance(kind, torch.Tensor):
        return kind.to(image.device, image.dtype).expand_as(image)
    if kind == "black":
        return torch.zeros_like(image)
    if kind == "blur":
        return gaussian_blur(image, sigma=max(image.shape[-1] / 16, 1.0))
    if kind == "noise":
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(image.shape, generator=generator).to(image.device, image.dtype)
    raise AttributionError(f"Unknown baseline '{kind}': use one of {', '.join(BASELINES)}.")


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflected edges (no torchvision needed)."""
    radius = max(1, min(int(3 * sigma), min(images.shape[-2:]) - 1))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    out = F.conv2d(F.pad(images, (radius, radius, 0, 0), mode="reflect"), horizontal, groups=channels)
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="reflect"), vertical, groups=channels)


# -- the methods (each: replica, image, target, params, logits= -> (map, delta, layer map)) -----------------


def _saliency(model, image, target, params, **_):
    from captum.attr import Saliency

    return Saliency(model).attribute(image, target=target, abs=True), None, None


def _integrated_gradients(model, image, target, params, *, logits, **_):
    from captum.attr import IntegratedGradients

    steps, batch = _positive(params, "steps"), _positive(params, "batch")
    baseline = make_baseline(image, params["baseline"])
    attributions = IntegratedGradients(model).attribute(
        image, baselines=baseline, target=target, n_steps=steps, method="gausslegendre", internal_batch_size=batch
    )
    # Completeness error, as Captum's convergence delta defines it, from the logits we already have: one
    # forward pass (the baseline's) instead of two.
    with torch.no_grad():
        gap = float(logits[target]) - float(model(baseline)[0, target])
    return attributions, float(attributions.detach().sum()) - gap, None


def _smoothgrad(model, image, target, params, **_):
    from captum.attr import Saliency

    samples, batch = _positive(params, "samples"), _positive(params, "batch")
    noise = float(params["noise"])
    if noise < 0:
        raise AttributionError(f"noise must be 0 or more (got {noise:g}).")
    seed = params["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise AttributionError(f"seed must be a whole number (got {seed!r}).")
    # SmoothGrad (Smilkov et al.): the mean |gradient| over noisy copies. The noise comes from a generator of
    # its own, not the process-wide one Captum's NoiseTunnel draws from (and that every session shares): the
    # same seed gives the same map, and nobody else's random numbers move.
    generator = torch.Generator(device=image.device).manual_seed(seed)
    saliency = Saliency(model)
    total = torch.zeros_like(image)
    for start in range(0, samples, batch):
        count = min(batch, samples - start)
        jitter = torch.randn((count, *image.shape[1:]), generator=generator, device=image.device, dtype=image.dtype)
        noisy = (image.detach() + noise * jitter).requires_grad_(True)
        total += saliency.attribute(noisy, target=target, abs=True).sum(dim=0, keepdim=True)
    return total / samples, None, None


def _guided_backprop(model, image, target, params, **_):
    from captum.attr import GuidedBackprop

    _require_relu_modules(model)
    return GuidedBackprop(model).attribute(image, target=target), None, None


def _gradcam(model, image, target, params, *, shared, **_):
    from captum.attr import LayerAttribution, LayerGradCam

    layer = resolve_layer(model, params["layer"], shared)
    cam = LayerGradCam(model, layer).attribute(image, target=target, relu_attributions=True)
    if cam.dim() != 4:
        raise AttributionError("Grad-CAM needs a layer with a spatial map (N x C x H x W).")
    upsampled = LayerAttribution.interpolate(cam, tuple(image.shape[-2:]), interpolate_mode="bilinear")
    return upsampled[:, 0], None, cam[0, 0]


def _guided_gradcam(model, image, target, params, *, shared, **_):
    from captum.attr import GuidedGradCam

    _require_relu_modules(model)
    layer = resolve_layer(model, params["layer"], shared)
    return GuidedGradCam(model, layer).attribute(image, target=target, interpolate_mode="bilinear"), None, None


def _occlusion(model, image, target, params, **_):
    from captum.attr import Occlusion

    window, stride, batch = _positive(params, "window"), _positive(params, "stride"), _positive(params, "batch")
    side = min(image.shape[-2:])
    if window > side:
        raise AttributionError(f"the occlusion window ({window} px) is larger than the image ({side} px).")
    attributions = Occlusion(model).attribute(
        image,
        sliding_window_shapes=(3, window, window),
        strides=(3, stride, stride),
        baselines=float(params["fill"]),
        target=target,
        perturbations_per_eval=batch,
    )
    return attributions, None, None


def _positive(params: dict, key: str) -> int:
    value = params[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise AttributionError(f"{key} must be a whole number of at least 1 (got {value!r}).")
    return value


def _require_relu_modules(model: nn.Module) -> None:
    # Captum's guided methods change the backward pass of nn.ReLU modules; a model that calls F.relu would
    # silently give the plain gradient instead.
    if not any(isinstance(m, nn.ReLU) for m in model.modules()):
        raise AttributionError("Guided methods need the model's ReLUs as nn.ReLU modules; this model has none.")


_RUNNERS: dict[str, Callable] = {
    "saliency": _saliency,
    "ig": _integrated_gradients,
    "smoothgrad": _smoothgrad,
    "guided-backprop": _guided_backprop,
    "gradcam": _gradcam,
    "guided-gradcam": _guided_gradcam,
    "occlusion": _occlusion,
}
