"""Chapter 3 on the stage (``?stage=1``): each step's pictures in one row, large, with short captions and the
settings folded under them; reading mode keeps the full sets and the long captions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import open_step

pytestmark = pytest.mark.usefixtures("app_environment")

PAGE = "what-a-neuron-wants"


def on_stage(step: str, stage: bool = True):
    return open_step(PAGE, step, stage)


def captions(at) -> list[str]:
    return [image.proto.imgs[0].caption for image in at.get("image")]


def small_print(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_the_stage_shows_a_units_strongest_photos_in_one_row_and_the_picker_folded(with_weights, photos_dir):
    from interp.dataset.atlas import load_atlas
    from interp.story.roles import role
    from ui.visuals.neuron import EXAMPLE_COLUMNS

    curve, car = role("curve-detector"), role("car-detector")
    at = on_stage("examples")
    top = load_atlas().examples(curve.unit, top=EXAMPLE_COLUMNS)
    assert captions(at) == [f"#{e.rank} {e.photo.label}" for e in top]  # the 1,000's strongest; no samples here
    assert "Pick another unit" in [e.label for e in at.expander]
    said = small_print(at)
    assert f"Curve detector, {curve.unit}: top {EXAMPLE_COLUMNS} of 1,000 photos" in said
    assert "ImageNet samples" in said and "Brighter: fires more." in said
    at.selectbox(key="examples_unit").set_value(str(car.unit)).run()
    assert not at.exception
    assert captions(at) == [f"#{e.rank} {e.photo.label}" for e in load_atlas().examples(car.unit, top=EXAMPLE_COLUMNS)]


def test_the_stage_shows_each_precomputed_set_in_one_row_with_short_labels(without_weights):
    from ui.featvis import manifest
    from ui.visuals.neuron import FACETS_ON_STAGE, NAIVE_STAGE_LABELS, STAGE_ROW

    sets = manifest()["sets"]
    at = on_stage("emergence")
    shown = captions(at)
    assert len(shown) == STAGE_ROW and shown[0] == sets["emergence"][0]["label"]
    assert shown[-1] == sets["emergence"][-1]["label"]  # the first snapshot and the last, and two between
    assert "Adam" not in small_print(at)  # the recipe is said by the speaker, read in reading mode
    at = on_stage("naive")
    assert captions(at) == [NAIVE_STAGE_LABELS[e["file"]] for e in sets["naive_vs_robust"]]
    for step, name in (("neuron-vs-channel", "neuron_vs_channel"), ("negative", "negative")):
        at = on_stage(step)
        assert captions(at) == [e["label"].split(" (")[0] for e in sets[name]], step
        assert not any("(" in c for c in captions(at))
    at = on_stage("facets")
    assert captions(at) == ["facet 1", "facet 2", "facet 3", "facet 4"]
    assert small_print(at).startswith(f"{FACETS_ON_STAGE}: 4 pictures")
    other = next(e["unit"] for e in sets["diversity"] if e["unit"] != FACETS_ON_STAGE)
    at.segmented_control(key="facets_unit").set_value(other).run()
    assert not at.exception and small_print(at).startswith(f"{other}: 4 pictures")
    assert "Show another unit" in [e.label for e in at.expander]
    # reading mode: every batch, a row each, and the recipe
    at = on_stage("facets", stage=False)
    assert len(captions(at)) == len(sets["diversity"]) and "Adam" in small_print(at)
    at = on_stage("emergence", stage=False)
    assert captions(at) == [e["label"] for e in sets["emergence"]]


def test_the_live_render_on_stage_shows_where_it_starts_and_folds_its_settings(with_weights, monkeypatch):
    import ui.featvis

    monkeypatch.setattr(ui.featvis, "SIZES", (32, 64, 96, 128))  # a tiny render: the layout is what is tested
    monkeypatch.setattr(ui.featvis, "STEPS", (8, 16, 32, 64))
    at = on_stage("live")
    (start,) = captions(at)
    assert start == "The start: grey noise."
    assert at.button(key="live_go") and at.button(key="live_stop")
    assert "Pick a unit and settings" in [e.label for e in at.expander]
    assert "plays the curve detector" not in small_print(at)  # the reader's long note stays in reading mode
    assert any(md.value.startswith("**Curve detector") for md in at.markdown)  # what renders, beside the picture
    at.selectbox(key="live_size").set_value(32)
    at.selectbox(key="live_steps").set_value(8).run()
    at.button(key="live_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert captions(at) == ["mixed3b:379 after 8 steps"]


@pytest.mark.parametrize("param", ["fft", "pixel"])
def test_a_renders_start_is_near_grey_noise(param):
    from ui.featvis import RenderRequest, start_image

    image = start_image(RenderRequest("mixed3b:379", size=32, param=param))
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert abs(float(image.mean()) - 127.5) < 12 and image.std() > 0  # grey, with a little noise
