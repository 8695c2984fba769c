"""The render loop: optimise a batch of images so the objective grows, robust to the transforms.

One loop for everything: any objective (many units at once via ``batch=i`` terms), any parameterisation,
any transforms. The forward pass stops at the deepest layer the objective reads. For the first steps every
ReLU passes "redirected" gradients (as Lucid does), so a unit that is silent on the starting noise still
gets a signal. On CUDA the forward runs under bf16 autocast with the parameters and the loss in float32.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from interp import jobs
from interp.featvis import objectives
from interp.featvis.errors import RenderError
from interp.featvis.objectives import Objective
from interp.featvis.param import ImageParam, generators, make_param
from interp.featvis.transforms import Chain, Transform, standard_transforms
from interp.network.layers import Unit
from interp.network.model import InceptionV1

REDIRECT_STEPS = 16  # Lucid redirects ReLU gradients for the first 16 steps

# progress(step, images) -> anything; returning False stops the render early (a "stop" button)
Progress = Callable[[int, torch.Tensor], object]


class _RedirectedReLU(torch.autograd.Function):
    """ReLU whose gradient, for an image where the true ReLU gradient is all zero, still lets through every
    gradient that does not push an already-negative input further down."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        relu_grad = grad * (x > 0)
        # We minimise the loss, so a positive gradient here would push x lower.
        redirected = torch.where((x < 0) & (grad > 0), torch.zeros_like(grad), grad)
        dead = relu_grad.flatten(1).norm(dim=1) == 0  # per image
        return torch.where(dead.view(-1, *([1] * (x.dim() - 1))), redirected, relu_grad)


def redirected_relu(x: torch.Tensor) -> torch.Tensor:
    return _RedirectedReLU.apply(x)


@dataclass
class RenderResult:
    images: torch.Tensor  # N x 3 x size x size on the CPU, RGB in [0, 1]
    values: torch.Tensor  # the objective per image on the final images (untransformed)
    steps: int  # steps actually run
    stopped: bool  # True if the progress callback or a cancelled job stopped it
    seconds: float
    history: list[tuple[int, list[float]]] = field(default_factory=list)  # (step, objective per image)


# The transform chains render() knows by name: the published recipe's (pad, jitter, scale, rotate, jitter), or none.
TRANSFORM_CHAINS = ("standard", "none")


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_settings(*, size: int, steps: int, batch: int, every: int) -> None:
    """Settings a person can get wrong, refused with a message before anything is allocated."""
    if not _whole(size) or size < 1:
        raise RenderError(f"size must be a whole number of pixels, at least 1 (got {size!r}).")
    if not _whole(steps) or steps < 0:
        raise RenderError(f"steps must be a whole number, 0 or more (got {steps!r}).")
    if not _whole(batch) or batch < 1:
        raise RenderError(f"batch must be a whole number of images, at least 1 (got {batch!r}).")
    if not _whole(every) or every < 1:
        raise RenderError(f"every must be a whole number of steps, at least 1 (got {every!r}).")


def resolve_transforms(transforms: str | Sequence[Transform] | None) -> Chain:
    if transforms is None or transforms == "none":
        return Chain([])
    if transforms == "standard":
        return Chain(standard_transforms())
    if isinstance(transforms, str):
        raise RenderError(f"Unknown transforms '{transforms}': use one of {', '.join(TRANSFORM_CHAINS)}.")
    return Chain(list(transforms))


def render(
    model: InceptionV1,
    objective: Objective | str | Unit,
    *,
    batch: int = 1,
    size: int = 128,
    steps: int = 512,
    param: str | ImageParam = "fft",
    transforms: str | Sequence[Transform] | None = "standard",
    lr: float | None = None,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    redirect_steps: int = REDIRECT_STEPS,
    progress: Progress | None = None,
    every: int = 16,
    autocast: bool | None = None,
    cancel: jobs.CancelToken | None = None,
) -> RenderResult:
    """Render ``batch`` images maximising ``objective``. Image i is seeded with ``seeds[i]`` (default
    ``seed + i``) for its starting image and its transforms, so image i of a batch is the single render with
    that seed, up to float rounding: oneDNN rounds convolutions slightly differently at other batch sizes, and
    near-ties in max-pooling can let that grow over many steps (exact with ``torch.backends.mkldnn`` off).

    ``cancel`` (default: the token of the queued job this runs in, :func:`interp.jobs.current_token`) is checked
    after every step; once it is cancelled the render stops there as a stop from ``progress`` would.

    ``objective`` may be a unit name such as ``"mixed4a:476"`` (or a :class:`Unit`): its channel objective,
    as :func:`interp.featvis.objectives.unit` reads it (``render(model, "mixed4a:476")``)."""
    start = time.perf_counter()
    if not isinstance(objective, Objective):
        objective = objectives.unit(objective)
    _check_settings(size=size, steps=steps, batch=batch, every=every)
    seeds = list(seeds) if seeds is not None else [seed + i for i in range(batch)]
    if not seeds:
        raise RenderError("seeds is empty: give one seed per image.")
    device = next(model.parameters()).device
    use_autocast = device.type == "cuda" if autocast is None else autocast
    image_param = make_param(param, seeds, size).to(device)
    chain = resolve_transforms(transforms)
    plan = chain.plan(generators([s + 1_000_003 for s in seeds]), steps)  # separate streams from the init
    optimiser = torch.optim.Adam(image_param.parameters(), lr=lr if lr is not None else image_param.lr)
    names = sorted(objective.layers)
    cancel = cancel if cancel is not None else jobs.current_token()
    history: list[tuple[int, list[float]]] = []
    stopped, done = False, 0

    for step in range(steps):
        optimiser.zero_grad(set_to_none=True)
        images = chain.apply(image_param(), plan, step)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_autocast):
            acts = model.run(images, names, relu=redirected_relu if step < redirect_steps else None)
            values = objective(acts)
        (-values.float().sum()).backward()
        optimiser.step()
        done = step + 1
        if cancel is not None and cancel.cancelled:
            stopped = True
            break
        if progress is not None and (done % every == 0 or done == steps):
            history.append((done, values.detach().float().cpu().tolist()))
            if progress(done, image_param().detach().float().cpu()) is False:
                stopped = True
                break

    with torch.no_grad():
        final = image_param().detach()
        values = objective(model.run(final, names)).float().cpu()
    return RenderResult(final.float().cpu(), values, done, stopped, time.perf_counter() - start, history)
