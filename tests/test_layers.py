"""The layer catalogue and unit names against the spec's tables."""

import pytest

from interp.errors import UnitError
from interp.network.layers import (
    LAYERS,
    MAIN_LAYERS,
    STAGES,
    Unit,
    layer_info,
    parse_unit,
)

# From shared/specs/inceptionv1.md: block -> (1x1, 3x3, 5x5, pool_reduce, total)
SPEC_BLOCKS = {
    "mixed3a": (64, 128, 32, 32, 256),
    "mixed3b": (128, 192, 96, 64, 480),
    "mixed4a": (192, 204, 48, 64, 508),
    "mixed4b": (160, 224, 64, 64, 512),
    "mixed4c": (128, 256, 64, 64, 512),
    "mixed4d": (112, 288, 64, 64, 528),
    "mixed4e": (256, 320, 128, 128, 832),
    "mixed5a": (256, 320, 128, 128, 832),
    "mixed5b": (384, 384, 128, 128, 1024),
}


def test_block_widths_and_sizes_match_the_spec():
    sizes = {"mixed3": 28, "mixed4": 14, "mixed5": 7}
    for block, (b1, b3, b5, bp, total) in SPEC_BLOCKS.items():
        assert LAYERS[block].channels == total
        assert [LAYERS[f"{block}_{b}"].channels for b in ("1x1", "3x3", "5x5", "pool_reduce")] == [b1, b3, b5, bp]
        assert LAYERS[block].size_at_224 == sizes[block[:6]]
    assert [LAYERS[n].size_at_224 for n in ("conv2d0", "maxpool0", "conv2d1", "conv2d2", "maxpool1")] == [
        112,
        56,
        56,
        56,
        28,
    ]
    assert LAYERS["logits"].channels == 1008


def test_branch_ranges_tile_the_block_in_order():
    for block in SPEC_BLOCKS:
        ranges = [LAYERS[f"{block}_{b}"].channel_range for b in ("1x1", "3x3", "5x5", "pool_reduce")]
        assert ranges[0][0] == 0 and ranges[-1][1] == LAYERS[block].channels
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


def test_spec_examples_of_branch_membership():
    assert parse_unit("mixed3b:379").branch == ("mixed3b_5x5", 59)  # 379 - 128 - 192
    assert parse_unit("mixed4c:447").branch == ("mixed4c_5x5", 63)  # the last 5x5 channel
    assert parse_unit("conv2d0:3").branch is None


def test_parse_unit_accepts_short_names_and_rejects_bad_ones():
    assert parse_unit("4e:55") == Unit("mixed4e", 55)
    assert parse_unit(" mixed3b : 379 ") == Unit("mixed3b", 379)
    with pytest.raises(UnitError, match=r"mixed3b has 480 channels, 0-479"):
        parse_unit("mixed3b:480")
    with pytest.raises(UnitError, match="Did you mean .*mixed3b"):
        parse_unit("mixed3c:1")
    with pytest.raises(UnitError, match="LAYER:CHANNEL"):
        parse_unit("mixed3b")
    with pytest.raises(UnitError, match="not a channel number"):
        parse_unit("mixed3b:-1")


def test_stages_are_in_forward_order():
    assert STAGES[0] == "conv2d0" and STAGES[-1] == "logits"
    assert STAGES.index("maxpool4") == STAGES.index("mixed3b") + 1
    assert STAGES.index("maxpool10") == STAGES.index("mixed4e") + 1
    assert layer_info("mixed4c_5x5_bottleneck").stage == layer_info("mixed4c").stage
    assert MAIN_LAYERS[0] == "conv2d0" and MAIN_LAYERS[-1] == "mixed5b" and len(MAIN_LAYERS) == 12
