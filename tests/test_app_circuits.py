"""Chapter 4, "Circuits", as Streamlit runs it (AppTest): every step, with and without weights and photos, the
ablation's numbers against interp.circuits.ablation itself, and deep links."""

import json

import pytest
from conftest import chart_specs, each_step, go, metrics, open_chapter
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
    # 2. the curve family ordered by measured angle, with pictures and weight maps
    go(at, "curves")
    assert len(at.get("image")) >= 40 and len(chart_specs(at)) == 1
    angles = [
        int(md.value.split("<br>")[1].rstrip("°")) for md in at.markdown if "<br>" in md.value and "°" in md.value
    ]
    assert len(angles) == 10 and angles == sorted(angles)
    assert f"{role('curve-detector').evidence['preferred_angle']}°" in " ".join(md.value for md in at.markdown)
    # 3. the parts, their maps (from roles.json) and the verdict against the article
    go(at, "car")
    assert len(chart_specs(at)) == 3
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
    many random units."""
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
    random = float(shown["3 random units instead"])
    assert after < random  # the control: random units of mixed4b barely matter
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
    assert len(chart_specs(at)) == 3
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
