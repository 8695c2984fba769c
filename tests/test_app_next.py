"""Chapter 6, "What came next", as Streamlit runs it (AppTest): every step shows its visual, and every figure about
the sparse autoencoder is the backend's own (interp.sae: the training log, the feature atlas, purity_comparison),
whatever the result."""

import json

import pytest
from conftest import charts, each_step, go, metrics, open_chapter
from streamlit.testing.v1 import AppTest

from ui.chapters import load_chapter

PAGE = "what-came-next"  # its address, /what-came-next
CHAPTER = "06_next"
pytestmark = pytest.mark.usefixtures("app_environment")


@pytest.fixture(scope="module")
def shipped():
    """The shipped autoencoder and its feature atlas (skips where this checkout has none yet)."""
    from interp import sae

    if not (sae.SAE_FILE.is_file() and sae.EXAMPLES_FILE.is_file() and sae.LOG_FILE.is_file()):
        pytest.skip(f"the sparse autoencoder is not in {sae.SAE_FILE.parent} (python tools/train_sae.py)")
    return sae.load_sae()


def chapter_app(step: str | None = None) -> AppTest:
    return open_chapter(PAGE, step)


def words(at: AppTest) -> str:
    return " ".join(md.value for md in at.markdown) + " " + " ".join(c.value for c in at.caption)


def test_the_chapter_is_in_the_tour_with_its_page_and_content():
    from ui.tour import TOUR
    from ui.visuals import VISUALS
    from ui.visuals.sae_papers import papers

    stop = next(s for s in TOUR if s.title == "What came next")
    assert stop.url_path == PAGE and stop.chapter == CHAPTER
    chapter = load_chapter(CHAPTER)
    assert [s.visual for s in chapter.steps] == [
        "dictionary_idea",
        "sae_report",
        "feature_browser",
        "sae_papers",
        "closing",
    ]
    for step in chapter.steps:
        assert step.visual in VISUALS and step.narration and step.notes, step.id
        assert "Line to say" in step.notes and "Likely question" in step.notes, step.id
        assert "{role:" not in step.narration + step.notes
    language = next(s for s in chapter.steps if s.id == "language-models").narration
    for link in (
        "transformer-circuits.pub/2023/monosemantic-features",
        "transformer-circuits.pub/2024/scaling-monosemanticity",
        "arxiv.org/abs/2406.04093",
    ):
        assert link in language  # the three papers, linked
    listed = papers()
    assert {p["year"] for p in listed} >= {"2023", "2024"}
    assert all(p["link"].startswith("https://") and p["found"] and p["model"] for p in listed)


def test_every_step_shows_its_visual_with_the_backends_figures(with_weights, photos_dir, shipped):
    from interp import sae
    from interp.story.roles import role

    unit = role("polysemantic").unit
    log = json.loads(sae.LOG_FILE.read_text(encoding="utf-8"))
    at = chapter_app()
    assert at.title[0].value == "What came next"
    # 1. one place of a photo as neurons and as features: at most k features, rebuilt nearly whole
    assert metrics(at)["Features active here"].endswith(f"of {shipped.features:,}")
    assert int(metrics(at)["Features active here"].split()[0]) <= shipped.k
    assert len(charts(at)) == 1 and not at.error
    # 2. the figures of the training log, as logged; neurons against features on the one purity measure
    go(at, "sae")
    shown = metrics(at)
    assert shown["Explained variance"] == f"{log['held_out']['explained_variance']:.3f}"
    assert shown["Mean L0"] == f"{log['held_out']['l0']:.1f}"
    assert shown["Dead features"].startswith(f"{log['held_out']['dead']:,} of")
    comparison = sae.purity_comparison()
    said = words(at)
    assert f"mean purity {comparison.features.mean_purity:.2f} against {comparison.neurons.mean_purity:.2f}" in said
    assert "12 photos drawn at random give purity" in said  # the scale, from chapter 5's random line
    purer = comparison.features.mean_purity > comparison.neurons.mean_purity
    assert ("are **purer**" in said) == purer and ("**not purer**" in said) == (not purer)
    assert any('"bar"' in json.dumps(c["data"]) for c in charts(at))
    # 3. the polysemantic unit split into the features that share it, and one feature in detail
    go(at, "browse")
    sharing = sae.features_of_neuron(unit.channel, top=4)
    for loading in sharing:
        assert f"**feature {loading.feature}**" in words(at)
    from interp.dataset.atlas import load_atlas
    from interp.sae.analysis import feature_groups, split_verdict
    from interp.story.polysemantic import top_groups
    from ui.visuals.features import verdict_words

    names = top_groups(load_atlas(), unit).names
    measured = split_verdict(sharing, names, feature_groups([s.feature for s in sharing]))
    verdict = verdict_words(unit, measured)  # whichever way it comes out
    assert verdict.startswith("**Measured here, these features ") and verdict in words(at)
    assert at.selectbox(key="browse_feature").value == sharing[0].feature
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    top = sae.feature_examples(sharing[0].feature, top=12)
    assert all(any(c.startswith(f"#{e.rank} {e.photo.label}") for c in captions) for e in top)
    neurons = sae.neurons_of_feature(sharing[0].feature, top=6)
    assert all(f"microscope?unit=mixed4e:{n.channel}" in words(at) for n in neurons)
    at.selectbox(key="browse_feature").set_value(sharing[1].feature).run()
    assert not at.exception and f"**Feature {sharing[1].feature}**" in words(at)
    # 4. the papers beside this app's dictionary, read from its file
    go(at, "language-models")
    bars = next(t for t in charts(at)[0]["data"] if t["type"] == "bar")
    assert f"{shipped.features:,}" in bars["text"][0]
    # 5. the tour, and where to go next
    go(at, "closing")
    assert not at.error


def test_without_the_model_the_narration_stays(without_weights):
    at = chapter_app()
    for step in each_step(at, CHAPTER):
        assert not at.error, step.id


def test_a_deep_link_opens_a_step(without_weights):
    at = chapter_app("language-models")
    assert at.segmented_control(key="step").value == "language-models"
    at.button(key="next_step").click().run()
    assert at.segmented_control(key="step").value == "closing"
    assert at.button(key="next_step").disabled
