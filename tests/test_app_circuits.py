"""Chapter 4, "Circuits", as Streamlit runs it (AppTest): every step, with and without weights and photos, the
ablation's numbers against interp.circuits.ablation itself, and deep links."""

import json
import re

import pytest
from conftest import chart_specs, charts, each_step, go, metrics, new_app, open_chapter, open_page
from streamlit.testing.v1 import AppTest

from ui.chapters import load_chapter

PAGE = "circuits"  # its address, /circuits
CHAPTER = "04_circuits"
pytestmark = pytest.mark.usefixtures("app_environment")


def chapter_app(step: str | None = None) -> AppTest:
    return open_chapter(PAGE, step)


def test_the_chapter_is_in_the_tour_with_its_page_and_content():
    from ui.tour import TOUR
    from ui.visuals import VISUALS

    stop = next(s for s in TOUR if s.title == "Circuits")
    assert stop.url_path == PAGE and stop.chapter == CHAPTER
    chapter = load_chapter(CHAPTER)
    assert [s.visual for s in chapter.steps] == [
        "circuit_weights",
        "curve_family",
        "car_parts",
        "dog_heads",
        "circuit_live",
        "ablation",
        "circuit_graph",
    ]
    for step in chapter.steps:
        assert step.visual in VISUALS and step.narration and step.notes, step.id
        assert "Line to say" in step.notes and "Likely question" in step.notes, step.id
        assert "{role:" not in step.narration + step.notes  # every placeholder expanded


def test_every_step_shows_its_visual_from_these_weights(with_weights, photos_dir):
    from interp.story.roles import role

    car = role("car-detector")
    at = chapter_app()
    assert at.title[0].value == "Circuits"
    # 1. the car detector and its strongest car part, the k x k map, and the bottleneck's paths adding up
    assert at.selectbox(key="cw_target").value == str(car.unit)
    assert at.selectbox(key=f"cw_input_{car.unit}").value == role("car-body").unit.channel
    assert len(chart_specs(at)) == 2 and all('"heatmap"' in c for c in chart_specs(at))
    assert any("bottleneck" in md.value and "**128**" in md.value for md in at.markdown)
    assert any("matches interp.circuits.expanded_weights" in c.value for c in at.caption)
    # 2. the curve family ordered by measured angle: for each detector its arc, its picture, its weights from its
    # strongest early curve and that early curve (two rows of five for a reader), with the numbers under them
    go(at, "curves")
    assert len(at.get("image")) == 40 and not chart_specs(at)
    angles = [int(m.group(1)) for md in at.markdown if (m := re.fullmatch(r"\*\*(\d+)°\*\* · \d+", md.value))]
    assert len(angles) == 10 and angles == sorted(angles)
    assert f"{role('curve-detector').evidence['preferred_angle']}°** · {role('curve-detector').unit.channel}" in (
        " ".join(md.value for md in at.markdown)
    )
    assert sum(" · r 0." in c.value for c in at.caption) == 10  # the angle its weights alone carry, and r
    # 3. the parts, their maps (from roles.json) and the verdict against the article
    go(at, "car")
    assert len(at.get("image")) == 10 and not chart_specs(at)  # the detector; each part, its map, its top photo
    words = " ".join(md.value for md in at.markdown)
    assert "Agrees" in words and "Differs" in words
    assert role("car-windows").evidence["geometry"] in words.replace("**", "") or "middle" in words
    # 4. the mirror pair, the merged unit, their maps and the mirror test
    go(at, "dogs")
    assert len(chart_specs(at)) == 3 and len(at.get("image")) >= 12
    assert any("flipped left to right" in md.value for md in at.markdown)
    # 5. the car circuit on the car photo where the detector fires most
    go(at, "live")
    assert len(at.get("image")) == 5
    assert any(str(car.unit) in c.value and "peak" in c.value for c in at.caption)
    at.segmented_control(key="cl_circuit").set_value("dog").run()
    assert not at.exception and len(at.get("image")) == 4
    at.toggle(key="cl_mirror").set_value(True).run()
    assert not at.exception
    # 7. the graph: pictures inside, and a link to every node's Microscope page
    go(at, "graph")
    figure = json.loads(chart_specs(at)[0])
    assert all(image["source"].startswith("data:image/jpeg;base64,") for image in figure["layout"]["images"])
    assert len(figure["layout"]["images"]) >= 4 and str(car.unit) in chart_specs(at)[0]
    assert not at.warning and not at.error


def test_switching_off_the_car_parts_makes_the_car_detector_fade(with_weights, photos_dir):
    """The ablation step's numbers are interp.circuits.ablation's on the same photo, and the parts matter more than as
    many of the detector's other strong inputs (a strength-matched control)."""
    from interp.circuits.ablation import ablate
    from interp.dataset.intake import load_image
    from interp.dataset.photos import photo
    from interp.network.loading import load_model
    from interp.story.roles import role
    from ui.visuals.circuit_live import photo_choices

    at = chapter_app("ablation")
    assert at.segmented_control(key="step").value == "ablation"
    shown = metrics(at)
    before, after = float(shown["Peak before"]), float(shown["After switching off 3"])
    assert after < before
    matched = float(shown["3 other strong inputs instead"])
    assert after < matched  # the control: as many other strong inputs matter far less
    parts = [role(p).unit for p in ("car-windows", "car-wheels", "car-body")]
    first = photo_choices("car")[0][0]
    image = load_image(photos_dir / photo(first).file).tensor
    expected = ablate(load_model(), image, role("car-detector").unit, zero=parts)
    assert (before, after) == (round(expected.before.max), round(expected.after.max))
    # one part fewer: the detector falls less
    at.checkbox(key=f"ab_zero_car_{parts[2]}").uncheck().run()
    assert not at.exception
    assert float(metrics(at)["After switching off 2"]) > after
    # one part, one row: three rows around the peak
    assert sum(label.startswith("Off ") for label in metrics(at)) == 3
    assert len(chart_specs(at)) == 1 and not at.error


def test_a_deep_link_opens_the_ablation_step_and_keys_move_on(without_weights):
    at = chapter_app("ablation")
    assert at.segmented_control(key="step").value == "ablation"
    assert at.subheader[0].value == "Prove it: ablation"
    at.button(key="next_step").click().run()
    assert at.segmented_control(key="step").value == "graph"
    assert at.query_params["step"] in ("graph", ["graph"])
    assert at.button(key="next_step").disabled


def test_without_weights_the_narration_stays_and_the_roles_still_speak(without_weights):
    at = chapter_app()
    for _ in each_step(at, CHAPTER):
        pass
    go(at, "weights")
    assert any("live model is not available" in w.value for w in at.warning)
    go(at, "car")  # the parts' maps come from roles.json: no model needed
    assert len(at.get("image")) == 10
    go(at, "dogs")
    assert any("need the model's weights" in c.value for c in at.caption)


def test_without_photos_one_message_and_the_circuit_runs_on_a_sample(with_weights, monkeypatch):
    monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    at = chapter_app()
    for step in load_chapter(CHAPTER).steps:
        go(at, step.id)
        notes = [i.value for i in at.info if "python -m interp prefetch" in i.value]
        assert len(notes) <= 1, (step.id, notes)
        assert not at.error, step.id
    go(at, "live")
    assert len([i for i in at.info if "python -m interp prefetch" in i.value]) == 1
    assert at.selectbox(key="cl_picker_choice").value == "dalmatian"  # the committed sample instead
    assert len(at.get("image")) == 5
    go(at, "ablation")
    assert float(metrics(at)["After switching off 3"]) <= float(metrics(at)["Peak before"])


def test_the_verdict_words_follow_the_findings_on_planted_roles():
    """The car-parts verdict (ui.visuals.circuit_parts.verdict) in words, on planted parts: it agrees where the
    weights put excitation and inhibition where the claim does, and says where they differ, with the numbers."""
    from types import SimpleNamespace

    from ui.visuals.circuit_parts import verdict

    def part(kernel, claim):
        return SimpleNamespace(evidence={"kernel": kernel}, spec=SimpleNamespace(claim=claim))

    kernel = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -3.0, -1.0]]
    agrees = verdict(part(kernel, "excites the detector at the top and inhibits it at the bottom"))
    assert agrees == [
        ":green[**Agrees**]: excites most at the top (row sums +4.000, +0.000, -5.000), as the article says.",
        ":green[**Agrees**]: inhibits most at the bottom (negative weights there add up to -5.000), as "
        "the article says.",
    ]
    differs = verdict(part(kernel, "excites it at the bottom, inhibits it in the middle"))
    assert [line.split(":")[1] for line in differs] == ["orange[**Differs**]", "orange[**Differs**]"]
    assert "excites most at the **top** here" in differs[0] and "the article says the bottom." in differs[0]
    assert "inhibits most at the **bottom** here" in differs[1] and "the article says the middle." in differs[1]
    positive = verdict(part([[0.5, 1.0, 0.5]] * 3, "inhibits it at the top"))
    assert positive == [
        ":orange[**Differs**]: no weight inhibits at all here (the smallest is +0.5000); the article "
        "says it inhibits at the top."
    ]
    assert verdict(part(kernel, "is a car part")) == []


# -- on the stage (?stage=1): the result first and large, the settings folded, the explanations said aloud --------


def on_stage(step: str) -> AppTest:
    at = chapter_app_at(step)
    at.query_params["stage"] = "1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chapter_app_at(step: str) -> AppTest:
    at = new_app()
    open_page(at, PAGE)
    at.query_params["step"] = step
    return at


def expander_labels(at) -> list[str]:
    return [e.label for e in at.expander]


def said(at) -> str:
    """The page's markdown and captions, joined."""
    return " ".join([md.value for md in at.markdown] + [c.value for c in at.caption])


def test_on_stage_the_weights_step_shows_the_map_and_its_sum_and_folds_the_pickers(with_weights, photos_dir):
    from interp.story.roles import role

    at = on_stage("weights")
    assert "Pick another unit" in expander_labels(at) and "How this was computed" in expander_labels(at)
    assert at.selectbox(key="cw_target").value == str(role("car-detector").unit)  # the pickers, folded
    assert "bottleneck first mixes" not in said(at)  # the reader's explanation is the speaker's on the stage
    weights, paths = charts(at)
    assert weights["data"][0]["colorbar"]["ticktext"] == ["inhibits", "excites"]  # the map's legend
    notes = [a["text"] for a in paths["layout"]["annotations"]]
    assert notes.count("<b>+</b>") == 4 and notes.count("<b>=</b>") == 1  # the sum, written out
    assert "<b>128 bottleneck paths add up to it:</b>" in notes
    assert f"**Car body** {role('car-body').unit}".replace("mixed", "").replace(":", "\\:") in said(at)


def test_on_stage_the_curve_family_is_one_row_of_arcs_pictures_and_weight_maps(with_weights, photos_dir):
    from ui.visuals.circuit_curves import curve_family_rows

    rows = curve_family_rows().rows
    at = on_stage("curves")
    angles = [md.value for md in at.markdown if re.fullmatch(r"\*\*\d+°\*\*", md.value)]
    assert angles == [f"**{r.angle}°**" for r in rows]  # one row, in the order of the angles
    assert len(at.get("image")) == 4 * len(rows)  # arc, detector, weights, early curve for each
    # the numbers under each picture and the long caption are the reading view's
    assert not any(" · r 0." in c.value or "24 orientations" in c.value for c in at.caption)
    assert any("from its weights alone" in md.value and ":red[" in md.value for md in at.markdown)  # the legend


def test_on_stage_the_car_parts_verdicts_are_short_and_in_view(with_weights, photos_dir):
    from interp.story.roles import role
    from ui.visuals.circuit_parts import short_verdict

    at = on_stage("car")
    assert not chart_specs(at)  # the maps are pictures that grow with the screen
    assert len(at.get("image")) == 7  # three parts and their maps, and the detector
    lines = [md.value for md in at.markdown]
    for part in ("car-windows", "car-wheels", "car-body"):
        for verdict in short_verdict(role(part)):
            assert verdict in lines, verdict
    assert any("✓" in line for line in lines) and any("✗" in line for line in lines)
    assert not any("row sums" in line for line in lines)  # the reader's sentences
    assert any(":red[" in line and ":blue[" in line for line in lines)  # the maps' legend


def test_on_stage_the_dog_heads_show_the_circuit_and_the_mirror_test_in_two_lines(with_weights, photos_dir):
    from interp.circuits.story import mirror_correlation
    from interp.story.roles import role
    from ui.visuals.circuit_common import edge_weights

    at = on_stage("dogs")
    assert len(at.get("image")) == 7  # two facing units, their maps, the any-pose unit; the photo and its mirror
    merged = str(role("dog-head").unit)
    left, right = (edge_weights(str(role(r).unit), merged)["kernel"] for r in ("dog-head-left", "dog-head-right"))
    assert f"**r = {mirror_correlation(left, right)[1]:.2f}**" in said(at)
    (bars,) = charts(at)
    assert [trace["x"] for trace in bars["data"]] == [["facing left", "facing right", "any pose"]] * 2
    assert bars["layout"]["yaxis"]["showticklabels"] is False  # the numbers stand on the bars


def test_on_stage_the_ablation_numbers_stand_on_the_bars_and_the_row_test_is_folded(with_weights, photos_dir):
    from interp.circuits.ablation import ablate, control_summary, matched_pool, random_ablations
    from interp.dataset.intake import load_image
    from interp.dataset.photos import photo
    from interp.network.loading import load_model
    from interp.story.roles import role
    from ui.visuals.circuit_live import DRAWS, photo_choices

    at = on_stage("ablation")
    assert "Change what is switched off" in expander_labels(at)
    (bars,) = charts(at)
    parts = [role(p).unit for p in ("car-windows", "car-wheels", "car-body")]
    target = role("car-detector").unit
    image = load_image(photos_dir / photo(photo_choices("car")[0][0]).file).tensor
    model = load_model()
    expected = ablate(model, image, target, zero=parts)
    pool = [u for u in matched_pool(model, target, parts) if u not in parts]
    draws = [r.maps() for r in random_ablations(model, image, target, "mixed4b", 3, draws=DRAWS, seed=0, pool=pool)]
    median = control_summary(draws)["median"]
    assert bars["data"][0]["text"][:2] == [f"{expected.before.max:.0f}", f"{expected.after.max:.0f}"]
    assert f"{median:.0f}" in [a["text"] for a in bars["layout"]["annotations"]]
    assert bars["data"][0]["x"] == ["as it is", "3 parts off", "3 other strong inputs off"]
    assert sum(m.label.startswith("Off ") for m in at.metric) == 3  # the row test, in the folded settings
    assert not any(m.label == "Peak before" for m in at.metric)  # the reader's numbers: on the stage, the bars


def test_on_stage_the_live_circuit_and_the_graph_fold_their_settings(with_weights, photos_dir):
    from ui.visuals.circuit_graph import STAGE_HEIGHT

    at = on_stage("live")
    assert "Change the circuit or the photo" in expander_labels(at) and len(at.get("image")) == 5
    assert any(md.value.startswith("At the car detector's peak") for md in at.markdown)
    at = on_stage("graph")
    assert "Pick another unit" in expander_labels(at)
    (graph,) = charts(at)
    assert graph["layout"]["height"] <= STAGE_HEIGHT
    names = [a["text"] for a in graph["layout"]["annotations"] if not a["text"].startswith("<b>")]
    assert len(names) == len(graph["layout"]["images"]) >= 4  # each picture with its name on it


def test_the_short_verdict_follows_the_findings_on_planted_roles():
    from types import SimpleNamespace

    from ui.visuals.circuit_parts import short_verdict

    def part(kernel, claim):
        return SimpleNamespace(evidence={"kernel": kernel}, spec=SimpleNamespace(claim=claim))

    kernel = [[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -3.0, -1.0]]
    assert short_verdict(part(kernel, "excites the detector at the top and inhibits it at the bottom")) == [
        ":green[**✓ excites at top**]",
        ":green[**✓ inhibits at bottom**]",
    ]
    assert short_verdict(part(kernel, "excites it at the bottom, inhibits it in the middle")) == [
        ":orange[**✗ excites at top**] (article: bottom)",
        ":orange[**✗ inhibits at bottom**] (article: middle)",
    ]
    assert short_verdict(part([[0.5, 1.0, 0.5]] * 3, "inhibits it at the top")) == [
        ":orange[**✗ inhibits nowhere**] (article: top)"
    ]


def test_the_arc_pair_shows_where_the_weights_agree_and_where_they_part():
    import numpy as np

    from ui.visuals.circuit_curves import ARC_OWN, ARC_WIRED, arc_image

    def pixels(image, colour) -> np.ndarray:
        return np.all(np.asarray(image) == colour, axis=-1)

    same, apart, alone = arc_image(90, 90), arc_image(90, 270), arc_image(90)
    assert pixels(alone, ARC_OWN).any() and not pixels(alone, ARC_WIRED).any()
    assert (pixels(same, ARC_OWN) == pixels(alone, ARC_OWN)).all()  # the detector's arc is drawn over the other
    assert pixels(same, ARC_WIRED).sum() < pixels(apart, ARC_WIRED).sum() / 2  # agreeing: only a border shows


def test_a_weight_map_picture_has_square_cells_red_for_excite_and_blue_for_inhibit():
    import numpy as np

    from ui.visuals.common import cells_picture

    picture = np.asarray(cells_picture(np.array([[1.0, 0.0, -1.0]] * 3), side=90))
    assert picture.shape == (90, 90, 3)
    red, blue = picture[15, 15], picture[15, 75]
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0]
    assert (picture[:, 30] == 255).all()  # a white gap between the cells


def test_on_stage_without_weights_every_step_opens_and_the_roles_still_speak(without_weights):
    for step in load_chapter(CHAPTER).steps:
        at = on_stage(step.id)
        assert at.subheader[0].value == step.title and not at.error, step.id
    at = on_stage("car")  # the parts' maps come from the roles catalogue: no model needed
    assert len(at.get("image")) == 7
    at = on_stage("dogs")
    assert any("need the model's weights" in c.value for c in at.caption)
