"""The layer catalogue of InceptionV1 (Google's 2015 reference weights): the one place that knows its shape.

Every activation has a stable string name (``conv2d0``, ``mixed4c``, ``mixed4c_5x5``,
``mixed4c_5x5_bottleneck``, ``logits`` ...). The model, the capture code, the CLI and the app all read
these tables; nothing else spells out channel counts. Source: ``shared/specs/inceptionv1.md``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cache

from interp.errors import UnitError

# Branch widths of every inception block, in concatenation order (this order IS the channel numbering):
# 1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool_reduce.
BLOCKS: dict[str, tuple[int, int, int, int, int, int]] = {
    "mixed3a": (64, 96, 128, 16, 32, 32),
    "mixed3b": (128, 128, 192, 32, 96, 64),
    "mixed4a": (192, 96, 204, 16, 48, 64),
    "mixed4b": (160, 112, 224, 24, 64, 64),
    "mixed4c": (128, 128, 256, 24, 64, 64),
    "mixed4d": (112, 144, 288, 32, 64, 64),
    "mixed4e": (256, 160, 320, 32, 128, 128),
    "mixed5a": (256, 160, 320, 48, 128, 128),
    "mixed5b": (384, 192, 384, 48, 128, 128),
}
BRANCHES = ("1x1", "3x3", "5x5", "pool_reduce")  # the concatenated outputs, in order
NUM_LOGITS = 1008  # 1000 ImageNet classes at 1..1000; 0 and 1001-1007 are unused dummies
REAL_LOGITS = range(1, 1001)  # the logits that are classes
TRAINING_SIZE = 224

# The stem, in order: (name, kind, output channels, stride relative to the previous step).
_STEM = (
    ("conv2d0", "conv", 64, 2),
    ("maxpool0", "pool", 64, 2),
    ("localresponsenorm0", "lrn", 64, 1),
    ("conv2d1", "conv", 64, 1),
    ("conv2d2", "conv", 192, 1),
    ("localresponsenorm1", "lrn", 192, 1),
    ("maxpool1", "pool", 192, 2),
)
# Stride-2 max-pools that sit between blocks: the pool named here runs before the block.
_POOL_BEFORE = {"mixed4a": "maxpool4", "mixed5a": "maxpool10"}


@dataclass(frozen=True)
class LayerInfo:
    """One named activation of the network."""

    name: str
    kind: str  # conv | pool | lrn | block | branch | bottleneck | avgpool | logits
    channels: int
    size_at_224: int  # spatial side at a 224 px input (1 for avgpool0 and logits)
    stage: int  # position in the forward pass: capture can stop after the deepest stage asked for
    block: str | None = None  # for branches: the inception block they belong to
    channel_range: tuple[int, int] | None = None  # for branches: [start, stop) in the block's output

    @property
    def pre_relu(self) -> str | None:
        """The name of the same channels before their ReLU (for negative objectives), if there is one."""
        if self.name.endswith("_pre_relu") or self.kind not in ("conv", "block"):
            return None
        return f"{self.name}_pre_relu"

    @property
    def is_spatial(self) -> bool:
        return self.kind not in ("logits", "avgpool")

    def describe(self) -> str:
        where = (
            f", channels {self.channel_range[0]}-{self.channel_range[1] - 1} of {self.block}"
            if self.channel_range
            else ""
        )
        return f"{self.name}: {self.channels} channels, {self.size_at_224} x {self.size_at_224} at 224 px{where}"


def _build_catalogue() -> dict[str, LayerInfo]:
    layers: dict[str, LayerInfo] = {}
    size, stage = TRAINING_SIZE, 0

    def add(info: LayerInfo) -> None:
        layers[info.name] = info

    for name, kind, channels, stride in _STEM:
        size = -(-size // stride)  # TF "same" padding: ceil(size / stride)
        if kind == "conv":  # before its ReLU: what negative visualisations push down
            add(LayerInfo(f"{name}_pre_relu", kind, channels, size, stage))
        add(LayerInfo(name, kind, channels, size, stage))
        stage += 1
    for block, (b1, b3r, b3, b5r, b5, bp) in BLOCKS.items():
        if block in _POOL_BEFORE:
            size = -(-size // 2)
            add(LayerInfo(_POOL_BEFORE[block], "pool", layers[list(layers)[-1]].channels, size, stage))
            stage += 1
        total = b1 + b3 + b5 + bp
        start = 0
        for branch, width in zip(BRANCHES, (b1, b3, b5, bp)):
            add(LayerInfo(f"{block}_{branch}", "branch", width, size, stage, block, (start, start + width)))
            start += width
        add(LayerInfo(f"{block}_3x3_bottleneck", "bottleneck", b3r, size, stage, block))
        add(LayerInfo(f"{block}_5x5_bottleneck", "bottleneck", b5r, size, stage, block))
        add(LayerInfo(f"{block}_pre_relu", "block", total, size, stage))
        add(LayerInfo(block, "block", total, size, stage))
        stage += 1
    add(LayerInfo("avgpool0", "avgpool", 1024, 1, stage))
    add(LayerInfo("logits", "logits", NUM_LOGITS, 1, stage + 1))
    return layers


LAYERS: dict[str, LayerInfo] = _build_catalogue()
# The layers a person browses: the main trunk, without pre-ReLU or branch variants.
MAIN_LAYERS: tuple[str, ...] = tuple(
    name for name, info in LAYERS.items() if info.kind in ("conv", "block") and not name.endswith("_pre_relu")
)
# The forward pass, one name per stage (an inception block's stage is named by the block itself).
STAGES: tuple[str, ...] = tuple(
    name
    for name, info in LAYERS.items()
    if info.kind not in ("branch", "bottleneck") and not name.endswith("_pre_relu")
)
assert [LAYERS[name].stage for name in STAGES] == list(range(len(STAGES)))


# Kernel side of each stage, for receptive fields: the stem's own kernels (LRN is per position), and for an
# inception block its widest branch (5 x 5). Source: shared/specs/inceptionv1.md.
_KERNELS = {"conv2d0": 7, "conv2d1": 1, "conv2d2": 3, "pool": 3, "lrn": 1, "block": 5}


@cache
def receptive_field(name: str) -> tuple[int, int]:
    """(side, jump) in input pixels of one position of ``name``'s grid: the theoretical receptive field
    (the input square that can affect it) and the distance between neighbouring positions. mixed3b: (91, 8)."""
    info = layer_info(name)
    if not info.is_spatial:
        return TRAINING_SIZE, TRAINING_SIZE
    side, jump = 1, 1
    for stage in STAGES[: info.stage + 1]:
        kind = LAYERS[stage].kind
        kernel = _KERNELS.get(stage, _KERNELS.get(kind, 1))
        stride = next((s for n, _, _, s in _STEM if n == stage), 2 if kind == "pool" else 1)
        side += (kernel - 1) * jump
        jump *= stride
    return side, jump


def layer_info(name: str) -> LayerInfo:
    """Look a layer up by name, accepting short block names such as ``4c`` for ``mixed4c``."""
    key = name.strip()
    if re.fullmatch(r"\d[a-e](_.+)?", key):
        key = "mixed" + key
    if key in LAYERS:
        return LAYERS[key]
    close = difflib.get_close_matches(key, LAYERS, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else f" Known layers include {', '.join(MAIN_LAYERS)}."
    raise UnitError(f"Unknown layer '{name}'.{hint}")


@dataclass(frozen=True)
class Unit:
    """One channel of one layer, written ``layer:channel`` as in the circuits thread (``mixed3b:379``)."""

    layer: str
    channel: int

    def __str__(self) -> str:
        return f"{self.layer}:{self.channel}"

    @property
    def info(self) -> LayerInfo:
        return LAYERS[self.layer]

    @property
    def branch(self) -> tuple[str, int] | None:
        """For a block unit, the branch it lives in and its index there: 3b:379 -> ('mixed3b_5x5', 59)."""
        info = self.info
        if info.kind != "block":
            return None
        base = info.name.removesuffix("_pre_relu")
        for branch in BRANCHES:
            start, stop = LAYERS[f"{base}_{branch}"].channel_range
            if start <= self.channel < stop:
                return f"{base}_{branch}", self.channel - start
        raise AssertionError("branch ranges cover every channel")

    @property
    def in_block(self) -> Unit:
        """The same channel named by its block: mixed4c_5x5:63 -> mixed4c:447 (the inverse of ``branch``);
        any other unit is itself."""
        info = self.info
        if info.kind != "branch":
            return self
        return Unit(info.block, info.channel_range[0] + self.channel)


def parse_unit(text: str) -> Unit:
    """Parse ``mixed3b:379`` (or the articles' short ``3b:379``), checking the channel is in range."""
    if not isinstance(text, str) or text.count(":") != 1:
        raise UnitError(f"'{text}' is not a unit name: write LAYER:CHANNEL, for example mixed3b:379 or 4c:447.")
    layer_text, channel_text = (part.strip() for part in text.split(":"))
    info = layer_info(layer_text)
    if not re.fullmatch(r"\d+", channel_text):
        raise UnitError(
            f"'{channel_text}' is not a channel number: {info.name} has {info.channels} channels, "
            f"0-{info.channels - 1}."
        )
    channel = int(channel_text)
    if channel >= info.channels:
        raise UnitError(
            f"{info.name} has {info.channels} channels, 0-{info.channels - 1}; there is no channel {channel}."
        )
    return Unit(info.name, channel)
