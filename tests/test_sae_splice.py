"""The autoencoder tested downstream (interp.sae.downstream) and features against neurons at matched firing frequency
(interp.sae.features.purity_by_frequency).

Known answers: an autoencoder whose features are the channels and keeps them all changes nothing (top-1 agreement 1,
KL 0); one that keeps the k largest is the ``neurons_k`` control exactly; zero- and mean-ablating the layer give
every photo the same logits, so their figures follow from one forward pass with the layer replaced by a forward hook
(another mechanism than ``run(edit=...)``), and so do the shipped autoencoder's spliced answers. The means and the
features' training firing equal a direct capture. On planted purity data, a gap made by firing frequency alone
vanishes at matched frequency and a real one does not. Real weights, a few photos each: the whole held-out run is
``python -m interp sae splice`` (BENCHMARKS.md), shipped as ``interp/data/sae/downstream.json``: a few of its photos
are recomputed here by fresh forward passes, and its figures are checked against its own per-photo entries and
against the training log's independent held-out figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_sae import identity_sae  # tests/ is on sys.path under pytest's default import mode

from interp.cli import main as cli_main
from interp.dataset.photos import load_photos
from interp.sae import (
    ATLAS_NAME,
    DOWNSTREAM_FILE,
    FREQUENCY_EDGES,
    LOG_FILE,
    SAE_FILE,
    SAEError,
    cached_splice,
    dead_features,
    downstream,
    downstream_record,
    frequency_matched,
    held_out_photos,
    l0_fixed_by_k,
    layer_statistics,
    load_downstream,
    load_feature_atlas,
    load_sae,
    purity_by_frequency,
    purity_comparison,
    splice,
    training_photos,
    write_downstream,
)
from interp.sae.downstream import VARIANTS, LayerStatistics, kl_divergence
from interp.story.purity import Purity

HELD, TRAINING = 2, 4  # photos of each split the real-weight tests run on


# -- the split -------------------------------------------------------------------------------------------------


def test_training_photos_are_the_other_nine_hundred():
    photos = load_photos()
    held, training = held_out_photos(), training_photos()
    assert len(held) == 100 and len(training) == 900
    assert {p.id for p in held} | {p.id for p in training} == {p.id for p in photos}
    assert not {p.id for p in held} & {p.id for p in training}
    assert training[:3] == list(photos[1:4]) and training[9] == photos[11]  # photo 10 is held out
    assert [p.id for p in held] == json.loads(LOG_FILE.read_text())["held_out_photos"]  # the split training used


# -- pure functions ----------------------------------------------------------------------------------------------


def test_kl_divergence_known_answers():
    a = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    b = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    kl = kl_divergence(a, b)
    p = torch.tensor(2.0).exp() / (1 + torch.tensor(2.0).exp())  # softmax([2, 0])[0]
    expected = p * torch.log(p / (1 - p)) + (1 - p) * torch.log((1 - p) / p)
    assert kl[0] == 0.0 and float(kl[1]) == pytest.approx(float(expected))
    assert kl_divergence(a + 5.0, a).abs().max() < 1e-12  # a shift of all logits changes no probability
    torch.testing.assert_close(
        kl_divergence(a, b),
        torch.nn.functional.kl_div(b.log_softmax(-1), a.log_softmax(-1), log_target=True, reduction="none")
        .sum(-1)
        .double(),
    )


def test_l0_is_k_by_construction():
    assert l0_fixed_by_k(32.0, 32) and not l0_fixed_by_k(31.98, 32) and l0_fixed_by_k(3, 3)


def test_dead_features_known_answers():
    held = np.array([0, 0, 0, 5, 2, 0])
    trained = np.array([3, 1, 0, 7, 0, 10])
    out = dead_features(held, trained)
    assert out["dead_held_out"] == 4  # features 0, 1, 2 and 5
    assert out["dead_held_out_firing_on_training"] == 3  # 0, 1 and 5 fire on training photos
    assert out["dead_held_out_training_photos"] == {"median": 3.0, "min": 1, "max": 10}
    assert out["dead_everywhere"] == 1 and out["firing_held_out_only"] == 1  # feature 2; feature 4
    none = dead_features(np.ones(3), np.ones(3))
    assert none["dead_held_out"] == 0 and none["dead_held_out_training_photos"] is None


# -- purity at matched frequency ---------------------------------------------------------------------------------


def planted(purity: list[float], polysemantic: list[bool]) -> Purity:
    return Purity(np.array(purity), np.array(polysemantic, dtype=bool))


def test_a_gap_made_by_frequency_vanishes_at_matched_frequency():
    """Rare features are pure, frequent ones as pure as the neurons, which are all frequent: unmatched, the features
    look purer; in the one bin holding both they are not."""
    neurons = planted([0.5, 0.25, 0.75, 0.5], [True, True, False, False])
    neuron_photos = np.array([950, 960, 900, 990])
    features = planted([1.0] * 6 + [0.5, 0.25, 0.75, 0.5], [False] * 6 + [True, True, False, False])
    feature_photos = np.array([20] * 6 + [940, 930, 905, 999])
    found = frequency_matched(neurons, neuron_photos, features, feature_photos, edges=(12, 100, 900, 1001))
    assert found.unmatched["feature_purity"] == pytest.approx(0.8) and found.unmatched["neuron_purity"] == 0.5
    rare, middle, frequent = found.bins
    assert (rare.neurons, rare.features, rare.feature_purity, rare.neuron_purity) == (0, 6, 1.0, None)
    assert (middle.neurons, middle.features) == (0, 0) and not middle.matched
    assert frequent.matched and frequent.neuron_purity == frequent.feature_purity == 0.5
    assert (found.matched_neurons, found.matched_features) == (4, 4)
    assert found.purity.neurons == found.purity.features == 0.5 and found.purity.difference == 0.0
    assert found.polysemantic.difference == 0.0 and found.polysemantic.neurons == 0.5
    low, high = found.purity.interval
    assert low <= 0.0 <= high
    out = found.as_dict()
    assert out["bins"][0]["photos"] == [12, 100] and out["weighted_purity"]["difference"] == 0.0


def test_a_real_gap_survives_matched_frequency_and_is_weighted_by_the_neurons():
    rng = np.random.default_rng(1)
    # two bins: neurons 30 at ~650 photos and 90 at ~950; features purer by 0.25 in both, mostly in the lower bin
    neurons = planted(list(rng.uniform(0.2, 0.4, 30)) + list(rng.uniform(0.3, 0.5, 90)), [False] * 120)
    neuron_photos = np.array([650] * 30 + [950] * 90)
    features = planted(list(rng.uniform(0.45, 0.65, 80)) + list(rng.uniform(0.55, 0.75, 20)), [False] * 100)
    feature_photos = np.array([620] * 80 + [990] * 20)
    found = frequency_matched(neurons, neuron_photos, features, feature_photos, edges=(600, 800, 1001), resamples=500)
    low, high = found.bins
    expected = 0.25 * (low.feature_purity - low.neuron_purity) + 0.75 * (high.feature_purity - high.neuron_purity)
    assert found.purity.difference == pytest.approx(expected)  # weights 30/120 and 90/120: the neurons' own
    assert found.purity.neurons == pytest.approx(neurons.mean_purity)
    assert 0.15 < found.purity.interval[0] < found.purity.difference < found.purity.interval[1] < 0.35
    again = frequency_matched(neurons, neuron_photos, features, feature_photos, edges=(600, 800, 1001), resamples=500)
    assert again.purity.interval == found.purity.interval  # seeded
    with pytest.raises(ValueError):
        frequency_matched(neurons, neuron_photos[:5], features, feature_photos)
    with pytest.raises(ValueError):
        frequency_matched(neurons, neuron_photos, features, feature_photos, edges=(800, 600))


def test_purity_by_frequency_on_the_shipped_atlases():
    found = purity_by_frequency(resamples=200)
    plain = purity_comparison()
    atlas = load_feature_atlas()
    photos = (atlas.arrays(ATLAS_NAME)["act"] > 0).sum(axis=1)[atlas.firing(ATLAS_NAME, 12)]
    assert found.unmatched["neurons"] == plain.neurons_total == 832 == sum(b.neurons for b in found.bins)
    assert found.unmatched["features"] == len(plain.features.purity) == sum(b.features for b in found.bins)
    assert found.unmatched["feature_purity"] == pytest.approx(plain.features.mean_purity, abs=1e-4)
    assert found.unmatched["neuron_purity"] == pytest.approx(plain.neurons.mean_purity, abs=1e-4)
    for b in found.bins:  # each bin's features, counted again from the feature atlas
        inside = (photos >= b.low) & (photos < b.high)
        assert b.features == int(inside.sum())
        if b.features:
            assert b.feature_purity == pytest.approx(float(plain.features.purity[inside].mean()))
    assert [b.low for b in found.bins] == list(FREQUENCY_EDGES[:-1])
    # every neuron fires on at least 600 photos, so all of them are matched, weighted as themselves
    assert found.matched_neurons == 832 and found.purity.neurons == pytest.approx(plain.neurons.mean_purity)
    assert found.matched_features == sum(b.features for b in found.bins if b.matched) < found.unmatched["features"]


def test_cli_sae_purity(capsys):
    assert cli_main(["sae", "purity", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"plain": purity_comparison().as_dict(), "by_frequency": purity_by_frequency().as_dict()}
    assert cli_main(["sae", "purity"]) == 0
    text = capsys.readouterr().out
    found = purity_by_frequency()
    assert f"difference {found.purity.difference:+.3f}" in text and f"{found.bins[-1].neurons:>5}" in text


# -- the splice on real weights, a few photos ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def statistics(model, photos_dir):
    return layer_statistics(model, load_sae(), training_photos()[:TRAINING], photos_dir)


@pytest.fixture(scope="module")
def shipped(model, photos_dir, statistics, labels):
    return splice(model, load_sae(), photos_dir, photos=held_out_photos()[:HELD], statistics=statistics, labels=labels)


def replaced(model, images: torch.Tensor, layer: str, fn) -> torch.Tensor:
    """The logits with ``layer`` replaced by ``fn(activations)`` through a forward hook (not ``run(edit=...)``)."""
    handle = model.hook[layer].register_forward_hook(lambda module, inputs, output: fn(output))
    try:
        with torch.inference_mode():
            return model(images)
    finally:
        handle.remove()


def held_images(photos_dir) -> torch.Tensor:
    from interp.dataset.intake import load_image

    return torch.cat([load_image(photos_dir / p.file).tensor for p in held_out_photos()[:HELD]])


def test_layer_statistics_equal_a_direct_capture(model, photos_dir, statistics):
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    sae = load_sae()
    images = torch.cat([load_image(photos_dir / p.file).tensor for p in training_photos()[:TRAINING]])
    acts = capture(model, images, [sae.layer])[sae.layer]  # 4 x 832 x 14 x 14
    assert statistics.photos == TRAINING
    torch.testing.assert_close(statistics.mean, acts.mean(dim=0), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(statistics.mean_channel[:, 3, 5], acts.mean(dim=(0, 2, 3)), rtol=1e-5, atol=1e-5)
    codes = sae.encode(acts.permute(0, 2, 3, 1))  # photos x 14 x 14 x F
    np.testing.assert_array_equal(statistics.firing, (codes > 0).flatten(1, 2).any(dim=1).sum(dim=0).numpy())


def test_an_identity_autoencoder_changes_nothing_and_keeping_k_is_the_neurons_control(
    model, photos_dir, statistics, labels
):
    photos = held_out_photos()[:HELD]
    with pytest.raises(ValueError, match="features' firing"):  # the statistics count the shipped autoencoder's
        splice(model, identity_sae(832, 832), photos_dir, photos=photos, statistics=statistics, labels=labels)
    channels = LayerStatistics(statistics.mean, np.zeros(832, dtype=np.int64), statistics.photos)
    whole = splice(
        model,
        identity_sae(832, 832),
        photos_dir,
        photos=photos,
        statistics=channels,
        labels=labels,
        variants=("spliced",),
    )
    assert whole["top1_spliced"] == whole["top5_spliced"] == 1.0 == whole["top1_original"]
    assert whole["kl_spliced"] == pytest.approx(0.0, abs=1e-9)
    assert whole["label_top1_spliced"] == whole["label_top1_original"]
    assert "kl_zero" not in whole and "kl_recovered_vs_mean" not in whole  # only the variants asked for
    assert whole["l0_fixed_by_k"] is False  # ReLU zeros: fewer than 832 channels active at a position
    assert whole["explained_variance_spliced"] == pytest.approx(1.0, abs=1e-9)
    sparse = splice(
        model,
        identity_sae(832, 32),
        photos_dir,
        photos=photos,
        statistics=channels,
        labels=labels,
        variants=("spliced", "neurons_k"),
    )
    assert sparse["kl_spliced"] == pytest.approx(sparse["kl_neurons_k"], abs=1e-9) and sparse["kl_spliced"] > 0
    assert [p["spliced"] for p in sparse["per_photo"]] == [p["neurons_k"] for p in sparse["per_photo"]]
    assert sparse["spliced_worse_than_neurons_k"] == 0  # equal, never larger
    assert sparse["explained_variance_spliced"] == pytest.approx(sparse["explained_variance_neurons_k"], abs=1e-9)


def test_the_shipped_splice_equals_replacing_the_layer_by_a_hook(model, photos_dir, statistics, shipped, labels):
    sae = load_sae()
    images = held_images(photos_dir)
    real = torch.zeros(1008, dtype=torch.bool)
    real[list(labels.real_indices)] = True
    with torch.inference_mode():
        original = model(images)
    first = original.masked_fill(~real, -torch.inf).argmax(dim=1)
    assert [p["original"] for p in shipped["per_photo"]] == first.tolist()
    truth = [p.index for p in held_out_photos()[:HELD]]
    assert shipped["label_top1_original"] == float(np.mean([int(f) == t for f, t in zip(first, truth)]))
    replacements = {
        "spliced": lambda a: sae(a.permute(0, 2, 3, 1)).permute(0, 3, 1, 2),
        "zero": torch.zeros_like,
        "mean": lambda a: statistics.mean.expand_as(a),
        "mean_channel": lambda a: statistics.mean.mean(dim=(1, 2))[:, None, None].expand_as(a),
    }
    for name, fn in replacements.items():
        logits = replaced(model, images, sae.layer, fn)
        tops = logits.masked_fill(~real, -torch.inf).argmax(dim=1)
        assert [p[name] for p in shipped["per_photo"]] == tops.tolist(), name
        kl = torch.nn.functional.kl_div(
            logits.log_softmax(-1), original.log_softmax(-1), log_target=True, reduction="none"
        ).sum(-1)
        assert shipped[f"kl_{name}"] == pytest.approx(float(kl.mean()), rel=1e-4), name
        assert shipped[f"top1_{name}"] == float((tops == first).double().mean()), name
        if name != "spliced":  # a constant layer: every photo gets the same answer
            assert torch.allclose(logits, logits[:1].expand_as(logits), atol=1e-4), name
            assert len({p[name] for p in shipped["per_photo"]}) == 1
    from interp.network.activations import capture
    from interp.sae import reconstruction_stats

    acts = capture(model, images, [sae.layer])[sae.layer].permute(0, 2, 3, 1).reshape(-1, sae.d)
    stats = reconstruction_stats(sae, acts)
    assert shipped["explained_variance_spliced"] == pytest.approx(stats["explained_variance"], abs=1e-6)
    neurons = reconstruction_stats(identity_sae(sae.d, sae.k), acts)["explained_variance"]
    assert shipped["explained_variance_neurons_k"] == pytest.approx(neurons, abs=1e-6)
    worse = sum(p["kl_spliced"] > p["kl_neurons_k"] for p in shipped["per_photo"])
    assert shipped["spliced_worse_than_neurons_k"] == worse
    zero, mean = shipped["kl_zero"], shipped["kl_mean"]
    assert shipped["kl_recovered_vs_zero"] == pytest.approx(1 - shipped["kl_spliced"] / zero)
    assert shipped["kl_recovered_vs_mean"] == pytest.approx(1 - shipped["kl_spliced"] / mean)


def test_the_shipped_splice_keys_and_features(shipped):
    for name in ("original", *VARIANTS):
        for figure in ("top1", "top5", "kl", "label_top1", "label_top5"):
            value = shipped[f"{figure}_{name}"]
            assert 0.0 <= value and (figure == "kl" or value <= 1.0)
    assert shipped["top1_original"] == 1.0 and shipped["kl_original"] == 0.0
    assert shipped["held_out_photos"] == [p.id for p in held_out_photos()[:HELD]]
    assert shipped["training_photos"] == TRAINING and "per channel and position" in shipped["mean_ablation"]
    sae = load_sae()
    assert shipped["l0_held_out"] == sae.k and shipped["l0_fixed_by_k"] is True
    assert shipped["dead_held_out"] + shipped["firing_held_out_only"] >= shipped["dead_everywhere"]
    assert shipped["dead_held_out"] <= sae.features and shipped["top5_spliced"] >= shipped["top1_spliced"]


def test_cached_splice_reads_back_and_refreshes(model, monkeypatch, tmp_path):
    calls = []

    def fake(model, sae, images_dir, **kwargs):
        calls.append(sae.k)
        return {"kl_spliced": 0.25 * len(calls), "k": sae.k}

    monkeypatch.setattr(downstream, "splice", fake)
    sae = load_sae()
    assert cached_splice(model, sae, tmp_path) == {"kl_spliced": 0.25, "k": sae.k}
    assert cached_splice(model, sae, tmp_path) == {"kl_spliced": 0.25, "k": sae.k} and len(calls) == 1
    assert cached_splice(model, sae, tmp_path, refresh=True)["kl_spliced"] == 0.5 and len(calls) == 2
    other = identity_sae(832, 4)  # another autoencoder: another key, computed
    assert cached_splice(model, other, tmp_path)["k"] == 4 and len(calls) == 3
    assert cached_splice(model, sae, tmp_path)["kl_spliced"] == 0.5 and len(calls) == 3


# -- the command line ------------------------------------------------------------------------------------------


def test_cli_sae_splice_json_is_splice_on_the_same_photos(shipped, photos_dir, monkeypatch, capsys):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    assert cli_main(["sae", "splice", "--json", "--photos", "1", "--mean-photos", str(TRAINING)]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("top1_original", "top1_spliced", "top1_zero", "top1_mean", "kl_spliced", "held_out_photos"):
        assert key in out
    assert "per_photo" not in out and out["held_out_photos"] == shipped["held_out_photos"][:1]
    first = shipped["per_photo"][0]
    for name in VARIANTS:
        assert out[f"kl_{name}"] == pytest.approx(first[f"kl_{name}"], rel=1e-5)
        assert out[f"top1_{name}"] == float(first[name] == first["original"])


def test_cli_sae_splice_text_says_every_figure(shipped, photos_dir, monkeypatch, capsys):
    """The table and the lines under it, from the figures ``splice`` returns (stubbed: no second run here)."""
    from interp import sae

    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    monkeypatch.setattr(sae, "layer_statistics", lambda *args, **kwargs: None)
    monkeypatch.setattr(sae, "splice", lambda *args, **kwargs: shipped)
    assert cli_main(["sae", "splice", "--photos", str(HELD), "--mean-photos", str(TRAINING)]) == 0
    text = capsys.readouterr().out
    assert f"on the {HELD} held-out photos (means from {TRAINING} training photos)" in text
    rows = {
        line[:38].strip(): line[38:].split() for line in text.splitlines() if line.startswith("  ") and line[2] != " "
    }
    words = {"original": "the network as it is", "spliced": "the autoencoder's reconstruction", "zero": "zero"}
    words |= {"neurons_k": "each position's 32 largest neurons", "mean": "mean per channel and position"}
    for name, row in words.items():
        figures = [shipped[f"{f}_{name}"] for f in ("top1", "top5", "kl", "label_top1", "label_top5")]
        assert [float(x) for x in rows[row]] == pytest.approx(figures, abs=6e-4), name
    assert f"avoids {shipped['kl_recovered_vs_mean']:.1%} of the KL that mean-ablating" in text
    assert "(L0): 32.00, k itself" in text
    assert f"than the 32 largest neurons on {shipped['spliced_worse_than_neurons_k']} of the {HELD} photos" in text
    assert f"keeps {shipped['explained_variance_spliced']:.1%}, the 32 largest neurons" in text
    dead = f"held-out photo: {shipped['dead_held_out']} of 2560; {shipped['dead_held_out_firing_on_training']} of"
    assert dead in text


def test_cli_sae_splice_errors(photos_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    assert cli_main(["sae", "splice", "--photos", "0"]) == 1
    assert "--photos must be at least 1" in capsys.readouterr().err
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))  # no photos
    assert cli_main(["sae", "splice", "--photos", "1", "--mean-photos", "1"]) == 1
    err = capsys.readouterr().err
    assert "photos needed are not in" in err and "Traceback" not in err


def test_cli_sae_splice_write_ships_the_run(shipped, photos_dir, weights_dir, tmp_path, monkeypatch, capsys):
    """``--write`` keeps the run's figures and its per-photo classes and KL, with the files it was measured with;
    it ships full runs only."""
    from interp import sae
    from interp.dataset.download import file_sha256

    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    monkeypatch.setattr(sae, "cached_splice", lambda *args, **kwargs: shipped)  # the full run, stubbed
    target = tmp_path / "downstream.json"
    assert cli_main(["sae", "splice", "--json", "--write", str(target)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert "per_photo" not in printed and printed["kl_spliced"] == shipped["kl_spliced"]
    record = load_downstream(target)
    assert record["per_photo"] == shipped["per_photo"] and record["kl_spliced"] == shipped["kl_spliced"]
    assert record["sae_sha256"] == file_sha256(SAE_FILE) and record["command"].endswith("sae splice --write")
    assert record["weights_sha256"] == file_sha256(weights_dir / "inception5h.pth")
    assert cli_main(["sae", "splice", "--write", str(target), "--photos", "1"]) == 1
    assert "--write ships the full run only" in capsys.readouterr().err


# -- the shipped result --------------------------------------------------------------------------------------------


def test_downstream_record_keeps_classes_and_kl_and_the_loader_refuses_what_does_not_fit(tmp_path):
    result = {
        "kl_spliced": 0.5,
        "kl_zero": 2.0,
        "per_photo": [
            {"id": "a", "label": 3, "original": 3, "spliced": 4, "kl_spliced": 0.5, "zero": 9, "kl_zero": 2.0,
             "logits_spliced": [0.1] * 8},
        ],
    }  # fmt: skip
    record = downstream_record(result, sae_file=SAE_FILE, built="2000-01-02")
    assert record["per_photo"] == [
        {"id": "a", "label": 3, "original": 3, "spliced": 4, "zero": 9, "kl_spliced": 0.5, "kl_zero": 2.0}
    ]  # no logits
    assert (record["built"], record["weights_sha256"], record["kl_zero"]) == ("2000-01-02", None, 2.0)
    with pytest.raises(ValueError, match="per-photo"):
        downstream_record({"kl_spliced": 0.5})
    path = write_downstream(record, tmp_path / "d.json")
    assert load_downstream(path) == record
    other = tmp_path / "other.pt"
    other.write_bytes(b"another autoencoder")
    with pytest.raises(SAEError, match="another autoencoder"):
        load_downstream(path, sae_file=other)
    assert load_downstream(path, sae_file=None) == record
    with pytest.raises(SAEError, match="is not in"):
        load_downstream(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SAEError, match="cannot be read"):
        load_downstream(tmp_path / "bad.json")
    (tmp_path / "old.json").write_text(json.dumps({**record, "format": 0}))
    with pytest.raises(SAEError, match="format"):
        load_downstream(tmp_path / "old.json")


@pytest.fixture(scope="module")
def downstream_file():
    if not DOWNSTREAM_FILE.is_file():
        pytest.skip(f"no shipped downstream test in {DOWNSTREAM_FILE} (python -m interp sae splice --write)")
    return load_downstream()  # refuses a file measured with another autoencoder than the shipped one


def test_the_shipped_downstream_figures_are_its_own_photos_and_the_training_logs(downstream_file):
    """Every figure of the file from its per-photo entries, and the layer's figures as the training log measured
    them on the same held-out photos (another program, another pass)."""
    record = downstream_file
    sae = load_sae()
    per = record["per_photo"]
    assert record["held_out_photos"] == [p["id"] for p in per] == [p.id for p in held_out_photos()]
    assert [p["label"] for p in per] == [p.index for p in held_out_photos()]
    assert (record["layer"], record["k"], record["features"]) == (sae.layer, sae.k, sae.features)
    assert record["training_photos"] == len(training_photos()) == 900
    for name in ("original", *VARIANTS):
        assert record[f"top1_{name}"] == pytest.approx(np.mean([p[name] == p["original"] for p in per])), name
        assert record[f"label_top1_{name}"] == pytest.approx(np.mean([p[name] == p["label"] for p in per])), name
        if name != "original":
            assert record[f"kl_{name}"] == pytest.approx(np.mean([p[f"kl_{name}"] for p in per]), rel=1e-9), name
        assert record[f"top5_{name}"] >= record[f"top1_{name}"]
    for name in ("zero", "mean", "mean_channel"):  # floors: the layer says nothing about the photo
        assert len({p[name] for p in per}) == 1, name
    assert record["spliced_worse_than_neurons_k"] == sum(p["kl_spliced"] > p["kl_neurons_k"] for p in per)
    assert record["kl_recovered_vs_mean"] == pytest.approx(1 - record["kl_spliced"] / record["kl_mean"])
    log = json.loads(LOG_FILE.read_text(encoding="utf-8"))["held_out"]
    assert record["explained_variance_spliced"] == pytest.approx(log["explained_variance"], abs=1e-4)
    assert record["dead_held_out"] == log["dead"] and record["l0_held_out"] == log["l0"] == sae.k
    assert record["l0_fixed_by_k"] is True
    assert record["dead_held_out"] == record["dead_held_out_firing_on_training"] + record["dead_everywhere"]


def test_the_shipped_downstream_file_agrees_with_fresh_forward_passes(downstream_file, model, labels, photos_dir):
    """Four held-out photos through the network again, the layer replaced by forward hooks: the two that open the
    file, the first on which the reconstruction changes the answer, and the next on which the k largest neurons do."""
    from interp.dataset.intake import load_image

    record, sae = downstream_file, load_sae()
    per = record["per_photo"]
    chosen = [0, 1]
    for name in ("spliced", "neurons_k"):  # the first photo each changes that is not chosen yet
        changed = next((i for i, p in enumerate(per) if p[name] != p["original"] and i not in chosen), None)
        if changed is not None:
            chosen.append(changed)
    assert len(chosen) == 4  # the file says both change some answers: one of each is checked
    photos = {p.id: p for p in held_out_photos()}
    images = torch.cat([load_image(photos_dir / photos[per[i]["id"]].file).tensor for i in chosen])
    real = torch.zeros(1008, dtype=torch.bool)
    real[list(labels.real_indices)] = True

    def strongest(a: torch.Tensor) -> torch.Tensor:  # the k largest channels at each position (a >= 0: post-ReLU)
        kth = a.topk(sae.k, dim=1).values[:, -1:]
        return torch.where(a >= kth, a, torch.zeros_like(a))

    with torch.inference_mode():
        original = model(images)
    replacements = {
        "spliced": lambda a: sae(a.permute(0, 2, 3, 1)).permute(0, 3, 1, 2),
        "neurons_k": strongest,
        "zero": torch.zeros_like,
    }
    tops = {"original": original.masked_fill(~real, -torch.inf).argmax(dim=1).tolist()}
    kls = {}
    for name, fn in replacements.items():
        logits = replaced(model, images, sae.layer, fn)
        tops[name] = logits.masked_fill(~real, -torch.inf).argmax(dim=1).tolist()
        p, q = original.double().log_softmax(-1), logits.double().log_softmax(-1)
        kls[name] = (p.exp() * (p - q)).sum(-1).tolist()
    for row, i in enumerate(chosen):
        entry = per[i]
        assert entry["original"] == tops["original"][row], entry["id"]
        for name in replacements:
            assert entry[name] == tops[name][row], (entry["id"], name)
            assert entry[f"kl_{name}"] == pytest.approx(kls[name][row], rel=2e-3, abs=1e-5), (entry["id"], name)
    assert any(tops["spliced"][row] != tops["original"][row] for row in range(len(chosen)))
