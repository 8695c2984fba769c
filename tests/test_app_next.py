"""Chapter 6, "What came next", as Streamlit runs it (AppTest): every step shows its visual, and every figure about
the sparse autoencoder is the backend's own (interp.sae: the training log, the feature atlas, purity_comparison and
purity_by_frequency, the shipped downstream test), whatever the result; each verdict is recomputed here from the
figures, not read from the page."""

import json

import pytest
from conftest import charts, each_step, go, metrics, new_app, open_chapter, open_page
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
        "sae_downstream",
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
    assert log["held_out"]["l0"] == shipped.k  # TopK: L0 is k by construction, and the page says so
    assert shown["Mean L0 = k"] == f"{shipped.k:.1f}" and "Mean L0" not in shown
    said = words(at)
    assert f"The mean L0 is k itself, {shipped.k}: TopK keeps exactly {shipped.k} features" in said
    assert shown["Silent on held-out photos"].startswith(f"{log['held_out']['dead']:,} of")
    record = sae.load_downstream()  # where the silent features fire: the shipped downstream test
    dead, revived = record["dead_held_out"], record["dead_held_out_firing_on_training"]
    assert dead == log["held_out"]["dead"]
    said_dead = f"Of the {dead:,} features silent on the held-out photos, " + (
        f"all {revived:,}" if revived == dead else f"{revived:,}"
    )
    assert f"{said_dead} fire on training photos" in said
    comparison = sae.purity_comparison()
    assert f"mean purity {comparison.features.mean_purity:.2f} against {comparison.neurons.mean_purity:.2f}" in said
    assert "12 photos drawn at random give purity" in said  # the scale, from chapter 5's random line
    # the verdict is the one at matched firing frequency, as far as its interval allows (whichever way it comes out)
    matched = sae.purity_by_frequency()
    low, high = matched.purity.interval
    verdict = "purer" if low > 0 else "less pure" if high < 0 else "no purer"
    assert f"**Measured at the same firing frequency, the features are {verdict} than the neurons**" in said
    assert f"a difference of {matched.purity.difference:+.3f} (95% interval {low:+.3f} to {high:+.3f})" in said
    assert "are **purer**" not in said  # the unmatched comparison is no longer the verdict
    figures = charts(at)
    assert any('"bar"' in json.dumps(c["data"]) for c in figures)
    bands = next(c for c in figures if any(t.get("name") == "features" and t["type"] == "scatter" for t in c["data"]))
    assert len(bands["data"][0]["x"]) == len(matched.bins)
    # 2b. the autoencoder put back into the network: the shipped downstream test, its floors marked as floors
    go(at, "splice")
    n, k = len(record["held_out_photos"]), record["k"]
    said = words(at)
    assert f"keeps its top answer on **{round(record['top1_spliced'] * n)} of the {n} held-out photos**" in said
    assert f"keeps **{round(record['top1_neurons_k'] * n)} of {n}** (KL {record['kl_neurons_k']:.3f})" in said
    better_kept, better_kl = (
        record["top1_spliced"] >= record["top1_neurons_k"],
        record["kl_spliced"] <= record["kl_neurons_k"],
    )
    worse_kept, worse_kl = (
        record["top1_spliced"] <= record["top1_neurons_k"],
        record["kl_spliced"] >= record["kl_neurons_k"],
    )
    against = "beat" if better_kept and better_kl else "do not beat" if worse_kept and worse_kl else "are mixed against"
    assert f"**On the network's own answers, the features {against} the neurons**" in said
    assert "These are floors, not rivals" in said and f"{record['kl_recovered_vs_mean']:.1%} of the damage" in said
    neurons_avoid = 1 - record["kl_neurons_k"] / record["kl_mean"]
    assert f"and the strongest neurons {neurons_avoid:.1%}" in said
    less = record["explained_variance_neurons_k"] < record["explained_variance_spliced"]
    assert f"{'although it keeps less' if less else 'and it keeps as much or more'} of the layer's variance" in said
    (figure,) = charts(at)
    kept, moved = figure["data"]
    assert kept["y"] == ["network as it is", "autoencoder's rebuild", f"{k} strongest neurons",
                         "layer's average (floor)", "zeros (floor)"]  # fmt: skip
    assert kept["x"] == [record[f"top1_{v}"] for v in ("original", "spliced", "neurons_k", "mean", "zero")]
    assert moved["x"] == [record[f"kl_{v}"] for v in ("original", "spliced", "neurons_k", "mean", "zero")]
    assert kept["marker"]["pattern"]["shape"] == ["", "", "", "/", "/"]  # the floors hatched
    assert not at.error
    # 3. the polysemantic unit split into the features that share it: the two that divide its kinds side by side,
    # the evidence (the features that lean most on it, the verdict), then any one feature in detail
    go(at, "browse")
    sharing = sae.features_of_neuron(unit.channel, top=4)
    for loading in sharing:
        assert f"**feature {loading.feature}**" in words(at)
    from interp.dataset.atlas import load_atlas
    from interp.sae.analysis import feature_groups, split_verdict
    from interp.story.polysemantic import top_groups
    from ui.visuals.features import SPLIT, dividing_pair, verdict_words

    names = top_groups(load_atlas(), unit).names
    measured = split_verdict(sharing, names, feature_groups([s.feature for s in sharing]))
    verdict = verdict_words(unit, measured)  # whichever way it comes out
    assert verdict.startswith("**Measured here, these features ") and verdict in words(at)
    pair = dividing_pair(measured)
    assert bool(pair) == measured.divided
    if pair:  # the first screen: one feature for each kind, each with its strongest photos
        assert at.selectbox(key="browse_feature").value == SPLIT
        assert [name for name, _ in pair] == list(measured.names)
        assert all(feature in measured.taken[name] for name, feature in pair)
        captions = [image.proto.imgs[0].caption for image in at.get("image")]
        for _, feature in pair:
            top = sae.feature_examples(feature, top=6)
            assert all(f"#{e.rank} {e.photo.label}" in captions for e in top)
        assert all(f"<b>Feature {feature}</b>" in words(at) for _, feature in pair)
    else:
        assert at.selectbox(key="browse_feature").value == sharing[0].feature
    at.selectbox(key="browse_feature").set_value(sharing[0].feature).run()
    assert not at.exception and f"<b>Feature {sharing[0].feature}</b>" in words(at)
    captions = [image.proto.imgs[0].caption for image in at.get("image")]
    top = sae.feature_examples(sharing[0].feature, top=12)
    assert all(any(c.startswith(f"#{e.rank} {e.photo.label} · ") for c in captions) for e in top)
    neurons = sae.neurons_of_feature(sharing[0].feature, top=6)
    assert all(f"microscope?unit=mixed4e:{n.channel}" in words(at) for n in neurons)
    at.selectbox(key="browse_feature").set_value(sharing[1].feature).run()
    assert not at.exception and f"<b>Feature {sharing[1].feature}</b>" in words(at)
    # 4. the papers beside this app's dictionary, read from its file
    go(at, "language-models")
    bars = next(t for t in charts(at)[0]["data"] if t["type"] == "bar")
    assert f"{shipped.features:,}" in bars["text"][0]
    # 5. the journey in one picture, each panel from this app's data, then the tour and where to go next
    go(at, "closing")
    assert not at.error
    said = words(at)
    for stage in ("Neuron", "Circuit", "Polysemantic neuron", "Feature"):
        assert f">{stage}</div>" in said, stage
    assert role("curve-detector").spec.title.lower() in said
    assert f"{role('car-body').spec.title.lower()} → {role('car-detector').spec.title.lower()}" in said
    assert "excites" in said and "inhibits" in said  # the weights' legend
    if pair:
        assert any(f"feature {feature}: " in said for _, feature in pair)
    assert len(at.get("image")) >= 4


def test_the_stage_shows_the_result_first_and_folds_the_controls(with_weights, photos_dir, shipped):
    """In front of a room each step's result comes first and its chooser is folded under it; the closing screen is
    the journey picture alone, with no tour plan under it."""

    def stage(step: str) -> AppTest:
        app = new_app()
        open_page(app, PAGE)
        app.query_params["step"] = step
        app.query_params["stage"] = "1"
        app.run()
        assert not app.exception, [e.value for e in app.exception]
        return app

    at = stage("browse")
    assert at.selectbox(key="browse_feature")  # still there, to pick another feature ...
    folded = [e for e in at.expander if e.label == "Pick another feature"]
    assert folded and folded[0].selectbox(key="browse_feature")  # ... folded under the result
    assert not [c for c in (i.proto.imgs[0].caption for i in at.get("image")) if c]  # photos speak on stage
    at = stage("dictionary")
    assert not at.metric and "features rebuild" in " ".join(md.value for md in at.markdown)
    assert [e for e in at.expander if e.label == "Pick another photo"]
    at = stage("sae")  # the four figures and the purity answer at matched frequency; the reading words go
    from interp import sae

    assert len(at.metric) == 4 and "The mean L0 is k itself" not in words(at)
    dead = json.loads(sae.LOG_FILE.read_text(encoding="utf-8"))["held_out"]["dead"]
    assert metrics(at)["Silent on held-out"] == f"{dead:,}"  # the short form, to fit a column of four
    (purity_bars,) = [t for c in charts(at) for t in c["data"] if t["type"] == "bar"]
    matched = sae.purity_by_frequency()
    names = [name.replace("<br>", " ") for name in purity_bars["x"]]
    assert names == ["neurons", "all features", "features, same frequency", "random photos"]
    assert purity_bars["text"][2] == f"{matched.purity.features:.2f}"
    at = stage("splice")  # the figure alone, large
    (figure,) = charts(at)
    assert figure["layout"]["height"] >= 400 and "keeps its top answer" not in words(at)
    assert not [c for c in at.caption if c.value.startswith("Measured on the")]  # the caption is the reader's
    assert all(font >= 20 for font in (t["textfont"]["size"] for t in figure["data"]))
    at = stage("closing")
    assert not [md for md in at.markdown if md.value == "**The tour**"]


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
