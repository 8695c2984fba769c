"""Chapters 1 and 2 on the stage (``?stage=1``): each step's result first and large (values on the bars, no axes to
read, pictures in one row, short labels), its settings folded in one expander under it; reading mode keeps the
settings above the result and the long captions."""

from __future__ import annotations

import re

import pytest
from conftest import charts, open_step

pytestmark = pytest.mark.usefixtures("app_environment")


on_stage = open_step


def folded(at, label: str):
    """The expander ``label`` under the result (it must be there)."""
    found = [e for e in at.expander if e.label == label]
    assert found, (label, [e.label for e in at.expander])
    return found[0]


def captions(at) -> list[str]:
    return [image.proto.imgs[0].caption for image in at.get("image")]


def test_percentages_read_as_what_they_are():
    from ui.visuals.common import percent_text

    assert [percent_text(v) for v in (0.0, 0.04, 0.05, 12.345, 99.94, 99.95, 100.0)] == [
        "<0.1%",
        "<0.1%",
        "0.1%",
        "12.3%",
        "99.9%",
        ">99.9%",
        ">99.9%",
    ]


def test_the_hook_on_the_stage_shows_the_photo_and_its_guesses_with_the_numbers_on_the_bars(with_weights):
    at = on_stage("why-look-inside", "hook")
    assert folded(at, "Another photo, or yours").selectbox(key="hook_choice").value == "dalmatian"
    (fig,) = charts(at)
    bars = fig["data"][0]
    assert len(bars["y"]) == 3 and bars["y"][-1] == "dalmatian"  # the best three, the best on top
    assert all(t.endswith("%") for t in bars["text"])  # each valued on its bar
    assert fig["layout"]["xaxis"]["visible"] is False  # no ticks to read: the values are on the bars
    assert fig["layout"]["yaxis"]["tickfont"]["size"] >= 20
    reader = on_stage("why-look-inside", "hook", stage=False)  # reading mode: the picker is a tool, above
    assert not reader.expander or "Another photo, or yours" not in [e.label for e in reader.expander]
    assert reader.selectbox(key="hook_choice").value == "dalmatian"
    (fig,) = charts(reader)
    assert len(fig["data"][0]["y"]) == 5 and fig["layout"]["xaxis"].get("visible") is not False


def test_chapter_1_on_the_stage_folds_every_setting_under_its_result(with_weights, model):
    at = on_stage("why-look-inside", "black-box")
    assert {m.label: m.value for m in at.metric} == {
        "Learned numbers": f"{sum(p.numel() for p in model.parameters()):,}"
    }
    (fig,) = charts(at)
    assert fig["layout"]["xaxis"]["showticklabels"] is False and fig["layout"]["yaxis"]["showticklabels"] is False
    assert any("excites" in t for t in fig["data"][0]["colorbar"]["ticktext"])  # the map keeps its legend
    assert folded(at, "Show another layer's weights").selectbox(key="black_box_layer").value == "mixed4c"

    at = on_stage("why-look-inside", "zoom")
    assert len(captions(at)) == 4  # network, layer, channel, neuron in one row
    assert folded(at, "Pick another layer or channel").selectbox(key="zoom_layer").value == "mixed4c"

    at = on_stage("why-look-inside", "tour")
    from ui.tour import TOUR

    said = " ".join(a["text"].replace("<br>", " ") for a in charts(at)[0]["layout"]["annotations"])
    assert all(stop.title in said for stop in TOUR)
    assert folded(at, "Jump to a chapter")
    reader = on_stage("why-look-inside", "tour", stage=False)  # reading mode: the route and a card per chapter
    assert sum(stop.blurb.split(" (")[0][:30] in " ".join(c.value for c in reader.caption) for stop in TOUR) >= 5


def test_chapter_2_on_the_stage_shows_its_pictures_in_one_row_and_the_sum_done_by_hand(with_weights):
    from ui.visuals.cnn import STAGE_DEPTH_LAYERS

    at = on_stage("how-a-cnn-sees", "stack")
    assert folded(at, "Details of one layer").selectbox(key="arch_select").value == "mixed3b"
    names = [t["name"] for t in charts(at)[0]["data"] if t.get("name")]
    assert names == ["convolution", "1x1", "3x3", "5x5", "pool"]

    at = on_stage("how-a-cnn-sees", "convolution")
    assert len(captions(at)) == 5  # window, patch, filter, products, map
    assert folded(at, "Move the window").slider(key="conv_x")
    line = next(md.value for md in at.markdown if "Sum + bias" in md.value)
    by_hand, relu, network = (float(n.replace(",", "")) for n in re.findall(r"-?[\d,]+\.\d", line))
    assert relu == max(by_hand, 0.0) and network == pytest.approx(relu, abs=0.11)

    at = on_stage("how-a-cnn-sees", "channels")
    assert captions(at) == [""] * 6  # an early layer's three strongest beside a late layer's
    heads = [md.value.replace("**", "") for md in at.markdown]
    assert any(h.startswith("Early: conv2d2") for h in heads) and any(h.startswith("Late: mixed4d") for h in heads)
    reader = on_stage("how-a-cnn-sees", "channels", stage=False)
    shown = captions(reader)
    assert len(shown) == 8 and shown[0].startswith("c2:") and shown[-1].startswith("4d:")

    at = on_stage("how-a-cnn-sees", "depth")
    grids = [int(c.rsplit(" ", 1)[1]) for c in captions(at)]
    assert [c.split(":")[0] for c in captions(at)] == list(STAGE_DEPTH_LAYERS) and grids == [112, 56, 28, 14, 7]
    assert len(captions(on_stage("how-a-cnn-sees", "depth", stage=False))) == 8

    at = on_stage("how-a-cnn-sees", "guess")
    scores, chances = charts(at)
    assert scores["data"][0]["y"][-1] == "dalmatian" and chances["layout"]["yaxis"]["showticklabels"] is False
    assert chances["layout"]["xaxis"]["range"] == [0, 100] and chances["data"][0]["text"][-1].endswith("%")
    assert folded(at, "Another photo").selectbox(key="guess_choice").value == "dalmatian"
