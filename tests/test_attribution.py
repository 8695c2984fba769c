"""Attribution with known answers: planted models whose right answer is known by construction, then the real
network on pictures we compose from the test photo."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest
import torch
from torch import nn

from interp.attribution import (
    METHODS,
    AttributionError,
    attribute,
    channel_attribution,
    gaussian_blur,
    make_baseline,
    neuron_attribution,
    randomisation_check,
    randomise,
    spearman,
)
from interp.attribution.replicas import borrowed
from interp.network.layers import Unit

SIDE = 64
QUADRANTS = {"top-left": (0, 0), "top-right": (0, 1), "bottom-left": (1, 0), "bottom-right": (1, 1)}

# Settings that suit a 64 px planted model: occlusion patches that tile the quadrants exactly.
PLANTED_OPTIONS = {
    "occlusion": {"window": 8, "stride": 8, "fill": 0.5},
    "gradcam": {"layer": "features"},
    "guided-gradcam": {"layer": "features"},
    "ig": {"steps": 16},
}


class Mask(nn.Module):
    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask


class QuadrantNet(nn.Module):
    """Sees only one quadrant: the input is masked before anything else, the convolutions have no bias (so
    the masked area stays exactly zero) and the head averages the last map, masked again so the layer that
    Grad-CAM reads ("features") is silent outside the quadrant too. Every faithful method must put (almost)
    all of its attribution in that quadrant."""

    def __init__(self, quadrant: tuple[int, int], classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        mask = torch.zeros(1, 1, SIDE, SIDE)
        row, col = quadrant
        half = SIDE // 2
        mask[..., row * half : (row + 1) * half, col * half : (col + 1) * half] = 1
        self.register_buffer("mask", mask)
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.relu2 = nn.ReLU()
        self.features = Mask(mask)
        self.head = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.relu2(self.conv2(self.relu1(self.conv1(x * self.mask)))))
        return self.head(h.mean(dim=(2, 3)))


def noise_image(seed: int = 0, side: int = SIDE) -> torch.Tensor:
    return torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(seed))


def quadrant_share(heat: torch.Tensor, quadrant: tuple[int, int]) -> float:
    half = heat.shape[-1] // 2
    row, col = quadrant
    magnitude = heat.abs()
    inside = magnitude[row * half : (row + 1) * half, col * half : (col + 1) * half].sum()
    return float(inside / magnitude.sum())


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("quadrant", list(QUADRANTS))
def test_planted_quadrant_model_gets_90_percent_of_attribution(method, quadrant):
    model = QuadrantNet(QUADRANTS[quadrant]).eval()
    result = attribute(model, noise_image(), method, **PLANTED_OPTIONS.get(method, {}))
    heat = result.heat(absolute=True)
    assert heat.shape == (SIDE, SIDE)
    assert float(heat.sum()) > 0, f"{method} found no attribution at all"
    assert quadrant_share(heat, QUADRANTS[quadrant]) >= 0.9


class LinearNet(nn.Module):
    def __init__(self, side: int = 8, classes: int = 2) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.linear = nn.Linear(3 * side * side, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


@pytest.mark.parametrize("baseline", ["black", "blur", "noise"])
def test_integrated_gradients_of_a_linear_model_is_weight_times_input_minus_baseline(baseline):
    model = LinearNet().eval()
    image = noise_image(3, side=8)
    result = attribute(model, image, "ig", target=1, baseline=baseline, steps=8)
    start = make_baseline(image, baseline)
    expected = (model.linear.weight[1].view(3, 8, 8) * (image - start)[0]).detach()
    torch.testing.assert_close(result.map, expected, rtol=1e-5, atol=1e-6)
    assert abs(result.delta) < 1e-4


class SmoothNet(nn.Module):
    """Nonlinear but smooth: the path integral converges fast, so completeness must hold tightly."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.a = nn.Linear(3 * 8 * 8, 16)
        self.b = nn.Linear(16, 2)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x.flatten(1))))


def test_integrated_gradients_completeness_within_the_reported_delta():
    model = SmoothNet().eval()
    image = noise_image(4, side=8)
    result = attribute(model, image, "ig", target=0, steps=32)
    with torch.no_grad():
        gap = float(model(image)[0, 0] - model(torch.zeros_like(image))[0, 0])
    assert abs(float(result.map.sum()) - gap) <= abs(result.delta) + 1e-5
    assert abs(result.delta) < 1e-3 * max(abs(gap), 1.0)


def test_integrated_gradients_batch_size_does_not_change_the_answer():
    model = QuadrantNet((0, 0)).eval()
    image = noise_image(5)
    small = attribute(model, image, "ig", steps=12, batch=1)
    large = attribute(model, image, "ig", steps=12, batch=12)
    torch.testing.assert_close(small.map, large.map, rtol=1e-4, atol=1e-6)


class TinyReLUNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.hidden = nn.Linear(12, 10)
        self.relu = nn.ReLU()
        self.out = nn.Linear(10, 1)

    def forward(self, x):
        return self.out(self.relu(self.hidden(x.flatten(1))))


def test_guided_backprop_matches_its_definition_on_a_tiny_network():
    # Guided Backprop passes a gradient back through a ReLU only where the input was positive AND the
    # gradient is positive. For out(relu(Wx)): attribution = W^T (w_out * [Wx > 0] * [w_out > 0]).
    model = TinyReLUNet().eval()
    image = torch.rand(1, 3, 2, 2, generator=torch.Generator().manual_seed(7))
    result = attribute(model, image, "guided-backprop", target=0)
    w, w_out = model.hidden.weight, model.out.weight[0]
    open_gate = (model.hidden(image.flatten(1))[0] > 0) & (w_out > 0)
    expected = (w.T @ (w_out * open_gate)).view(3, 2, 2).detach()
    torch.testing.assert_close(result.map, expected, rtol=1e-5, atol=1e-6)
    plain = attribute(model, image, "saliency", target=0).map
    assert not torch.allclose(result.map.abs(), plain)


def plain_saliency(model: nn.Module, image: torch.Tensor, target: int = 0) -> torch.Tensor:
    """|d logit / d input| by autograd on ``model`` itself: what Saliency on a fresh replica gives."""
    with torch.enable_grad():
        x = image.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(model(x)[0, target], x)
    return gradient[0].abs()


def test_a_replica_used_for_guided_backprop_then_saliency_gives_the_plain_gradient():
    """Guided Backprop hooks every nn.ReLU of the replica it runs on; the pooled replica lent next (the same one)
    must carry none of them: its Saliency equals the plain gradient, as on a fresh replica."""
    model = TinyReLUNet().eval()
    image = torch.rand(1, 3, 2, 2, generator=torch.Generator().manual_seed(7))
    expected = plain_saliency(model, image)
    guided = attribute(model, image, "guided-backprop", target=0).map
    assert not torch.allclose(guided.abs(), expected)  # the guided map differs here: the check below can fail
    with borrowed(model) as pooled:
        pass
    torch.testing.assert_close(attribute(model, image, "saliency", target=0).map, expected, rtol=1e-5, atol=1e-7)
    with borrowed(model) as again:
        assert again is pooled  # the same replica was lent for both methods


def test_a_replica_a_method_left_by_raising_is_not_lent_again():
    """A method that raises midway may leave its hooks behind: that replica is dropped, and the next caller
    gets a clean one (its Saliency is the plain gradient)."""
    model = TinyReLUNet().eval()
    image = torch.rand(1, 3, 2, 2, generator=torch.Generator().manual_seed(7))
    expected = plain_saliency(model, image)
    with pytest.raises(RuntimeError, match="midway"):
        with borrowed(model) as broken:
            broken.relu.register_forward_hook(lambda module, args, out: out * 0)  # a hook nobody removes
            raise RuntimeError("the method failed midway")
    with borrowed(model) as lent:
        assert lent is not broken
    torch.testing.assert_close(attribute(model, image, "saliency", target=0).map, expected, rtol=1e-5, atol=1e-7)


def test_guided_methods_refuse_a_model_without_relu_modules():
    with pytest.raises(AttributionError, match="nn.ReLU"):
        attribute(SmoothNet().eval(), noise_image(side=8), "guided-backprop", target=0)


def test_bad_settings_get_clear_messages():
    model = QuadrantNet((0, 0)).eval()
    image = noise_image()
    with pytest.raises(AttributionError, match="Unknown method"):
        attribute(model, image, "lime")
    with pytest.raises(AttributionError, match="not a class"):
        attribute(model, image, "saliency", target=7)
    with pytest.raises(AttributionError, match="takes no option"):
        attribute(model, image, "saliency", steps=3)
    with pytest.raises(AttributionError, match="larger than the image"):
        attribute(model, image, "occlusion", window=100)
    with pytest.raises(AttributionError, match="at least 1"):
        attribute(model, image, "ig", steps=0)
    with pytest.raises(AttributionError, match="Unknown baseline"):
        attribute(model, image, "ig", baseline="white")
    with pytest.raises(AttributionError, match="no layer"):
        attribute(model, image, "gradcam", layer="nope")


def test_gaussian_blur_keeps_the_mean_and_smooths():
    image = noise_image(8)
    blurred = gaussian_blur(image, sigma=4.0)
    assert blurred.shape == image.shape
    assert abs(float(blurred.mean() - image.mean())) < 0.01
    assert float(blurred.std()) < 0.3 * float(image.std())


class OneChannelHead(nn.Module):
    """The class reads one channel (2) of a layer, and only the top-left quarter of its map."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(4)
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.features = nn.ReLU()

    def forward(self, x):
        h = self.features(self.conv(x))
        score = h[:, 2, : SIDE // 2, : SIDE // 2].mean(dim=(1, 2))
        return torch.stack([score, -score], dim=1)


@pytest.mark.parametrize("method", ["ig", "gxa"])
def test_channel_attribution_finds_the_one_channel_the_class_reads(method):
    result = channel_attribution(OneChannelHead().eval(), noise_image(9), "features", target=0, method=method)
    assert result.per_channel.shape == (6,)
    others = result.per_channel.clone()
    others[2] = 0
    assert float(result.per_channel[2]) > 0 and float(others.abs().max()) == 0
    assert [s.channel for s in result.top(3)] == [2]
    assert result.spatial.shape == (SIDE, SIDE)
    assert quadrant_share(result.spatial, (0, 0)) == pytest.approx(1.0)
    if method == "ig":  # completeness: the contributions add up to logit(image) - logit(baseline)
        assert result.total == pytest.approx(result.logit - result.baseline_logit, rel=0.02)


def test_neuron_attribution_stays_inside_the_receptive_field():
    model = OneChannelHead().eval()
    result = neuron_attribution(model, noise_image(10), Unit("features", 4), position=(20, 30))
    heat = result.heat().abs()
    assert float(heat.sum()) > 0
    outside = heat.clone()
    outside[19:22, 29:32] = 0  # the 3 x 3 window a 3 x 3 convolution reads for position (20, 30)
    assert float(outside.sum()) == 0
    peak = neuron_attribution(model, noise_image(10), Unit("features", 4), method="gradient")
    assert peak.position is not None and peak.activation > 0


def test_spearman_known_values():
    a = torch.arange(20.0).view(4, 5)
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, a**3 + 7) == pytest.approx(1.0)  # ranks only
    shuffled = a.flatten()[torch.randperm(20, generator=torch.Generator().manual_seed(0))]
    assert abs(spearman(a, shuffled)) < 0.5


def test_randomise_changes_only_the_named_parameters():
    model = QuadrantNet((0, 0)).eval()
    copy = randomise(model, ["head"], seed=1)
    assert torch.equal(copy.conv1.weight, model.conv1.weight)
    assert not torch.equal(copy.head.weight, model.head.weight)
    with pytest.raises(ValueError):
        randomise(model, ["nothing_here"])


# -- the real network --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dog(dalmatian) -> torch.Tensor:
    return dalmatian.tensor


def test_guided_backprop_differs_from_the_plain_gradient_on_inceptionv1(model, dog):
    guided = attribute(model, dog, "guided-backprop", target=41).map
    with torch.enable_grad():
        image = dog.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(model(image)[0, 41], image)
    assert not torch.allclose(guided, gradient[0], rtol=1e-3, atol=1e-6)
    assert spearman(guided.abs(), gradient[0].abs()) < 0.95


def test_the_shared_model_keeps_no_hooks(model, dog):
    for method in ("guided-backprop", "gradcam", "guided-gradcam"):
        attribute(model, dog, method, target=41)
    for module in model.modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks


def test_attribution_is_thread_safe_on_the_shared_model(model, dog):
    expected = {m: attribute(model, dog, m, target=41).map for m in ("saliency", "guided-backprop", "gradcam")}
    results, errors = {}, []

    def work(method, key):
        try:
            results[key] = attribute(model, dog, method, target=41).map
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=(m, (m, i))) for i in range(2) for m in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for (method, _), value in results.items():
        torch.testing.assert_close(value, expected[method], rtol=1e-4, atol=1e-6)


def test_replicas_are_reused_not_copied_every_time(model):
    with borrowed(model) as first:
        pass
    with borrowed(model) as second:
        assert second is first
        with borrowed(model) as third:  # in use: a second caller gets its own
            assert third is not second
    private = randomise(
        model, ["softmax2_pre_activation_matmul"]
    )  # a private copy (the sanity check's) is lent as it is
    with borrowed(private) as lent:
        assert lent is private


def _canvas_with_dog(dalmatian: torch.Tensor, box: tuple[int, int, int, int]) -> torch.Tensor:
    """The test photo shrunk into ``box`` (top, left, height, width) of a neutral grey 224 px canvas."""
    top, left, height, width = box
    canvas = torch.full((1, 3, 224, 224), 0.5)
    dog = torch.nn.functional.interpolate(dalmatian, size=(height, width), mode="bilinear", antialias=True)
    canvas[..., top : top + height, left : left + width] = dog
    return canvas


COMPOSITIONS = {
    "top-left quarter": (0, 0, 112, 112),
    "bottom-right quarter": (112, 112, 112, 112),
    "top-right quarter": (0, 112, 112, 112),
    "left half": (56, 0, 112, 112),
    "small, off centre": (100, 40, 84, 84),
}
REAL_METHODS = {
    "saliency": {},
    "ig": {"steps": 16},
    "smoothgrad": {},
    "gradcam": {},
    "guided-backprop": {},
    "occlusion": {"window": 28, "stride": 28},
}


@pytest.mark.parametrize("placement", list(COMPOSITIONS))
def test_dalmatian_attribution_concentrates_on_the_dog(model, dog, placement):
    top, left, height, width = COMPOSITIONS[placement]
    image = _canvas_with_dog(dog, COMPOSITIONS[placement])
    area = height * width / 224**2
    shares = {}
    for method, options in REAL_METHODS.items():
        heat = attribute(model, image, method, target=41, **options).heat(absolute=True)
        shares[method] = float(heat[top : top + height, left : left + width].sum() / heat.sum())
    # The photo covers 14-25% of the canvas (and the dog only part of the photo); every method must put at
    # least twice the photo's share of the area on it.
    for method, share in shares.items():
        assert share >= 2 * area, f"{placement}: {method} put only {share:.0%} on the dog ({shares})"


def test_sanity_check_sees_gradient_maps_change_when_the_top_is_randomised(model, dog):
    seen = []
    check = randomisation_check(
        model,
        dog,
        target=41,
        methods=("saliency", "gradcam", "guided-backprop"),
        progress=lambda done, total, what: seen.append((done, total)),
    )
    assert [s.randomised for s in check.stages][:2] == [("logits",), ("logits", "mixed5b")]
    assert check.final_correlation("saliency") < 0.6
    assert check.final_correlation("gradcam") < 0.6
    # Adebayo et al.'s finding, reproduced: Guided Backprop hardly changes (it mostly shows the image).
    assert check.final_correlation("guided-backprop") > 0.8
    assert seen[-1][0] == seen[-1][1]


# -- hardening: pre-ReLU block layers, modules as layers, SmoothGrad's own random numbers ---------------------


def no_hooks_on(model: nn.Module) -> bool:
    return not any(
        m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks for m in model.modules()
    )


def test_gradcam_and_layer_attribution_at_a_block_pre_relu(model, dog):
    """mixed4d_pre_relu used to be a side branch of the forward pass, built only when asked for by name: its
    hook never fired. Grad-CAM there must equal Grad-CAM computed by hand on those pre-ReLU values."""
    cam = attribute(model, dog, "gradcam", target=41, layer="mixed4d_pre_relu")
    with torch.enable_grad():
        acts = model.run(dog.clone().requires_grad_(True), ["mixed4d_pre_relu", "logits"])
        values = acts["mixed4d_pre_relu"]
        (gradient,) = torch.autograd.grad(acts["logits"][0, 41], values)
    by_hand = torch.relu((gradient.mean(dim=(2, 3), keepdim=True) * values).sum(dim=1))[0].detach()
    assert cam.layer_map.shape == (14, 14) and float(by_hand.max()) > 0
    torch.testing.assert_close(cam.layer_map, by_hand, rtol=1e-3, atol=1e-3 * float(by_hand.max()))
    guided = attribute(model, dog, "guided-gradcam", target=41, layer="mixed4d_pre_relu")
    assert float(guided.map.abs().sum()) > 0
    # layer Integrated Gradients there adds up to logit(image) - logit(black), as IG must
    blocks = channel_attribution(model, dog, "mixed4d_pre_relu", target=41, method="ig", steps=32)
    assert blocks.per_channel.shape == (528,)
    assert blocks.total == pytest.approx(blocks.logit - blocks.baseline_logit, rel=0.05)
    unit = neuron_attribution(model, dog, "mixed4d_pre_relu:5", method="gradient")
    with torch.no_grad():
        assert unit.activation == pytest.approx(
            float(model.run(dog, ["mixed4d_pre_relu"])["mixed4d_pre_relu"][0, 5].max())
        )
    assert no_hooks_on(model)


def test_a_module_of_the_shared_model_is_hooked_on_the_replica(model, dog):
    """A module passed as the layer belongs to the shared model; the attribution runs on a replica, so it
    must be hooked there (it used to be hooked on the shared model, where the forward pass never met it)."""
    by_name = attribute(model, dog, "gradcam", target=41, layer="mixed5b")
    by_module = attribute(model, dog, "gradcam", target=41, layer=model.hook["mixed5b"])
    torch.testing.assert_close(by_module.map, by_name.map)
    guided = attribute(model, dog, "guided-gradcam", target=41, layer=model.hook["mixed4d"])
    torch.testing.assert_close(guided.map, attribute(model, dog, "guided-gradcam", target=41, layer="mixed4d").map)
    blocks = channel_attribution(model, dog, model.hook["mixed4d"], target=41, method="gxa")
    torch.testing.assert_close(
        blocks.per_channel, channel_attribution(model, dog, "mixed4d", target=41, method="gxa").per_channel
    )
    assert no_hooks_on(model)
    with pytest.raises(
        AttributionError,
        match=r"^The layer given is a module that is not part of this model: "
        r"pass a layer name such as 'mixed4d'",
    ):
        attribute(model, dog, "gradcam", target=41, layer=nn.Identity())
    assert no_hooks_on(model)


class SeedSpy(QuadrantNet):
    """Notes, at every forward pass, the seed the process-wide random generator was last seeded with (kept
    on the class: the attribution runs on a deep copy)."""

    seen: ClassVar[list[int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SeedSpy.seen.append(torch.initial_seed())
        return super().forward(x)


def test_smoothgrad_uses_its_own_random_numbers():
    spy = SeedSpy(QUADRANTS["top-left"])
    image = noise_image(5)
    torch.manual_seed(12345)
    state = torch.random.get_rng_state()
    SeedSpy.seen.clear()
    first = attribute(spy, image, "smoothgrad", target=0, samples=6, batch=4)
    assert set(SeedSpy.seen) == {12345}  # never reseeded, not even for a moment (other sessions draw from it)
    assert torch.equal(torch.random.get_rng_state(), state)  # and nothing drawn from it
    again = attribute(spy, image, "smoothgrad", target=0, samples=6, batch=6)  # other batches, the same noise
    torch.testing.assert_close(again.map, first.map)
    other = attribute(spy, image, "smoothgrad", target=0, samples=6, seed=1)
    assert not torch.allclose(other.map, first.map)
    assert first.params["seed"] == 0 and other.params["seed"] == 1
    # without noise, SmoothGrad is the plain |gradient|
    plain = attribute(spy, image, "smoothgrad", target=0, samples=3, noise=0.0)
    torch.testing.assert_close(plain.map, attribute(spy, image, "saliency", target=0).map)
    with pytest.raises(AttributionError, match="seed must be a whole number"):
        attribute(spy, image, "smoothgrad", target=0, seed=0.5)
