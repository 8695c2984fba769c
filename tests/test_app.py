"""The app as Streamlit runs it (AppTest): every chapter and step, with and without weights, with an upload."""

import importlib
import re
import subprocess
import sys

import pytest
from conftest import REPO, chart_specs, new_app, open_page
from streamlit.testing.v1 import AppTest

from ui.chapters import load_chapter
from ui.tour import TOUR
from ui.visuals import VISUALS

pytestmark = pytest.mark.usefixtures("app_environment")

# chapters 1-4 (5 and 6 have their own files): url path -> content, as the router reads them
CHAPTERS = {stop.url_path: stop.chapter for stop in TOUR[:4]}


def charts_text(at: AppTest) -> str:
    """Every plotly figure on the page as one text (conftest.chart_specs, joined)."""
    return " ".join(chart_specs(at))


def walk_every_step(at: AppTest) -> dict[str, AppTest]:
    """Visit each step of each chapter; fail on any exception shown in the page."""
    seen = {}
    for page, name in CHAPTERS.items():
        open_page(at, page).run()
        assert not at.exception, [e.value for e in at.exception]
        for step in load_chapter(name).steps:
            at.segmented_control(key="step").set_value(step.id).run()
            assert not at.exception, (page, step.id, [e.value for e in at.exception])
            assert at.title[0].value == load_chapter(name).title
            seen[f"{name}:{step.id}"] = at
    return seen


def test_every_step_names_a_visual_that_exists():
    for name in CHAPTERS.values():
        for step in load_chapter(name).steps:
            module, function = VISUALS[step.visual].split(":")  # KeyError: the step names an unknown visual
            assert callable(getattr(importlib.import_module(f"ui.visuals.{module}"), function))
            assert step.narration and step.notes


def test_chapter_2_diagram_draws_every_layer_to_scale():
    """The architecture diagram, against the paper's table (Szegedy et al. 2015, table 1): a box per layer, an
    inception block split into its four branches in channel order (mixed3b: 128, 192, 96, 64 of 480), heights
    growing as the square root of the channels, each box labelled with its grid size; the chosen layer outlined."""
    import math

    from ui.visuals.cnn import DIAGRAM_LAYERS, architecture_figure

    fig = architecture_figure("mixed3b").to_dict()
    rects = fig["layout"]["shapes"]
    labels = [a["text"] for a in fig["layout"]["annotations"]]
    assert labels[0::2][: len(DIAGRAM_LAYERS)] == [
        "c0",
        "c1",
        "c2",
        "3a",
        "3b",
        "4a",
        "4b",
        "4c",
        "4d",
        "4e",
        "5a",
        "5b",
        "out",
    ]
    assert labels[1::2][: len(DIAGRAM_LAYERS)] == [
        "112",
        "56",
        "56",
        "28",
        "28",
        "14",
        "14",
        "14",
        "14",
        "14",
        "7",
        "7",
        "1",
    ]
    assert len(rects) == 3 + 9 * 5 + 1  # three convolutions, nine blocks of four branches and an outline, logits
    at_3b = [r for r in rects if r["x0"] < 4 < r["x1"]]
    branches = [r["y1"] - r["y0"] for r in at_3b[:4]]
    assert [round(b / sum(branches) * 480) for b in branches] == [128, 192, 96, 64]
    outline = at_3b[4]
    assert outline["line"]["width"] == 3 and "fillcolor" not in outline
    at_4e = [r for r in rects if r["x0"] < 9 < r["x1"]][4]
    assert math.isclose((at_4e["y1"] - at_4e["y0"]) / (outline["y1"] - outline["y0"]), math.sqrt(832 / 480))
    assert at_4e["line"]["width"] == 0


def test_app_opens_on_the_first_chapter_and_classifies_the_sample(with_weights):
    at = new_app().run()
    assert not at.exception
    assert at.title[0].value == "Why look inside?"
    assert "dalmatian" in charts_text(at)
    assert not at.warning


def test_a_fresh_install_opens_on_the_dalmatian_classified_with_the_bundled_weights(monkeypatch):
    """No INTERP_WEIGHTS_DIR, offline, an empty cache: the first step of the first chapter still works."""
    monkeypatch.delenv("INTERP_WEIGHTS_DIR", raising=False)
    at = new_app().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Why look inside?"
    assert at.segmented_control(key="step").value == load_chapter("01_why").steps[0].id
    assert at.selectbox(key="hook_choice").value == "dalmatian"
    assert "dalmatian" in charts_text(at)
    assert not at.warning, [w.value for w in at.warning]
    assert any("photo by Carlos Estrada Dejo" in c.value and "CC BY-SA 3.0" in c.value for c in at.caption)
    assert any("bundled with the app" in md.value for md in at.sidebar.markdown)


def test_every_chapter_and_step_runs_with_weights(with_weights):
    at = new_app().run()
    walk_every_step(at)
    assert not at.warning, [w.value for w in at.warning]


def test_every_chapter_and_step_runs_without_weights(without_weights):
    at = new_app().run()
    assert not at.exception
    # the narration is still there, and the live parts say what is missing and how to fix it
    assert any("nobody wrote the rules" in md.value for md in at.markdown)
    assert any("INTERP_WEIGHTS_DIR" in text.value for text in at.text)
    assert any("INTERP_WEIGHTS_DIR points at the wrong folder" in md.value for md in at.sidebar.markdown)
    walk_every_step(at)


def test_upload_is_classified_and_survives_page_changes(with_weights, dalmatian_path):
    at = new_app().run()
    open_page(at, "how-a-cnn-sees").run()
    at.segmented_control(key="step").set_value("guess").run()
    at.selectbox(key="guess_choice").set_value("stripes").run()
    assert "dalmatian" not in charts_text(at)
    at.file_uploader(key="guess_upload").upload("my dog.jpg", dalmatian_path.read_bytes(), "image/jpeg").run()
    assert not at.exception
    assert "dalmatian" in charts_text(at)
    open_page(at, "why-look-inside").run()  # the upload is still the chosen picture on another page
    assert at.selectbox(key="hook_choice").value == "__upload__"
    assert "dalmatian" in charts_text(at)


def test_a_corrupt_upload_gets_a_message_not_a_crash(without_weights):
    at = new_app().run()
    at.file_uploader(key="hook_upload").upload("broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg").run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)


def test_presenter_mode_shows_speaker_notes(without_weights):
    at = new_app().run()
    assert not any("Speaker notes" in md.value for md in at.markdown)
    at.toggle(key="presenter_mode").set_value(True).run()
    assert any("Speaker notes" in md.value for md in at.markdown)


def test_the_frame_and_sidebar_render_narration_before_torch_loads():
    """Title and narration come first; PyTorch (over a second to import) is loaded only by the visuals."""
    code = "import sys, ui.frame, ui.sidebar, ui.chapters; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


def test_a_step_link_opens_that_step_and_the_url_follows_the_reader(without_weights):
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "convolution"
    at.run()
    assert at.segmented_control(key="step").value == "convolution"
    assert at.subheader[0].value == load_chapter("02_cnn").steps[1].title
    at.button(key="next_step").click().run()
    assert at.segmented_control(key="step").value == "channels"
    assert at.query_params["step"] in ("channels", ["channels"])


def test_microscope_browses_layers_and_opens_a_unit_page(with_weights):
    at = new_app()
    open_page(at, "microscope").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="microscope_layer").value == "mixed3b"
    assert at.button(key="open_mixed3b:0") and at.button(key="open_mixed3b:23")  # page 1: channels 0-23
    at.number_input(key="microscope_page_mixed3b").set_value(16).run()  # 379 // 24 + 1
    at.button(key="open_mixed3b:379").click().run()
    assert not at.exception
    assert at.title[0].value == "mixed3b:379 · the curve detector"  # the unit and, first, what it is
    assert any("**How sure:** found by measuring these weights" in md.value for md in at.markdown)
    assert any("curve detector" in md.value for md in at.markdown)
    # what feeds it: the strongest inputs from mixed3a, and the articles' edge into it ranked with these weights
    from interp.circuits import edge, strongest_inputs, strongest_outputs
    from interp.network.loading import load_model

    model = load_model()
    headings = [md.value for md in at.markdown]
    assert "#### What feeds it: the units of mixed3a" in headings
    assert "#### What it feeds: the units of mixed4a (through maxpool4)" in headings
    assert at.button(key=f"card_in_excite_{strongest_inputs(model, 'mixed3b:379', top=1)[0].source}")
    assert at.button(key=f"card_out_inhibit_{strongest_outputs(model, 'mixed3b:379', top=1, by='inhibit')[0].target}")
    rank = edge(model, "mixed3a:147", "mixed3b:379").rank
    assert any(f"ranks **{rank} of 256**" in md.value for md in at.markdown)
    at.button(key="claimed_mixed3a:147_mixed3b:379").click().run()  # opens the input's own page
    assert not at.exception and shown_unit(at) == "mixed3a:147"
    at.query_params.clear()
    at.query_params["unit"] = "mixed3b_5x5:59"  # the same unit as 3b:379, named by its branch
    at.run()
    assert not at.exception and at.title[0].value == "mixed3b_5x5:59 · the curve detector"  # its block's role
    assert at.columns[0].get("image")  # 3b:379's precomputed picture, found under the block's name, first
    assert any(f"ranks **{rank} of 256**" in md.value for md in at.markdown)
    for unit, section in (
        ("logits:41", "#### What feeds it: the units of mixed5b (through avgpool0)"),
        ("maxpool4:3", None),
        ("mixed4c_5x5_bottleneck:3", None),
    ):
        at.query_params.clear()
        at.query_params["unit"] = unit
        at.run()
        assert not at.exception and not at.error and shown_unit(at) == unit
        if section:
            assert section in [md.value for md in at.markdown]
        else:  # pools and bottlenecks: their pictures and photos, but no connections section
            assert "What feeds it, and what it feeds" not in [s.value for s in at.subheader]


def test_microscope_unit_link_and_bad_unit(without_weights):
    at = new_app()
    open_page(at, "microscope")
    at.query_params["unit"] = "4c:447"
    at.run()
    assert not at.exception and at.title[0].value == "mixed4c:447 · the articles' car detector"
    # we say where our own render does not reproduce the article's claim
    assert any("Not reproduced here" in w.value for w in at.warning)
    assert at.button(key="load_inputs")  # without weights, the inputs wait for a click instead of failing
    at.button(key="load_inputs").click().run()
    assert not at.exception and any("live model is not available" in w.value for w in at.warning)
    at = new_app()
    open_page(at, "microscope")
    at.query_params["unit"] = "mixed3b:999"
    at.run()
    assert not at.exception
    assert any("mixed3b has 480 channels" in e.value for e in at.error)


def test_live_render_streams_finishes_and_is_kept_across_reruns(with_weights):
    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    at.segmented_control(key="step").set_value("live").run()
    at.selectbox(key="live_size").set_value(96)
    at.selectbox(key="live_steps").set_value(64).run()
    at.button(key="live_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    kept = at.session_state["featvis_renders"]
    ((request, entry),) = kept.items()
    assert request.unit == "mixed3b:379" and entry["done"] and entry["step"] == 64
    assert entry["image"].shape == (96, 96, 3) and entry["value"] > 0
    at.button(key="live_stop").click().run()  # a rerun: the finished picture is kept, not lost
    assert at.session_state["featvis_renders"][request]["done"]
    at.text_input(key="live_unit").set_value("mixed3b:999").run()
    assert any("mixed3b has 480 channels" in e.value for e in at.error)


def test_chapter_3_shows_the_precomputed_pictures(without_weights):
    """The comparisons are committed pictures: they show even without weights, and every file exists."""
    from ui.featvis import FEATVIS_ASSETS, manifest

    sets = manifest()["sets"]
    assert set(sets) == {
        "emergence",
        "naive_vs_robust",
        "neuron_vs_channel",
        "diversity",
        "negative",
        "polysemantic",
    }  # the last: chapter 5's unit, four facets
    assert all((FEATVIS_ASSETS / entry["file"]).is_file() for entries in sets.values() for entry in entries)
    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    for step in ("emergence", "naive", "neuron-vs-channel", "facets", "negative"):
        at.segmented_control(key="step").set_value(step).run()
        assert not at.exception and not at.info, (step, [i.value for i in at.info])


def test_a_deep_link_as_the_servers_first_request_runs_through_the_router(without_weights):
    # A fresh AppTest is like a fresh server. With a pages/ folder, Streamlit's first run would use its older
    # "pages directory" lookup (and a browser would show the folder's file names as navigation until the router
    # ran): the app has none, so the very first run is the router's, whatever page the link names.
    from streamlit.runtime.pages_manager import PagesManager

    from ui.tour import TOOLS, TOUR, chapters

    assert not (REPO / "pages").exists()
    paths = [stop.url_path for stop in (*TOUR, *TOOLS) if stop.url_path]
    assert len(set(paths)) == len(paths) and all(re.fullmatch(r"[a-z0-9-]+", path) for path in paths), paths
    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == load_chapter("03_neuron").title
    assert at.sidebar.toggle(key="presenter_mode").label == "Presenter mode"  # the router's sidebar
    assert PagesManager.uses_pages_directory is False  # st.navigation's pages, from the first run on
    # the router registered the tour's pages under their own addresses, and the hidden front door at /
    registered = {info["url_pathname"]: info["page_name"] for info in at._registered_pages.values()}
    from ui import not_found

    tour = {s.url_path: s.title for s in (*chapters(), *TOOLS)}
    assert registered == {"": "Inside InceptionV1", not_found.PATH: not_found.TITLE, **tour}


def test_the_front_door_hands_over_to_the_first_chapter_with_its_parameters(without_weights):
    from ui.tour import chapters

    first = load_chapter(chapters()[0].chapter)
    at = new_app()
    at.query_params["step"] = "last"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == first.title
    assert at.segmented_control(key="step").value == first.steps[-1].id
    assert at.query_params["step"] == first.steps[-1].id


# -- dataset examples and the story's roles -------------------------------------------------------------------


def captions(at: AppTest) -> list[str]:
    """The captions of every image in the page."""
    return [image.proto.imgs[0].caption for image in at.get("image")]


def shown_unit(at: AppTest) -> str:
    """The unit a Microscope page is about: its title, without the name after " · "."""
    return at.title[0].value.split(" · ")[0]


def microscope(**query) -> AppTest:
    at = new_app()
    open_page(at, "microscope")
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_unit_page_shows_its_dataset_examples_and_the_role_it_plays(with_weights, photos_dir):
    from interp.dataset.atlas import load_atlas
    from interp.story.roles import role

    car = role("car-detector")
    at = microscope(unit=str(car.unit))
    assert "**The photos that excite it most**" in [md.value for md in at.markdown]  # beside its picture
    top = load_atlas().examples(car.unit, top=8)
    expected = [f"{e.photo.label} · {e.activation:.0f}" for e in top]  # in rank order
    shown = [c for c in captions(at) if c in expected]
    assert shown == expected
    assert at.toggle(key="examples_heat").value  # heat maps on: the model is there
    assert any("strongest of 1,000 real photos" in md.value for md in at.markdown)
    assert any("EliSchwartz/imagenet-sample-images" in c.value for c in at.caption)
    assert any("Plays the car detector in these weights" in md.value for md in at.markdown)
    assert any(f"the articles' 4c:447: AUC {car.evidence['article_auc']}" in md.value for md in at.markdown)
    assert at.button(key="role_part_car-wheels")  # its parts, with their weight maps
    at.segmented_control(key="examples_shown").set_value(24).run()
    expected = [f"{e.photo.label} · {e.activation:.0f}" for e in load_atlas().examples(car.unit, top=24)]
    assert not at.exception and [c for c in captions(at) if c in expected] == expected
    at.toggle(key="examples_heat").set_value(False).run()  # crops without heat
    assert not at.exception and [c for c in captions(at) if c in expected] == expected
    assert not at.warning and not at.info


def test_the_articles_car_detector_says_who_plays_the_role_here(without_weights, photos_dir):
    from interp.dataset.atlas import load_atlas
    from interp.network.layers import parse_unit
    from interp.story.roles import role

    car = role("car-detector")
    at = microscope(unit="4c:447")
    assert any(f"in these weights the role is played by {car.unit}" in md.value for md in at.markdown)
    assert any(
        f"AUC {car.evidence['auc']}" in md.value and f"rank {car.evidence['article_rank']}" in md.value
        for md in at.markdown
    )
    # no weights: the crops still come, without heat
    assert not at.toggle(key="examples_heat").value
    top = load_atlas().examples(parse_unit("mixed4c:447"), top=8)
    expected = [f"{e.photo.label} · {e.activation:.0f}" for e in top]
    assert [c for c in captions(at) if c in expected] == expected
    at.button(key="role_played_car-detector").click().run()
    assert not at.exception and at.title[0].value == f"{car.unit} · the car detector"


def test_a_unit_page_says_first_what_the_unit_is_and_how_sure(without_weights, photos_dir):
    """Under the title: where the unit is and how sure its name is: measured here, the articles' word, or nobody's."""
    from interp.story.roles import role

    left = str(role("dog-head-left").unit)
    cases = (
        ("mixed3b:385", "mixed3b:385", "The articles: curve detector (another orientation).", "not measured here"),
        ("mixed3b:381", "mixed3b:381", "One of the articles' oriented fur of mixed3b.", "not measured here"),
        ("mixed3b:10", "mixed3b:10", "Nobody has named it yet.", "there is no claim to check"),
    ) + ((left, f"{left} · the dog head facing left", "layer 7 of the network's 12", "name no single unit"),)
    for unit, title, said, sure in cases:
        at = microscope(unit=unit)
        assert at.title[0].value == title, unit
        lead = at.markdown[0].value  # the first thing under the title, before the pictures
        assert said in lead and sure in lead and "**How sure:**" in lead, (unit, lead)


def test_a_car_part_shows_its_weights_into_the_car_detector(without_weights, photos_dir):
    from interp.story.roles import role

    wheels = role("car-wheels")
    at = microscope(unit=str(wheels.unit))
    assert any(f"it {wheels.evidence['geometry']}" in md.value for md in at.markdown)
    assert at.button(key="role_into_car-wheels")


def test_a_layer_without_renders_shows_a_photo_in_every_cell(without_weights, photos_dir, monkeypatch, tmp_path):
    monkeypatch.setattr("interp.featvis.bulk.BULK_DIR", tmp_path)  # no quick pictures shipped (as on a bare copy)
    at = microscope(layer="mixed4e", page="5")
    assert at.selectbox(key="microscope_layer").value == "mixed4e"
    cells = [c for c in captions(at) if c.startswith("top photo: ")]
    assert len(cells) == 24, captions(at)
    assert not at.info and not at.warning


def test_every_role_card_shows_held_out_base_rate_and_runners_up(without_weights, photos_dir):
    """A role's card on its unit's page gives the held-out figure, how common it is in the layer and the
    runners-up (as ``roles --json`` does; tests/test_role_evidence.py recomputes them from fresh passes), and the
    landing page gives each role's held-out line."""
    from interp.story.roles import load_roles
    from ui.roles import format_value

    roles = load_roles()
    landing = "\n".join(c.value for c in microscope().caption)
    for r in roles:
        assert f"Held out, {r.held_out['measure']}: {r.held_out['held_out']} " in landing, r.id
        assert f"Runner-up: {r.runners_up[0]['unit']} " in landing, r.id
    for r in roles:
        at = microscope(unit=str(r.unit))
        text = "\n".join(md.value for md in at.markdown)
        assert f"{r.held_out['selection']} where it was chosen, {r.held_out['held_out']} on the held-out half" in text
        said = format_value(r.base_rate["at"])
        assert f"the median over {r.base_rate['of']:,} " in text and f"reach {said}" in text, r.id
        shown = [row for frame in at.dataframe for row in frame.value.to_dict("records")]
        assert any(row.get("unit") == r.runners_up[0]["unit"] for row in shown), r.id
    car = next(r for r in roles if r.id == "car-detector")
    at = microscope(unit=str(car.unit))
    text = "\n".join(md.value for md in at.markdown)
    ablation = car.evidence["ablation"]
    assert f"**Its named inputs switched off together** {ablation['verb']} its peak" in text
    assert f"would still rank {ablation['rank_after']} of " in text
    assert "this check does not single it out" in text  # switched off alone, it moves the car logits no more than most


def test_the_landing_page_lists_every_role(without_weights, photos_dir):
    from interp.story.roles import load_roles

    at = microscope()
    assert "The story's characters in these weights" in [s.value for s in at.subheader]
    roles = load_roles()
    assert len(roles) == 10
    for r in roles:
        assert at.button(key=f"role_{r.id}")
        assert any(f"**{r.spec.title}**: **{r.unit}**" in md.value for md in at.markdown), r.id
    at.button(key="role_car-detector").click().run()
    assert not at.exception and shown_unit(at) == str(roles[2].unit)


def test_chapter_3_ranks_real_photos_and_the_samples_among_them(with_weights, photos_dir):
    from interp.dataset.atlas import load_atlas
    from interp.story.roles import role

    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    assert not at.exception
    assert at.selectbox(key="examples_unit").value == str(role("curve-detector").unit)
    shown = captions(at)
    top = load_atlas().examples(role("curve-detector").unit, top=8)
    assert [c for c in shown if " of 1,000 · " in c and c.startswith("#")] == [
        f"#{e.rank} of 1,000 · {e.photo.label} · {e.activation:.0f}" for e in top
    ]
    assert any(c.startswith("★ ") and "would rank #" in c for c in shown)  # the committed samples join in
    car = role("car-detector")
    assert any(
        o.startswith(f"Car detector ({car.unit} here; the article's 4c:447)")
        for o in at.selectbox(key="examples_unit").options
    )
    at.selectbox(key="examples_unit").set_value(str(car.unit)).run()
    assert not at.exception
    assert f"#1 of 1,000 · {load_atlas().examples(car.unit, top=1)[0].photo.label}" in " ".join(captions(at))
    narration = " ".join(md.value for md in at.markdown)
    assert "1,000 real photos" in narration and f"[{car.unit}](microscope?unit={car.unit})" in narration
    assert not at.warning and not at.info


def test_offline_without_photos_the_pages_stay_up_with_one_message(with_weights, monkeypatch):
    """INTERP_OFFLINE=1, no INTERP_IMAGES_DIR, an empty cache: placeholders and one message per page."""
    monkeypatch.delenv("INTERP_IMAGES_DIR", raising=False)
    for query in ({"unit": "mixed4c:447"}, {}, {"layer": "mixed4e", "page": "5"}):
        at = microscope(**query)
        notes = [i.value for i in at.info if "python -m interp prefetch" in i.value]
        assert len(notes) == 1 and "INTERP_OFFLINE" in notes[0], [i.value for i in at.info]
        assert not at.error and not at.warning or query.get("unit")  # 4c:447 keeps its "what we see" warning
    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    assert not at.exception
    assert len([i for i in at.info if "python -m interp prefetch" in i.value]) == 1
    assert any("would rank #" in c for c in captions(at))  # the committed samples still rank


def test_role_placeholders_expand_and_unknown_ones_are_content_errors():
    from interp.story.roles import role
    from ui.chapters import ContentError, parse_chapter
    from ui.roles import expand_roles

    car = role("car-detector")
    assert expand_roles("{role:car-detector:unit}") == str(car.unit)
    assert expand_roles("{role:car-detector}").startswith(f"[{car.unit}](microscope?unit={car.unit}) (the car detector")
    assert "the articles' 4c:447" in expand_roles("{role:car-detector}")
    assert expand_roles("{role:curve-detector}").endswith("(the curve detector, as in the articles)")
    assert expand_roles("{role:car-detector:auc}") == f"{car.evidence['auc']:g}"
    text = "# T\n<!-- chapter: id=t -->\n\n## S\n<!-- step: id=s visual=tour_map -->\n\n{role:%s}\n"
    assert str(car.unit) in parse_chapter(text % "car-detector").steps[0].narration
    with pytest.raises(ContentError, match="no role 'car-detectr'"):
        parse_chapter(text % "car-detectr", source="demo.md")
    with pytest.raises(ContentError, match="no field 'colour'"):
        parse_chapter(text % "car-detector:colour", source="demo.md")
    for name in ("01_why", "02_cnn", "03_neuron"):  # every placeholder in the chapters is expanded
        chapter = load_chapter(name)
        assert "{role:" not in chapter.summary + "".join(s.narration + s.notes for s in chapter.steps)
