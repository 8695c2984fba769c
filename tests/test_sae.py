"""The sparse autoencoder of chapter 6: TopK and the figures on hand-made data, the sparse training step against
dense autograd, recovery of planted directions, the shipped file's format, its held-out figures recomputed live
against the goals and the training log, the feature atlas against fresh forward passes, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from interp.cli import main as cli_main
from interp.dataset.photos import load_photos
from interp.sae import (
    ATLAS_NAME,
    EXAMPLES_FILE,
    FILE_KEYS,
    LOG_FILE,
    SAE_FILE,
    SAEError,
    SparseAutoencoder,
    TrainingSettings,
    encode_image,
    feature_examples,
    feature_rankings,
    features_of_neuron,
    held_out_photos,
    load_feature_atlas,
    load_sae,
    neurons_of_feature,
    photo_activations,
    purity_comparison,
    reconstruction_stats,
    topk_relu,
    train,
)
from interp.sae.training import Decoded, Selected
from interp.story.roles import role

GOAL_EV, GOAL_L0, GOAL_BYTES = 0.8, 32, 10_000_000
POLYSEMANTIC = role("polysemantic").unit.channel  # the roles catalogue's polysemantic unit of mixed4e


def identity_sae(d: int, k: int) -> SparseAutoencoder:
    """An autoencoder whose features are the channels themselves: encode keeps the k largest, decode copies."""
    sae = SparseAutoencoder(d, d, k)
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
    return sae


# -- the package's rooms ---------------------------------------------------------------------------------------

README_NAMES = (
    "load_sae",
    "SparseAutoencoder",
    "encode_image",
    "evaluate",
    "load_feature_atlas",
    "feature_examples",
    "features_of_neuron",
    "neurons_of_feature",
    "purity_comparison",
    "train",
)


def test_the_package_reexports_what_the_readme_documents():
    """``from interp import sae; sae.load_sae()``: every documented name is the one of the room that holds it."""
    from interp import sae
    from interp.sae import autoencoder, features, training

    rooms = (autoencoder, features, training)
    for name in README_NAMES:
        assert name in sae.__all__, name
        homes = [room for room in rooms if getattr(vars(room).get(name), "__module__", None) == room.__name__]
        assert len(homes) == 1 and getattr(sae, name) is getattr(homes[0], name), name
    assert all(hasattr(sae, name) for name in sae.__all__)
    assert load_feature_atlas is features.load_feature_atlas and train is training.train


# -- TopK and the figures --------------------------------------------------------------------------------------


def test_topk_keeps_exactly_the_k_largest():
    pre = torch.rand(50, 300) + 0.1  # every pre-activation positive
    out = topk_relu(pre, 7)
    assert ((out != 0).sum(dim=1) == 7).all()
    kept = out != 0
    assert (pre[kept].reshape(50, 7).min(dim=1).values >= pre.masked_fill(kept, -1).max(dim=1).values).all()
    assert torch.equal(out[kept], pre[kept])
    mixed = torch.tensor([[3.0, -1.0, 0.5, -2.0, 2.0]])
    assert torch.equal(topk_relu(mixed, 2), torch.tensor([[3.0, 0, 0, 0, 2.0]]))
    assert torch.equal(topk_relu(mixed, 4), torch.tensor([[3.0, 0, 0.5, 0, 2.0]]))  # negatives are never active


def test_encode_of_an_autoencoder_has_at_most_k_active():
    sae = SparseAutoencoder(16, 64, 5)
    with torch.no_grad():
        sae.W_enc.normal_()
        sae.b_enc.fill_(100.0)  # every pre-activation positive: exactly k
    assert ((sae.encode(torch.randn(40, 16)) > 0).sum(dim=1) == 5).all()
    with torch.no_grad():
        sae.b_enc.fill_(0.0)
    assert ((sae.encode(torch.randn(40, 16)) > 0).sum(dim=1) <= 5).all()


def test_reconstruction_stats_known_answers():
    acts = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 0.0], [1.0, 1.0, 5.0]])
    # total squared deviation from the column means (4/3, 4/3, 5/3): 42/9 + 6/9 + 150/9 = 22
    one = reconstruction_stats(identity_sae(3, 1), acts)  # keeps 3, 2 and 5: errors 1 + 0 + 2
    assert one["explained_variance"] == pytest.approx(1 - 3 / 22)
    assert one["l0"] == 1 and one["dead"] == 0 and one["positions"] == 3
    two = reconstruction_stats(identity_sae(3, 2), acts)  # misses one of the tied 1s of the last row
    assert two["explained_variance"] == pytest.approx(1 - 1 / 22)
    assert two["l0"] == pytest.approx(5 / 3)  # the second row has one positive value only
    sae = identity_sae(4, 1)
    assert reconstruction_stats(sae, torch.tensor([[1.0, 0, 0, 0], [0, 2.0, 0, 0]]))["dead"] == 2


# -- training --------------------------------------------------------------------------------------------------


@pytest.fixture
def one_thread():
    """Small matrices train faster on one thread than on two competing ones (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_sparse_training_step_has_the_dense_gradients():
    """The training loop's sparse forward/backward equals autograd through the dense formula, repeated
    features (a dead feature both in the top k and the AuxK set) included."""
    torch.manual_seed(0)
    batch, d, features = 6, 5, 9
    x = torch.randn(batch, d)
    W_enc = torch.randn(d, features, requires_grad=True)
    W_dec = torch.randn(features, d, requires_grad=True)
    bias = torch.randn(features, requires_grad=True)
    indices = torch.stack([torch.randperm(features)[:4] for _ in range(batch)])
    indices = torch.cat([indices, indices[:, :1]], dim=1)  # the first feature of each row twice
    weights = torch.randn(batch, d)

    def loss_sparse():
        pre = (x @ W_enc + bias).detach()
        values = Selected.apply(x, W_enc, bias, pre, indices).clamp_min(0)
        return (Decoded.apply(indices, values, W_dec, False) * weights).sum()

    def loss_dense():
        values = (x @ W_enc + bias).gather(1, indices).clamp_min(0)
        return (torch.einsum("bj,bjd->bd", values, W_dec[indices]) * weights).sum()

    grads = []
    for loss in (loss_sparse, loss_dense):
        grads.append(torch.autograd.grad(loss(), (W_enc, W_dec, bias)))
        assert torch.allclose(loss_sparse(), loss_dense())
    for sparse, dense in zip(*grads):
        torch.testing.assert_close(sparse, dense)


def planted_data(n: int = 6000, d: int = 32, directions: int = 64, active: int = 3, seed: int = 0):
    """n samples, each a sum of ``active`` of ``directions`` random unit vectors with weights in [0.5, 1.5]."""
    g = torch.Generator().manual_seed(seed)
    truth = torch.randn(directions, d, generator=g)
    truth /= truth.norm(dim=1, keepdim=True)
    chosen = torch.rand(n, directions, generator=g).argsort(dim=1)[:, :active]
    weights = torch.zeros(n, directions).scatter(1, chosen, 0.5 + torch.rand(n, active, generator=g))
    return weights @ truth, truth


def test_training_recovers_planted_directions(one_thread):
    data, truth = planted_data()
    settings = TrainingSettings(features=128, k=3, epochs=8, batch=128, lr=1e-2, auxk=32, dead_after=2000, bf16=False)
    sae, history = train(data, settings)
    best = (truth @ sae.W_dec.T).max(dim=1).values  # each true direction's closest decoder row (unit length)
    assert best.min() > 0.9, best.sort().values[:5]
    assert history[-1]["loss"] < history[0]["loss"] and len(history) == 8
    torch.testing.assert_close(sae.W_dec.norm(dim=1), torch.ones(128))
    assert reconstruction_stats(sae, data)["explained_variance"] > 0.9


def test_training_is_deterministic(one_thread):
    data, _ = planted_data(n=1000)
    settings = TrainingSettings(features=32, k=3, epochs=1, batch=100, bf16=False)
    first, second = train(data, settings)[0], train(data, settings)[0]
    assert torch.equal(first.W_enc, second.W_enc) and torch.equal(first.W_dec, second.W_dec)
    third = train(data, TrainingSettings(features=32, k=3, epochs=1, batch=100, bf16=False, seed=1))[0]
    assert not torch.equal(first.W_dec, third.W_dec)
    # the input scale makes training blind to the data's units: ten times the data, the same directions
    tenfold = train(10 * data, settings)[0]
    assert tenfold.input_scale == pytest.approx(first.input_scale / 10)
    torch.testing.assert_close(tenfold.W_dec, first.W_dec, atol=1e-4, rtol=0)
    torch.testing.assert_close(tenfold(10 * data[:50]), 10 * first(data[:50]), atol=1e-3, rtol=1e-3)


# -- the shipped files -----------------------------------------------------------------------------------------


def test_shipped_file_format():
    assert SAE_FILE.stat().st_size <= GOAL_BYTES
    state = torch.load(SAE_FILE, map_location="cpu", weights_only=True)
    assert tuple(state) == FILE_KEYS
    assert state["format"] == 1 and state["layer"] == "mixed4e" and state["held_out_every"] == 10
    assert isinstance(state["k"], int) and 1 <= state["k"] <= GOAL_L0
    features = state["b_enc"].shape[0]
    assert state["W_enc"].shape == (832, features) and state["W_dec"].shape == (features, 832)
    assert state["b_dec"].shape == (832,) and state["input_scale"].shape == ()
    assert state["W_enc"].dtype == state["W_dec"].dtype == torch.float16
    assert state["b_enc"].dtype == state["b_dec"].dtype == state["input_scale"].dtype == torch.float32
    torch.testing.assert_close(state["W_dec"].float().norm(dim=1), torch.ones(features), atol=2e-3, rtol=0)
    sae = load_sae()
    assert sae.features == features and sae.k == state["k"] and sae.input_scale == float(state["input_scale"])


def test_load_sae_refuses_other_files(tmp_path):
    state = torch.load(SAE_FILE, weights_only=True)
    del state["held_out_every"]
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(SAEError, match="format"):
        load_sae(tmp_path / "old.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a file")
    with pytest.raises(SAEError, match="readable"):
        load_sae(tmp_path / "broken.pt")
    with pytest.raises(SAEError, match="missing"):
        load_sae(tmp_path / "none.pt")


def test_training_log_and_atlas_belong_to_the_shipped_file():
    from interp.dataset.download import file_sha256

    log = json.loads(LOG_FILE.read_text())
    sha = file_sha256(SAE_FILE)
    assert log["sae_sha256"] == sha and load_feature_atlas().meta["sae_sha256"] == sha
    assert log["features"] == load_sae().features and log["k"] == load_sae().k
    assert log["held_out_photos"] == [p.id for i, p in enumerate(load_photos()) if i % 10 == 0]
    assert log["files"][SAE_FILE.name]["bytes"] == SAE_FILE.stat().st_size
    assert log["files"][EXAMPLES_FILE.name]["bytes"] == EXAMPLES_FILE.stat().st_size
    assert len(log["epochs"]) == log["settings"]["epochs"]
    assert log["held_out"]["explained_variance"] >= GOAL_EV and log["held_out"]["l0"] <= GOAL_L0
    atlas = load_feature_atlas()
    assert [p.id for p in atlas.photos] == [p.id for p in load_photos()]
    assert atlas.count(ATLAS_NAME) == load_sae().features


# -- live, on the photos ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def held_out_acts(model, photos_dir):
    """mixed4e at every position of the 100 held-out photos, from fresh forward passes."""
    return photo_activations(model, held_out_photos(), photos_dir)


@pytest.fixture(scope="module")
def live(held_out_acts):
    return reconstruction_stats(load_sae(), held_out_acts)


def test_held_out_figures_meet_the_goals_and_equal_the_log(live):
    log = json.loads(LOG_FILE.read_text())["held_out"]
    assert len(held_out_photos()) == 100 and live["positions"] == 100 * 14 * 14 == log["positions"]
    assert live["explained_variance"] >= GOAL_EV and live["l0"] <= GOAL_L0
    assert live["explained_variance"] == pytest.approx(log["explained_variance"], abs=1e-3)
    assert live["l0"] == pytest.approx(log["l0"], abs=0.02)
    assert abs(live["dead"] - log["dead"]) <= 2


def two_features() -> list[int]:
    """The feature leaning most on the polysemantic unit, and the feature that fires on the most photos."""
    atlas = load_feature_atlas()
    busiest = int(np.argmax((atlas.arrays(ATLAS_NAME)["act"] > 0).sum(axis=1)))
    return [features_of_neuron(POLYSEMANTIC, top=1)[0].feature, busiest]


def test_feature_examples_equal_fresh_forward_passes(held_out_acts):
    sae, atlas = load_sae(), load_feature_atlas()
    ids = [p.id for p in atlas.photos]
    held = [ids.index(p.id) for p in held_out_photos()]
    for feature in two_features():
        maps = sae.encode(held_out_acts)[:, :, feature]  # photos x positions
        best, where = maps.max(dim=1)
        stored = atlas.activations(feature)[held]
        scale = atlas.arrays(ATLAS_NAME)["scale"][feature]
        np.testing.assert_allclose(stored, best.numpy(), atol=scale / 255 / 2 + 1e-3 * scale)
        examples = {e.photo.id: e for e in feature_examples(feature, top=100)}
        checked = 0
        for row, photo in enumerate(held_out_photos()):
            if photo.id in examples:  # among the feature's top 100: exact value and peak position
                e = examples[photo.id]
                assert e.activation == pytest.approx(float(best[row]), rel=2e-3)
                assert e.y * 14 + e.x == int(where[row])
                checked += 1
        ranked = [e.activation for e in examples.values()]
        assert ranked == sorted(ranked, reverse=True)
        assert checked >= 1, f"no held-out photo among feature {feature}'s top 100"


def test_encode_image_equals_encoding_the_captured_activations(model, photos_dir):
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    sae = load_sae()
    image = load_image(photos_dir / held_out_photos()[3].file).tensor
    features = encode_image(model, sae, image)
    assert features.shape == (sae.features, 14, 14)
    acts = capture(model, image, ["mixed4e"])["mixed4e"][0]  # 832 x 14 x 14
    expected = sae.encode(acts.permute(1, 2, 0)).permute(2, 0, 1)
    torch.testing.assert_close(features, expected)
    assert ((features > 0).sum(dim=0) <= sae.k).all() and (features > 0).any()
    torch.testing.assert_close(encode_image(model, sae, image[0]), features)  # 3 x H x W works too


# -- features and neurons, purity ------------------------------------------------------------------------------


def test_features_of_a_neuron_and_neurons_of_a_feature():
    sae, atlas = load_sae(), load_feature_atlas()
    column = sae.W_dec[:, POLYSEMANTIC].numpy()
    found = features_of_neuron(POLYSEMANTIC, top=5)
    firing = atlas.firing(ATLAS_NAME)
    expected = [int(f) for f in np.argsort(-np.where(firing, column, -np.inf), kind="stable")[:5]]
    assert [x.feature for x in found] == expected
    assert all(x.weight == pytest.approx(float(column[x.feature])) and x.channel == POLYSEMANTIC for x in found)
    assert found[0].weight > 0.1
    drawn = neurons_of_feature(found[0].feature, top=8)
    row = sae.W_dec[found[0].feature].numpy()
    assert [x.channel for x in drawn] == [int(c) for c in np.argsort(-np.abs(row), kind="stable")[:8]]
    assert all(x.weight == pytest.approx(float(row[x.channel])) for x in drawn)
    with pytest.raises(SAEError):
        features_of_neuron(832)
    with pytest.raises(SAEError):
        neurons_of_feature(sae.features)


def test_feature_rankings_and_purity_comparison():
    from interp.dataset.atlas import load_atlas
    from interp.story.purity import layer_purity, measure

    ranks = feature_rankings(12)
    assert ranks.shape == (load_sae().features, 12)
    assert [e.photo.id for e in feature_examples(7, top=12)] == [load_feature_atlas().photos[i].id for i in ranks[7]]
    result = purity_comparison()
    firing = load_feature_atlas().firing(ATLAS_NAME, 12)
    synsets = [p.synset for p in load_photos()]
    expected = measure(ranks[firing], synsets, 12)
    assert result.features.mean_purity == pytest.approx(expected.mean_purity)
    assert result.features.polysemantic_share == pytest.approx(expected.polysemantic_share)
    neurons = layer_purity(load_atlas(), "mixed4e")
    assert result.neurons_total == 832 and len(result.neurons.purity) <= 832
    if len(result.neurons.purity) == 832:
        assert result.neurons.mean_purity == pytest.approx(neurons.mean_purity)
    out = result.as_dict()
    assert set(out) == {"layer", "top", "neurons", "features"} and out["features"]["measured"] == int(firing.sum())


# -- the command line ------------------------------------------------------------------------------------------


def test_cli_sae_info_json_is_evaluate_on_the_held_out_photos(live, photos_dir, monkeypatch, capsys):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(photos_dir))
    assert cli_main(["sae", "info", "--json"]) == 0  # evaluate(): its own forward passes
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "layer",
        "features",
        "k",
        "explained_variance",
        "l0",
        "l0_fixed_by_k",
        "dead",
        "held_out_photos",
    }
    assert out["layer"] == "mixed4e" and out["features"] == load_sae().features and out["k"] == load_sae().k
    assert out["l0_fixed_by_k"] is (out["l0"] == out["k"])  # TopK: L0 is the setting k wherever all k kept are > 0
    assert out["held_out_photos"] == [p.id for p in held_out_photos()]
    assert out["explained_variance"] == pytest.approx(live["explained_variance"], abs=1e-6)
    assert out["l0"] == pytest.approx(live["l0"], abs=1e-6) and out["dead"] == live["dead"]


def test_cli_sae_examples_json(capsys):
    feature = two_features()[0]
    assert cli_main(["sae", "examples", str(feature), "--top", "5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["feature"] == feature and len(out["examples"]) == 5
    assert out["examples"] == [e.as_dict() for e in feature_examples(feature, top=5)]
    assert set(out["examples"][0]) == {"image", "label", "activation", "y", "x"}


@pytest.mark.parametrize(
    "args, message",
    [
        (["sae", "examples", "999999"], "no feature 999999"),
        (["sae", "examples", "3", "--top", "0"], "between 1 and 1000"),
        (["sae", "info"], "photos needed are not in"),
    ],
)
def test_cli_sae_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("INTERP_IMAGES_DIR", str(tmp_path))  # an empty folder: no photos
    assert cli_main(args) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
