"""The numbers of chapter 6 (interp.sae.analysis), without Streamlit: cosines and errors with known answers, a planted
autoencoder whose features are the channels gives known codes at a planted peak, the verdict on planted feature
loadings and photos; with the shipped autoencoder, a photo position's codes are its encoding of a fresh capture there
and rebuild it as ``decode(encode(x))`` does, and a photo's feature map is ``encode_image``'s."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_sae import identity_sae  # tests/ is on sys.path under pytest's default import mode

from interp.dataset.atlas import Example
from interp.dataset.photos import load_photos
from interp.sae import Loading, encode_image, feature_examples, features_of_neuron, load_sae
from interp.sae.analysis import (
    ALIGNED,
    BOTH,
    MOSTLY,
    NEITHER,
    codes_at_peak,
    cosine,
    example_groups,
    feature_groups,
    kinds,
    photo_codes,
    position_codes,
    purity_histogram,
    relative_error,
    split_verdict,
    takes,
)
from interp.story import purity
from interp.story.hierarchy import group_of

DOG, TOOL = "dog", "device or tool"


def test_cosine_and_relative_error_known_answers():
    v = np.array([3.0, 4.0, 0.0])
    assert cosine(v, v) == pytest.approx(1.0) and cosine(v, 2.5 * v) == pytest.approx(1.0)
    assert cosine(v, -v) == pytest.approx(-1.0) and cosine(v, [0.0, 0.0, 1.0]) == 0.0
    assert cosine(v, [4.0, 3.0, 0.0]) == pytest.approx(24 / 25)
    assert cosine(v, np.zeros(3)) == 0.0  # no direction: no angle
    assert relative_error(v, v) == 0.0 and relative_error(v, [3.0, 0.0, 0.0]) == pytest.approx(16 / 25)
    assert relative_error(v, np.zeros(3)) == 1.0


def test_a_planted_autoencoder_gives_known_codes_at_the_planted_peak():
    acts = torch.zeros(4, 3, 3)  # 4 channels over a 3 x 3 grid
    acts[:, 1, 2] = torch.tensor([5.0, 0.0, 2.0, 1.0])  # channel 0 peaks here
    acts[0, 0, 0] = 1.0
    acts[3, 2, 2] = 9.0  # channel 3 peaks elsewhere
    found = codes_at_peak(identity_sae(4, 2), acts, channel=0)
    assert (found.y, found.x, found.grid) == (1, 2, 3)
    np.testing.assert_array_equal(found.acts, [5.0, 0.0, 2.0, 1.0])
    np.testing.assert_array_equal(found.codes, [5.0, 0.0, 2.0, 0.0])  # the 2 largest kept
    np.testing.assert_array_equal(found.rebuilt, found.codes)  # decode copies them back
    np.testing.assert_array_equal(found.map, acts[0].numpy())
    assert found.error == pytest.approx(1 / 30) and found.cosine == pytest.approx(29 / np.sqrt(29 * 30))
    assert list(found.active_features) == [0, 2] and list(found.active_neurons) == [0, 2, 3]
    assert codes_at_peak(identity_sae(4, 2), acts, channel=3).codes.tolist() == [0.0, 0.0, 0.0, 9.0]
    whole = codes_at_peak(identity_sae(4, 4), acts, channel=0)
    assert whole.error == 0.0 and whole.cosine == pytest.approx(1.0) and list(whole.active_features) == [0, 2, 3]


def test_takes_known_answers():
    names = (DOG, TOOL)
    assert takes([DOG] * MOSTLY + ["bird"] * 6, names) == DOG
    assert takes([DOG] * MOSTLY + [TOOL] + ["bird"] * 5, names) == DOG  # one of the other kind is allowed
    assert takes([DOG] * MOSTLY + [TOOL] * 2 + ["bird"] * 4, names) == NEITHER  # two are not, and 2 < MINIMUM
    assert takes([TOOL] * 12, names) == TOOL
    assert takes([DOG] * purity.MINIMUM + [TOOL] * purity.MINIMUM + ["bird"] * 6, names) == BOTH
    assert takes([DOG] * (MOSTLY - 1) + ["bird"] * 7, names) == NEITHER


def test_split_verdict_on_planted_loadings():
    sharing = [Loading(10, 55, 0.95), Loading(11, 55, 0.4), Loading(12, 55, 0.3), Loading(13, 55, 0.2)]
    groups = {
        10: [DOG] * 8 + ["bird"] * 4,
        11: [TOOL] * 7 + [DOG] + ["bird"] * 4,
        12: [DOG] * 4 + [TOOL] * 4 + ["bird"] * 4,
        13: ["bird"] * 12,
    }
    verdict = split_verdict(sharing, [DOG, TOOL], groups)
    assert verdict.taken == {DOG: [10], TOOL: [11], BOTH: [12], NEITHER: [13]}
    assert verdict.divided and verdict.aligned == (10, 0.95) and verdict.names == (DOG, TOOL)
    one_sided = split_verdict(sharing[:1] + sharing[2:], [DOG, TOOL], groups)
    assert not one_sided.divided and one_sided.taken[TOOL] == []
    assert split_verdict([Loading(11, 55, ALIGNED - 0.01)], [DOG, TOOL], groups).aligned is None
    assert split_verdict(sharing, [DOG], groups) is None  # a unit of one kind has nothing to divide


def test_kinds_and_groups_of_planted_examples():
    def first(group: str, count: int) -> list:
        return [p for p in load_photos() if group_of(p.synset) == group][:count]

    chosen = first(DOG, 5) + first(TOOL, 3) + first("bird", 2) + first("fish", 1)
    examples = [Example(p, i + 1, 1.0, 0, 0) for i, p in enumerate(chosen)]
    assert kinds(examples) == ([(DOG, 5), (TOOL, 3), ("bird", 2), ("fish", 1)], 0)
    assert kinds(examples, 2) == ([(DOG, 5), (TOOL, 3)], 3)
    assert kinds(examples, 4) == ([(DOG, 5), (TOOL, 3), ("bird", 2), ("fish", 1)], 0)
    assert example_groups(examples) == [DOG] * 5 + [TOOL] * 3 + ["bird"] * 2 + ["fish"]


def test_purity_histogram_known_answer():
    measured = purity.Purity(np.array([1.0, 0.5, 0.5, 1 / 12]), np.array([False, True, True, False]))
    histogram = purity_histogram(measured)
    expected = np.zeros(purity.TOP)
    expected[[0, 5, 11]] = [0.25, 0.5, 0.25]
    np.testing.assert_allclose(histogram, expected)
    assert purity_histogram(purity.Purity(np.array([]), np.array([], dtype=bool))).sum() == 0


# -- the shipped autoencoder ---------------------------------------------------------------------------------------


def test_feature_groups_are_the_groups_of_the_feature_atlas_photos():
    from interp.story.roles import role

    sharing = features_of_neuron(role("polysemantic").unit.channel, top=3)
    found = feature_groups([s.feature for s in sharing])
    assert list(found) == [s.feature for s in sharing]
    for s in sharing:
        assert found[s.feature] == [group_of(e.photo.synset) for e in feature_examples(s.feature, top=purity.TOP)]


def test_position_codes_of_a_photo_with_the_shipped_autoencoder(model, photos_dir):
    from interp.dataset.intake import load_image
    from interp.network.activations import capture
    from interp.sae import held_out_photos
    from interp.story.roles import role

    sae = load_sae()
    channel = role("polysemantic").unit.channel
    image = load_image(photos_dir / held_out_photos()[3].file).tensor
    found = position_codes(model, sae, image, channel)
    acts = capture(model, image, [sae.layer])[sae.layer][0]  # 832 x 14 x 14
    assert (found.y, found.x) == np.unravel_index(int(acts[channel].argmax()), (14, 14)) and found.grid == 14
    vector = acts[:, found.y, found.x]
    np.testing.assert_array_equal(found.acts, vector.numpy())  # the neurons: a direct capture at that place
    np.testing.assert_array_equal(found.map, acts[channel].numpy())
    with torch.inference_mode():
        torch.testing.assert_close(torch.from_numpy(found.codes), sae.encode(vector))
        torch.testing.assert_close(torch.from_numpy(found.rebuilt), sae.decode(sae.encode(vector)))
    assert 0 < len(found.active_features) <= sae.k
    assert found.codes[found.active_features].tolist() == sorted(found.codes[found.codes > 0].tolist(), reverse=True)
    assert found.error == pytest.approx(relative_error(vector.numpy(), found.rebuilt))
    assert 0 <= found.error < 0.5 and found.cosine > 0.7  # the autoencoder rebuilds most of the vector


def test_photo_codes_are_encode_image_of_the_photo(model, photos_dir):
    from interp.dataset.intake import load_image, pil_to_tensor, tensor_to_pil
    from interp.sae import held_out_photos

    sae = load_sae()
    tensor = load_image(photos_dir / held_out_photos()[5].file, size=224).tensor
    image = np.asarray(tensor_to_pil(tensor[0]))  # the 224 px photo as the app holds it
    found = photo_codes(model, sae, image)
    assert found.dtype == np.float16 and found.shape == (sae.features, 14, 14)
    from PIL import Image

    expected = encode_image(model, sae, pil_to_tensor(Image.fromarray(image)).unsqueeze(0)).numpy().astype(np.float16)
    np.testing.assert_array_equal(found, expected)
    assert ((found > 0).sum(axis=0) <= sae.k).all()
