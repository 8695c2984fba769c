"""The Attribution lab as Streamlit runs it (AppTest): sample, class search, upload, no weights, chapter 2's link.

Slow on a CPU (each run computes five methods and a layer's channel attribution on the real weights), so the
tests share Streamlit's caches: the upload is the same photo as the sample, and is served from them.
"""

import pytest
import streamlit as st
from conftest import new_app, open_page
from streamlit.testing.v1 import AppTest

from interp.attribution import DEFAULT_LAYER
from ui.attribution import DEFAULT_METHODS

LAB = "attribution-lab"


@pytest.fixture
def no_weights(without_weights):
    st.cache_data.clear()
    st.cache_resource.clear()


def open_lab() -> AppTest:
    at = new_app()
    open_page(at, LAB).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def panels(at: AppTest) -> list[str]:
    return sorted(chart.key for chart in at.get("plotly_chart") if (chart.key or "").startswith("attr_panel_"))


def microscope_links(at: AppTest) -> list[str]:
    return [link.proto.query_string for link in at.page_link if link.proto.query_string.startswith("unit=")]


def test_lab_explains_the_sample_and_any_class(with_weights, monkeypatch):
    at = open_lab()
    assert at.title[0].value == "Attribution lab"
    assert not at.error and not at.warning, ([e.value for e in at.error], [w.value for w in at.warning])
    assert at.selectbox(key="attr_choice").value == "dalmatian"
    assert "“dalmatian”" in at.subheader[0].value  # the default class: the top prediction
    assert panels(at) == sorted(f"attr_panel_{m}" for m in DEFAULT_METHODS)
    assert any(" s · " in c.value for c in at.caption)  # each method's time
    # channel cards: six that pushed the class and six that held it back, each linking to its Microscope page
    assert at.selectbox(key="attr_layer").value == DEFAULT_LAYER
    links = microscope_links(at)
    assert len(links) == 12 and all(link.startswith(f"unit={DEFAULT_LAYER}%3A") for link in links), links
    assert any(md.value.startswith(":red[**+") for md in at.markdown)
    assert any(md.value.startswith(":blue[**-") for md in at.markdown)
    assert {b.proto.label for b in at.get("download_button")} == {"Figure (PNG)", "Settings (JSON)"}

    # any class, by search: the page explains "tabby" instead
    at.text_input(key="attr_search").set_value("tabby").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "“tabby”" in at.subheader[0].value
    at.text_input(key="attr_search").set_value("no such class").run()
    assert "“dalmatian”" in at.subheader[0].value
    assert any("No class name contains" in c.value for c in at.caption)

    # a unit traced back to the pixels
    at.button(key="attr_trace").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "attr_unit_panel" in [chart.key for chart in at.get("plotly_chart")]

    # the sanity check on demand (one fast method here; the page runs four), kept across reruns
    monkeypatch.setattr("ui.attribution.SANITY_METHODS", ("gradcam",))
    assert "attr_sanity_chart" not in [chart.key for chart in at.get("plotly_chart")]
    at.button(key="attr_sanity_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "attr_sanity_chart" in [chart.key for chart in at.get("plotly_chart")]
    at.slider(key="attr_opacity").set_value(0.5).run()  # a rerun: the result stays
    assert "attr_sanity_chart" in [chart.key for chart in at.get("plotly_chart")]


def test_lab_takes_an_upload_and_survives_a_corrupt_one(with_weights, dalmatian_path):
    at = open_lab()
    at.selectbox(key="attr_choice").set_value("stripes").run()
    assert not at.exception
    at.file_uploader(key="attr_upload").upload("my dog.jpg", dalmatian_path.read_bytes(), "image/jpeg").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="attr_choice").value == "__upload__"
    assert "“dalmatian”" in at.subheader[0].value
    assert len(panels(at)) == len(DEFAULT_METHODS)
    at.file_uploader(key="attr_upload").upload("broken.jpg", b"\xff\xd8\xff\xe0 not a jpeg", "image/jpeg").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("cannot be used" in e.value for e in at.error)
    assert at.title[0].value == "Attribution lab" and not panels(at)


def test_lab_without_weights_says_what_is_missing(no_weights):
    at = open_lab()
    assert at.title[0].value == "Attribution lab"
    assert any("live model is not available" in w.value for w in at.warning)
    assert any("INTERP_WEIGHTS_DIR" in t.value for t in at.text)
    assert not panels(at)


def test_chapter_2_guess_links_to_the_lab(with_weights):
    at = new_app()
    open_page(at, "how-a-cnn-sees").run()
    at.segmented_control(key="step").set_value("guess").run()
    assert not at.exception, [e.value for e in at.exception]
    link = next(link for link in at.page_link if "Attribution lab" in link.value)
    assert link.proto.page_script_hash and "attribution" in link.proto.page  # resolved to a registered page
    open_page(at, LAB).run()  # where the link goes: the same picture, explained
    assert not at.exception and at.title[0].value == "Attribution lab"


def test_every_method_has_its_description_and_the_page_its_sections():
    from interp.attribution import METHODS
    from ui.chapters import load_sections

    text = load_sections("attribution.md")
    assert all(text.get(f"Method: {name}") for name in METHODS)
    for section in (
        "intro",
        "How to read the overlays",
        "Building blocks",
        "Which pixels made this unit fire",
        "Sanity check",
        "Caveats",
    ):
        assert text.get(section), section


def test_the_microscope_still_reads_its_text(no_weights):
    """Its text now comes through the shared section parser (ui.chapters.load_sections)."""
    at = new_app()
    open_page(at, "microscope").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("browser for every unit" in md.value for md in at.markdown)
    assert any("Extremes, not the everyday" in md.value for md in at.markdown)
