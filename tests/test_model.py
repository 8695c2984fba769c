"""The model against the spec and the truth: state dict, shapes, LRN, padding, early exit, threads, dalmatian."""

import copy
import json
import threading

import pytest
import torch
import torch.nn.functional as F
from conftest import SHARED, in_threads
from torch import nn

from interp.network.activations import capture
from interp.network.layers import LAYERS, MAIN_LAYERS
from interp.network.model import (
    LRN_ALPHA,
    LRN_BETA,
    LRN_K,
    LRN_SIZE,
    InceptionV1,
    _lrn,
    _same_padding,
    to_network_input,
)
from interp.network.predict import classify

SPEC_STATE_DICT = SHARED / "specs" / "inception5h_state_dict.json"
# Output shapes at 224 px from the spec's layer table: (channels, side)
SPEC_SHAPES = {
    "conv2d0": (64, 112),
    "maxpool0": (64, 56),
    "conv2d1": (64, 56),
    "conv2d2": (192, 56),
    "maxpool1": (192, 28),
    "mixed3a": (256, 28),
    "mixed3b": (480, 28),
    "maxpool4": (480, 14),
    "mixed4a": (508, 14),
    "mixed4b": (512, 14),
    "mixed4c": (512, 14),
    "mixed4d": (528, 14),
    "mixed4e": (832, 14),
    "maxpool10": (832, 7),
    "mixed5a": (832, 7),
    "mixed5b": (1024, 7),
}


def test_state_dict_matches_the_spec_key_for_key_and_shape_for_shape():
    if not SPEC_STATE_DICT.is_file():
        pytest.skip(f"spec not found at {SPEC_STATE_DICT}")
    spec = json.loads(SPEC_STATE_DICT.read_text())
    ours = InceptionV1().state_dict()
    assert list(ours) == [t["key"] for t in spec["tensors"]]
    assert {k: list(v.shape) for k, v in ours.items()} == {t["key"]: t["shape"] for t in spec["tensors"]}
    assert sum(v.numel() for v in ours.values()) == spec["num_parameters"] == 7_066_380


def test_real_weights_load_strictly(model):
    assert model.weights_source in ("explicit path", "INTERP_WEIGHTS_DIR")
    assert not any(p.requires_grad for p in model.parameters())


def test_every_layer_has_the_spec_shape_at_224(model):
    acts = capture(model, torch.rand(1, 3, 224, 224), LAYERS)
    for name, (channels, side) in SPEC_SHAPES.items():
        assert tuple(acts[name].shape) == (1, channels, side, side), name
    for name, info in LAYERS.items():
        if info.is_spatial:
            assert tuple(acts[name].shape) == (1, info.channels, info.size_at_224, info.size_at_224), name
    assert tuple(acts["logits"].shape) == (1, 1008) and tuple(acts["avgpool0"].shape) == (1, 1024)


def test_tf_same_padding_is_asymmetric_like_the_spec():
    assert _same_padding(224, 7, 2) == (2, 3)  # the 7 x 7 stride-2 conv
    assert _same_padding(112, 3, 2) == (0, 1)  # stride-2 max-pools
    assert _same_padding(56, 3, 2) == (0, 1) and _same_padding(14, 3, 2) == (0, 1)


def test_lrn_equals_the_spec_formula():
    x = torch.randn(2, 64, 9, 9) * 300
    expected = F.local_response_norm(x, size=11, alpha=11 * 1e-4, beta=0.5, k=2)
    assert (LRN_SIZE, LRN_ALPHA, LRN_BETA, LRN_K) == (11, 11 * 1e-4, 0.5, 2.0)
    torch.testing.assert_close(_lrn(x), expected, rtol=1e-5, atol=1e-4)
    # and by hand for one channel: TF's depth radius 5 window
    c = 20
    window = x[:, c - 5 : c + 6].square().sum(dim=1)
    torch.testing.assert_close(_lrn(x)[:, c], x[:, c] / (2 + 1e-4 * window) ** 0.5, rtol=1e-5, atol=1e-4)


def test_input_conversion_happens_inside(model):
    x = torch.rand(1, 3, 224, 224)
    conv = model.conv2d0_pre_relu_conv
    by_hand = F.relu(F.conv2d(F.pad(x * 255 - 117, (2, 3, 2, 3)), conv.weight, conv.bias, stride=2))
    torch.testing.assert_close(capture(model, x, ["conv2d0"])["conv2d0"], by_hand, rtol=1e-4, atol=1e-3)
    assert torch.equal(to_network_input(torch.ones(1)), torch.tensor([138.0]))


def test_dalmatian_is_logit_41_with_the_known_runners_up(model, labels, dalmatian):
    top = classify(model, dalmatian.tensor, labels, top=5)
    assert top[0].index == 41 and top[0].label == "dalmatian" and top[0].probability > 0.99
    assert {p.index for p in top[1:]} == {17, 2, 588, 134}


def test_dummy_classes_are_never_predicted(model, labels):
    from interp.network.predict import top_predictions

    probs = torch.zeros(1008)
    probs[0], probs[1005], probs[41] = 0.5, 0.3, 0.2  # dummies hold most of the mass
    assert [p.index for p in top_predictions(probs, labels, top=1)] == [41]
    assert len(top_predictions(probs, labels, top=2000)) == 1000


def test_early_exit_capture_equals_the_full_forward(model):
    x = torch.rand(2, 3, 160, 160)
    full = capture(model, x, [*LAYERS])
    for names in (["conv2d0"], ["mixed3b"], ["mixed4c_5x5", "mixed3a_pre_relu"], ["maxpool4"], ["logits"]):
        partial = capture(model, x, names)
        assert set(partial) == set(names)
        for name in names:
            torch.testing.assert_close(partial[name], full[name], rtol=0, atol=0)


def test_early_exit_really_stops_at_the_deepest_layer(model):
    counted = copy.deepcopy(model)
    calls = []
    for name in ("mixed3b", "maxpool4", "mixed4a", "logits"):
        counted.hook[name].register_forward_hook(lambda module, args, out, name=name: calls.append(name))
    capture(counted, torch.rand(1, 3, 96, 96), ["mixed3b"])
    assert calls == ["mixed3b"]
    calls.clear()
    capture(counted, torch.rand(1, 3, 96, 96), ["maxpool4"])
    assert calls == ["mixed3b", "maxpool4"]


def test_deepcopy_runs_its_own_weights(model):
    twin = copy.deepcopy(model)
    with torch.no_grad():
        twin.softmax2_pre_activation_matmul.bias += 1.0
    x = torch.rand(1, 3, 64, 64)
    diff = capture(twin, x, ["logits"])["logits"] - capture(model, x, ["logits"])["logits"]
    torch.testing.assert_close(diff, torch.ones_like(diff), rtol=0, atol=1e-4)


def test_concurrent_capture_from_eight_threads_matches_sequential(model):
    generator = torch.Generator().manual_seed(0)
    images = [torch.rand(1, 3, 128, 128, generator=generator) for _ in range(8)]
    layer_sets = [
        ["conv2d0"],
        ["mixed3b"],
        ["mixed4c", "mixed3a_5x5"],
        ["logits"],
        ["mixed5b"],
        ["mixed4a_pre_relu"],
        ["maxpool1", "mixed4e"],
        ["mixed3b_3x3_bottleneck"],
    ]
    expected = [capture(model, img, names) for img, names in zip(images, layer_sets)]
    results: dict[int, list] = {i: [] for i in range(8)}
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        barrier.wait()
        for _ in range(3):
            results[i].append(capture(model, images[i], layer_sets[i]))

    assert not in_threads(8, work)
    for i in range(8):
        for got in results[i]:
            assert set(got) == set(layer_sets[i])  # no layer leaked in from another thread's call
            for name in layer_sets[i]:
                torch.testing.assert_close(got[name], expected[i][name], rtol=1e-5, atol=1e-4)


def test_gradients_flow_to_the_input_through_capture(model):
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    act = capture(model, x, ["mixed4a"], grad=True)["mixed4a"]
    act[0, 10].mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_every_relu_is_its_own_module_used_once(model):
    """Captum's guided backprop hooks nn.ReLU modules; each must exist and run exactly once per forward."""
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 3 + 9 * 6
    counts = {id(m): 0 for m in relus}
    twin_handles = [
        m.register_forward_hook(lambda mod, a, o: counts.__setitem__(id(mod), counts[id(mod)] + 1)) for m in relus
    ]
    try:
        capture(model, torch.rand(1, 3, 64, 64), ["logits"])
    finally:
        for h in twin_handles:
            h.remove()
    assert set(counts.values()) == {1}


def test_main_layers_are_browsable(model):
    acts = capture(model, torch.rand(1, 3, 224, 224), MAIN_LAYERS)
    assert list(acts) == list(MAIN_LAYERS)
