"""InceptionV1 (GoogLeNet) in plain PyTorch, for Google's 2015 reference release of its weights (the file
``inception5h.pth``), which shares the Distill circuits thread's early units (the mixed3b curve family) but not
its deeper ones.

Design:
- Parameter names match the released state dict key for key (``mixed3a_1x1_pre_relu_conv.weight`` ...), so
  the file loads with ``strict=True``.
- Every ReLU is its own ``nn.ReLU`` module: Captum's guided backprop hooks ReLU modules, and one shared ReLU
  (or ``F.relu``) would make it silently return the plain gradient.
- Every named activation passes through an identity ``HookPoint`` (``model.hook["mixed4c"]``), so layer
  methods (Captum's Grad-CAM, layer attribution) can attach to any layer by its catalogue name. A block's
  ``_pre_relu`` (its branches' pre-activations, concatenated) is only built when asked for or hooked.
- ``run(x, names)`` returns the requested activations in a dict built inside the call and stops after the
  deepest one. It keeps no state on the module, so many threads (every Streamlit session) can share one model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from interp.network.layers import BLOCKS, LAYERS, NUM_LOGITS, STAGES, layer_info

# Input conversion: callers pass RGB in [0, 1]; the network was trained on RGB * 255 - 117.
INPUT_SCALE = 255.0
INPUT_MEAN = 117.0

# Local response normalisation as TensorFlow's LRN(depth_radius=5, bias=2, alpha=1e-4, beta=0.5): a window of
# 11 channels. PyTorch divides alpha by the window size, hence 11 * 1e-4. These are the values of the reference
# Torch port of these weights (see shared/specs/inceptionv1.md); Lucent's port (size 9, alpha 1e-4, k 1) differs.
LRN_SIZE = 11
LRN_ALPHA = 11 * 1e-4
LRN_BETA = 0.5
LRN_K = 2.0


def to_network_input(images: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (N x 3 x H x W) -> what the network's first convolution expects."""
    return images * INPUT_SCALE - INPUT_MEAN


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding along one axis: the extra pixel goes after, never before."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: int, stride: int, value: float) -> torch.Tensor:
    top, bottom = _same_padding(x.shape[-2], kernel, stride)
    left, right = _same_padding(x.shape[-1], kernel, stride)
    return F.pad(x, (left, right, top, bottom), value=value)


def _max_pool_same(x: torch.Tensor) -> torch.Tensor:
    """3 x 3 max-pool, stride 2, TF "SAME" padding with -inf (0 before and 1 after at even sizes)."""
    return F.max_pool2d(_pad_same(x, 3, 2, float("-inf")), kernel_size=3, stride=2)


def _lrn(x: torch.Tensor) -> torch.Tensor:
    """Same numbers as ``F.local_response_norm(x, LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K)`` (a test checks it),
    but a sum of shifted slices instead of PyTorch's 3-D average pool, which took a third of the CPU forward."""
    channels, half = x.shape[1], LRN_SIZE // 2
    squares = F.pad(x.square(), (0, 0, 0, 0, half, LRN_SIZE - 1 - half))
    window = squares[:, 0:channels]
    for shift in range(1, LRN_SIZE):
        window = window + squares[:, shift : shift + channels]
    return x / (LRN_K + (LRN_ALPHA / LRN_SIZE) * window) ** LRN_BETA


class HookPoint(nn.Identity):
    """An identity at a named activation: a stable place for Captum and other hooks to attach."""


def _hooked(module: nn.Module) -> bool:
    """Whether anything is attached to ``module`` (a hook point the forward pass would otherwise skip)."""
    return bool(module._forward_hooks or module._forward_pre_hooks)


class InceptionV1(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv2d0_pre_relu_conv = nn.Conv2d(3, 64, 7, stride=2)  # padded by hand: TF "SAME" is asymmetric
        self.conv2d1_pre_relu_conv = nn.Conv2d(64, 64, 1)
        self.conv2d2_pre_relu_conv = nn.Conv2d(64, 192, 3, padding=1)
        relus = ["conv2d0", "conv2d1", "conv2d2"]
        in_channels = 192
        for block, (b1, b3r, b3, b5r, b5, bp) in BLOCKS.items():
            # Registration order follows the released state dict (bottlenecks and pool before 3x3 and 5x5).
            self._conv(f"{block}_1x1", in_channels, b1, 1)
            self._conv(f"{block}_3x3_bottleneck", in_channels, b3r, 1)
            self._conv(f"{block}_5x5_bottleneck", in_channels, b5r, 1)
            self._conv(f"{block}_pool_reduce", in_channels, bp, 1)
            self._conv(f"{block}_3x3", b3r, b3, 3)
            self._conv(f"{block}_5x5", b5r, b5, 5)
            relus += [
                f"{block}_{part}" for part in ("1x1", "3x3_bottleneck", "3x3", "5x5_bottleneck", "5x5", "pool_reduce")
            ]
            in_channels = b1 + b3 + b5 + bp
        self.softmax2_pre_activation_matmul = nn.Linear(in_channels, NUM_LOGITS)
        self.relu = nn.ModuleDict({name: nn.ReLU() for name in relus})
        self.hook = nn.ModuleDict({name: HookPoint() for name in LAYERS})

    def _conv(self, name: str, cin: int, cout: int, kernel: int) -> None:
        self.add_module(f"{name}_pre_relu_conv", nn.Conv2d(cin, cout, kernel, padding=kernel // 2))

    # -- forward -----------------------------------------------------------------------------------------

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the 1008 logits (the softmax2 pre-activation)."""
        return self.run(images, ("logits",))["logits"]

    def run(
        self,
        images: torch.Tensor,
        names: Iterable[str],
        *,
        relu: Callable[[torch.Tensor], torch.Tensor] | None = None,
        edit: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Activations for ``names`` in one forward pass that stops after the deepest one asked for.

        Names are catalogue names (``conv2d0``, ``mixed4c``, ``mixed4c_5x5_bottleneck``, ``mixed4c_pre_relu``,
        ``logits`` ...). Runs under whatever grad mode the caller chose. ``relu`` replaces every ReLU for this
        call only (feature visualization redirects their gradients early on). ``edit`` maps catalogue names to
        functions that replace that activation for the rest of this pass (an ablation zeroes units of
        ``mixed4b`` with it, and everything after sees the change). Thread-safe: nothing is stored on the
        module, so interventions live in the call and no hook is ever left behind.
        """
        wanted = {layer_info(name).name: None for name in names}
        if not wanted:
            return {}
        stop = max(LAYERS[name].stage for name in wanted)
        acts: dict[str, torch.Tensor] = {}

        edits = {layer_info(name).name: fn for name, fn in (edit or {}).items()}

        def emit(name: str, value: torch.Tensor) -> torch.Tensor:
            if name in edits:
                value = edits[name](value)
            value = self.hook[name](value)
            if name in wanted:
                acts[name] = value
            return value

        def activation(name: str, value: torch.Tensor) -> torch.Tensor:
            return relu(value) if relu is not None else self.relu[name](value)

        h = to_network_input(images)
        for name in STAGES[: stop + 1]:
            h = self._stage(name, h, emit, activation, wanted)
        return acts

    def _stage(self, name: str, h: torch.Tensor, emit, activation, wanted) -> torch.Tensor:
        """Run one stage of the catalogue. Dispatch by name (not stored closures) so copies of the model,
        e.g. ``copy.deepcopy`` for a weight-randomisation check, run their own weights."""
        kind = LAYERS[name].kind
        if kind == "conv":
            conv = getattr(self, f"{name}_pre_relu_conv")
            if name == "conv2d0":
                h = _pad_same(h, 7, 2, 0.0)
            return emit(name, activation(name, emit(f"{name}_pre_relu", conv(h))))
        if kind == "block":
            return self._block(name, h, emit, activation, wanted)
        if kind == "pool":
            return emit(name, _max_pool_same(h))
        if kind == "lrn":
            return emit(name, _lrn(h))
        if kind == "avgpool":
            return emit(name, h.mean(dim=(2, 3)))  # = the 7 x 7 average pool at 224 px, defined at any size
        return emit(name, self.softmax2_pre_activation_matmul(h))

    def _block(self, block: str, h: torch.Tensor, emit, activation, wanted) -> torch.Tensor:
        def conv(part: str, value: torch.Tensor) -> torch.Tensor:
            return getattr(self, f"{block}_{part}_pre_relu_conv")(value)

        def relu(part: str, value: torch.Tensor) -> torch.Tensor:
            return activation(f"{block}_{part}", value)

        b3_mid = emit(f"{block}_3x3_bottleneck", relu("3x3_bottleneck", conv("3x3_bottleneck", h)))
        b5_mid = emit(f"{block}_5x5_bottleneck", relu("5x5_bottleneck", conv("5x5_bottleneck", h)))
        pre = {
            "1x1": conv("1x1", h),
            "3x3": conv("3x3", b3_mid),
            "5x5": conv("5x5", b5_mid),
            "pool_reduce": conv("pool_reduce", F.max_pool2d(h, 3, stride=1, padding=1)),
        }
        joined = f"{block}_pre_relu"
        if joined in wanted or _hooked(self.hook[joined]):
            # The branches then read their ReLU's input back from the one emitted tensor, so that it lies on the
            # path to the output: a hook there (Captum's Grad-CAM, layer attribution) sees the gradient.
            widths = [value.shape[1] for value in pre.values()]
            pre = dict(zip(pre, emit(joined, torch.cat(list(pre.values()), dim=1)).split(widths, dim=1)))
        post = [emit(f"{block}_{part}", relu(part, value)) for part, value in pre.items()]
        return emit(block, torch.cat(post, dim=1))
