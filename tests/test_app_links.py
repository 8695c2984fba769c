"""What a person can get wrong in the app itself, under Streamlit's AppTest: link parameters on every page, and
hostile uploads. Each gets a message that names it; no page ever shows a traceback."""

from __future__ import annotations

import re

import pytest
from conftest import new_app, open_page
from streamlit.testing.v1 import AppTest
from test_intake import big_png, one_bit_png

from ui import plain
from ui.chapters import load_chapter
from ui.tour import TOOLS, TOUR

pytestmark = pytest.mark.usefixtures("app_environment")

PAGES = [stop.url_path for stop in (*TOUR, *TOOLS) if stop.url_path]
MICROSCOPE, LAB = "microscope", "attribution-lab"
PARAMETERS = ("step", "unit", "layer", "page")
HOSTILE = {
    "garbage": "abc",
    "empty": "",
    "huge": "9" * 5000,  # also more digits than Python turns into an int
    "unicode": "🐶ステップ٣",
    "repeated": ["nope", "still nope"],
}


def reads(page: str) -> set[str]:
    """The parameters a page reads from its link."""
    return {MICROSCOPE: {"unit", "layer", "page"}, LAB: set()}.get(page, {"step"})


def messages(at: AppTest) -> list[str]:
    return [m.value for m in (*at.error, *at.warning, *at.info)]


# What each page says about each parameter it is given a bad value for.
SAYS = {
    "step": r"The link's step, .+, is not a step of this chapter; showing step 1\. Its steps are ",
    "unit": r"(.* is not a unit name: write LAYER:CHANNEL|The link's unit, .*, is too long to be a unit name).* "
    r"Showing the layer browser instead\.",
    "layer": r"The link's layer, .+, is not one the Microscope browses; showing mixed3b\. Choose another below\.",
    "page": r"The link's page, .+, is not a page number; showing page 1 of 20\.",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
@pytest.mark.parametrize("page", PAGES)
def test_a_bad_link_parameter_gets_a_message_on_every_page(without_weights, page, kind):
    at = new_app()
    open_page(at, page)
    for name in PARAMETERS:
        at.query_params[name] = HOSTILE[kind]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = messages(at)
    for name in PARAMETERS:
        if name in reads(page):
            expected = SAYS[name]
            if kind == "repeated":
                assert f"The link gives **{name}** 2 times; using the last one, `still nope`." in said, said
        else:
            expected = (
                rf"This page does not use \*\*{name}\*\* in its link \(.+\): that belongs to .+, so it was "
                r"ignored\."
            )
        assert any(re.match(expected, m) for m in said), (name, said)
    assert all(len(m) < 600 for m in said)  # a huge value is clipped, not repeated back whole
    assert at.title  # the page itself is there


def test_good_links_say_nothing_and_odd_but_valid_ones_work(without_weights):
    at = new_app()
    open_page(at, "how-a-cnn-sees")
    at.query_params["step"] = "last"
    at.run()
    assert not at.exception and not [m for m in messages(at) if "link" in m], messages(at)
    assert at.segmented_control(key="step").value == load_chapter("02_cnn").steps[-1].id
    at = new_app()
    open_page(at, MICROSCOPE)
    at.query_params.update({"layer": "mixed4e", "page": "٣"})  # an Arabic-Indic 3 is a page number too
    at.run()
    assert not at.exception and not [m for m in messages(at) if "link" in m], messages(at)
    assert at.selectbox(key="microscope_layer").value == "mixed4e"
    assert at.number_input(key="microscope_page_mixed4e").value == 3


@pytest.mark.parametrize(
    ("query", "message", "layer", "page"),
    [
        (
            {"page": "99999"},
            "The link asks for page `99999`, but there are pages 1 to 20; showing page 20.",
            "mixed3b",
            20,
        ),
        ({"page": "-2"}, "The link asks for page `-2`, but there are pages 1 to 20; showing page 1.", "mixed3b", 1),
        ({"page": "2.5"}, "The link's page, `2.5`, is not a page number; showing page 1 of 20.", "mixed3b", 1),
        (
            {"layer": "logits", "page": "2"},
            "The link's layer, `logits`, is not one the Microscope browses; showing mixed3b. Choose another below.",
            "mixed3b",
            2,
        ),
        (
            {"layer": "", "page": "2"},
            "The link's layer, an empty value, is not one the Microscope browses; showing mixed3b. "
            "Choose another below.",
            "mixed3b",
            2,
        ),
    ],
)
def test_the_microscope_says_what_it_shows_instead(without_weights, query, message, layer, page):
    at = new_app()
    open_page(at, MICROSCOPE)
    at.query_params.update(query)
    at.run()
    assert not at.exception
    assert message in messages(at), messages(at)
    assert at.selectbox(key="microscope_layer").value == layer
    assert at.number_input(key=f"microscope_page_{layer}").value == page


def test_a_negative_render_that_cannot_be_explains_why(with_weights):
    at = new_app()
    open_page(at, MICROSCOPE)
    at.query_params["unit"] = "mixed4c_3x3_bottleneck:5"
    at.run()
    at.button(key="render_negative").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(
        i.value.startswith("mixed4c_3x3_bottleneck:5 cannot be rendered negatively: its values come after a ReLU")
        for i in at.info
    ), messages(at)


def test_the_live_render_says_which_units_cannot_be_rendered(with_weights):
    at = new_app()
    open_page(at, "what-a-neuron-wants").run()
    at.segmented_control(key="step").set_value("live").run()
    at.text_input(key="live_unit").set_value("logits:0").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.value.startswith("logits:0 is one of InceptionV1's unused dummy classes") for e in at.error)
    at.text_input(key="live_unit").set_value("logits:41").run()  # a class renders: its logit
    assert not at.exception and not at.error and at.button(key="live_go")


# -- uploads ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "drawing.png",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
            "SVG (vector drawing) files are not supported; supported formats are JPEG, "
            "PNG, WebP, BMP, TIFF and GIF: save or export it as JPEG or PNG and try again.",
        ),
        (
            "bomb.png",
            one_bit_png(30000, 30000),
            "This image has 900 megapixels; the limit is 64 megapixels. Save it smaller and try again.",
        ),
        ("photo.jpg", b"", "The file is empty (0 bytes); choose the image file itself."),
    ],
)
def test_a_hostile_upload_gets_its_message_and_the_page_stays_up(without_weights, name, data, message):
    at = new_app().run()
    at.file_uploader(key="hook_upload").upload(name, data, "image/png").run()
    assert not at.exception, [e.value for e in at.exception]
    # the name and the message as plain text (ui.plain), never read as Markdown
    shown = f"{plain.name(name)} **cannot be used.** {plain.prose(message)}"
    assert shown in [e.value for e in at.error], [e.value for e in at.error]
    assert at.title[0].value == load_chapter("01_why").title
    assert at.segmented_control(key="step")  # the chapter is still there to use


def test_a_big_16_bit_upload_is_read(without_weights):
    at = new_app().run()
    at.file_uploader(key="hook_upload").upload("scan.png", big_png("16-bit"), "image/png").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="hook_choice").value == "__upload__"
