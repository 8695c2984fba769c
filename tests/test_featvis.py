"""Feature visualization engine (interp/featvis), with known answers.

Most tests use tiny *planted* models: one fixed convolution registered under a catalogue layer name
(``conv2d0``), so the right answer is known in advance (a Gabor unit must render stripes of its own
orientation, a red-minus-green unit a red image, a centre neuron a pattern in the centre). A few tests use
the real weights and skip cleanly without them.
"""

from __future__ import annotations

import math
import sys
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F

from interp.errors import UnitError
from interp.featvis import objectives as obj
from interp.featvis import render
from interp.featvis.param import (
    COLOR_CORRELATION_NORMALIZED,
    CPPNImage,
    FourierImage,
    PixelImage,
    decorrelate_colors,
    generators,
    make_param,
    rfft2d_frequencies,
)
from interp.featvis.transforms import (
    Chain,
    Jitter,
    Pad,
    Rotate,
    Scale,
    standard_transforms,
)
from interp.network.layers import layer_info

# ``interp.featvis.render`` the attribute is the function (re-exported by the package); the module is here.
render_module = sys.modules["interp.featvis.render"]
redirected_relu = render_module.redirected_relu


# -- planted models -------------------------------------------------------------------------------------------


class Planted(torch.nn.Module):
    """A one-convolution "network": ``run`` returns ``conv2d0_pre_relu`` (the convolution) and ``conv2d0`` (its
    ReLU, or the ``relu`` the render loop passes, e.g. the redirected one). Images go in as RGB in [0, 1]."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, padding: int = 0) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, weight.shape[0], weight.shape[-1], padding=padding, bias=bias is not None)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if bias is not None:
                self.conv.bias.copy_(bias)
        self.conv.requires_grad_(False)
        self.calls: list[tuple[str, ...]] = []

    def run(self, images, names, relu=None):
        names = tuple(names)
        self.calls.append(names)
        pre = self.conv(images)
        out = {"conv2d0_pre_relu": pre, "conv2d0": (relu or F.relu)(pre)}
        return {name: out[name] for name in names}


def gabor(theta_deg: float, size: int = 15, wavelength: float = 6.0, sigma: float = 3.0) -> torch.Tensor:
    """Zero-mean Gabor whose wave vector points at ``theta_deg`` in image coordinates (x = column to the
    right, y = row downwards): theta 0 gives vertical stripes (varying along x), 90 horizontal ones."""
    r = (size - 1) / 2
    y, x = torch.meshgrid(torch.arange(size) - r, torch.arange(size) - r, indexing="ij")
    t = math.radians(theta_deg)
    kernel = torch.exp(-(x**2 + y**2) / (2 * sigma**2)) * torch.cos(
        2 * math.pi * (x * math.cos(t) + y * math.sin(t)) / wavelength
    )
    return kernel - kernel.mean()


def blob(size: int = 7, sigma: float = 1.5) -> torch.Tensor:
    r = (size - 1) / 2
    y, x = torch.meshgrid(torch.arange(size) - r, torch.arange(size) - r, indexing="ij")
    kernel = torch.exp(-(x**2 + y**2) / (2 * sigma**2))
    return kernel - kernel.mean()


def grey_kernel(kernel: torch.Tensor) -> torch.Tensor:
    """1 x 3 x k x k: the same kernel on every colour channel (a unit that sees luminance)."""
    k = kernel.shape[-1]
    return kernel.expand(1, 3, k, k).clone() / 3


def stripes(theta_deg: float, size: int = 64, wavelength: float = 6.0) -> torch.Tensor:
    y, x = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
    )
    t = math.radians(theta_deg)
    return torch.cos(2 * math.pi * (x * math.cos(t) + y * math.sin(t)) / wavelength)


def orientation(image: torch.Tensor) -> tuple[float, float, float]:
    """Dominant wave-vector direction of an image (3 x H x W or H x W), in degrees mod 180, in the same
    convention as ``gabor``; plus the coherence (1: pure stripes, 0: isotropic) and the angle of the single
    strongest frequency. The direction is the power-weighted mean of the doubled angle of every frequency
    vector at least 2 bins from DC (angles mod 180 average correctly only when doubled)."""
    grey = image.mean(0) if image.dim() == 3 else image
    grey = grey.double() - grey.double().mean()
    h, w = grey.shape
    power = torch.fft.fft2(grey).abs().square()
    fy = (torch.fft.fftfreq(h) * h).double()[:, None].expand(h, w)  # row frequency: along y (down)
    fx = (torch.fft.fftfreq(w) * w).double()[None, :].expand(h, w)  # column frequency: along x
    power = power * ((fx.square() + fy.square()).sqrt() >= 2)
    phi = torch.atan2(fy, fx)
    c, s = float((power * torch.cos(2 * phi)).sum()), float((power * torch.sin(2 * phi)).sum())
    angle = math.degrees(0.5 * math.atan2(s, c)) % 180
    coherence = math.hypot(c, s) / float(power.sum())
    k = int(power.argmax())
    peak = math.degrees(math.atan2(float(fy.flatten()[k]), float(fx.flatten()[k]))) % 180
    return angle, coherence, peak


def angle_error(a: float, b: float) -> float:
    d = abs(a - b) % 180
    return min(d, 180 - d)


def deviation_map(image: torch.Tensor) -> torch.Tensor:
    """How far each pixel is from neutral grey, averaged over colours: H x W."""
    return (image - 0.5).abs().mean(0)


def centre_border_ratio(image: torch.Tensor, window: int = 16, border: int = 12) -> float:
    dev = deviation_map(image)
    s = dev.shape[-1]
    a = (s - window) // 2
    centre = dev[a : a + window, a : a + window].mean()
    ring = torch.ones(s, s, dtype=torch.bool)
    ring[border : s - border, border : s - border] = False
    return float(centre / dev[ring].mean())


# -- the measurement itself --------------------------------------------------------------------------------------


@pytest.mark.parametrize("theta", [0, 30, 45, 90, 135, 160])
def test_orientation_measurement_on_synthetic_stripes(theta):
    angle, coherence, peak = orientation(stripes(theta))
    assert angle_error(angle, theta) < 2 and coherence > 0.85
    assert angle_error(peak, theta) < 6  # the strongest single frequency bin, within the bin resolution


def test_orientation_conventions_are_pinned():
    vertical = stripes(0)  # wave vector along x: every column constant
    assert torch.allclose(vertical, vertical[:1].expand_as(vertical))
    horizontal = stripes(90)  # every row constant
    assert torch.allclose(horizontal, horizontal[:, :1].expand_as(horizontal))
    # the kernels follow the same convention (measured on a padded kernel)
    for theta in (0, 45, 90, 135):
        angle, _, _ = orientation(F.pad(gabor(theta), (24, 25, 24, 25)))
        assert angle_error(angle, theta) < 3
    # and 45 is not 135: a flipped y axis would swap them
    assert angle_error(orientation(stripes(45))[0], 135) > 80


# -- planted models: known answers -------------------------------------------------------------------------------


@pytest.mark.parametrize("theta", [0, 45, 90, 135])
def test_gabor_unit_renders_stripes_of_its_orientation(theta):
    model = Planted(grey_kernel(gabor(theta)))
    result = render(model, obj.channel("conv2d0", 0), size=64, steps=96, param="fft", transforms="standard", seed=0)
    angle, coherence, peak = orientation(result.images[0])
    print(
        f"theta {theta}: measured {angle:.1f} (peak {peak:.1f}), coherence {coherence:.2f}, "
        f"value {float(result.values[0]):.3f}"
    )
    assert angle_error(angle, theta) < 15, (theta, angle)
    assert coherence > 0.3  # stripes, not noise
    assert float(result.values[0]) > 0.5


def test_colour_opponent_unit_renders_red_and_its_negative_cyan():
    model = Planted(torch.tensor([1.0, -0.5, -0.5]).view(1, 3, 1, 1))  # red - (green + blue) / 2
    positive = render(model, obj.unit("conv2d0:0"), size=32, steps=64, seed=0).images[0].mean(dim=(1, 2))
    r, g, b = positive.tolist()
    print("positive mean RGB", [round(v, 3) for v in (r, g, b)])
    assert r > g + 0.05 and r > b + 0.05
    # the negative objective reads the pre-ReLU values (after the ReLU, "below zero" is flat)
    negative_objective = obj.unit("conv2d0:0", negative=True)
    assert negative_objective.layers == {"conv2d0_pre_relu"}
    negative = render(model, negative_objective, size=32, steps=64, seed=0).images[0].mean(dim=(1, 2))
    r, g, b = negative.tolist()
    print("negative mean RGB", [round(v, 3) for v in (r, g, b)])
    assert g > r + 0.08 and b > r + 0.08


def test_neuron_objective_puts_the_pattern_where_the_neuron_looks():
    model = Planted(grey_kernel(blob()), padding=3)  # output grid = input grid, 64 x 64
    centre = render(model, obj.neuron("conv2d0", 0), size=64, steps=64, transforms="none", seed=0)
    spread = render(model, obj.channel("conv2d0", 0), size=64, steps=64, transforms="none", seed=0)
    centre_ratio, spread_ratio = centre_border_ratio(centre.images[0]), centre_border_ratio(spread.images[0])
    print(f"centre/border deviation: neuron {centre_ratio:.1f}, channel {spread_ratio:.2f}")
    assert centre_ratio > 2
    assert spread_ratio < 1.5
    # an explicit position: x is the column, y the row
    off = render(model, obj.neuron("conv2d0", 0, x=16, y=44), size=64, steps=64, transforms="none", seed=0).images[0]
    dev = F.avg_pool2d(deviation_map(off)[None, None], 5, stride=1, padding=2)[0, 0]
    row, col = divmod(int(dev.argmax()), 64)
    assert abs(row - 44) <= 3 and abs(col - 16) <= 3, (row, col)


def test_redirected_relu_revives_a_dead_unit_in_a_render():
    # red - 0.6: -0.1 everywhere on the grey starting image, so the ReLU passes no gradient at all
    model = Planted(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1), bias=torch.tensor([-0.6]))
    start = FourierImage([0], 32)().detach()
    assert float(model.run(start, ["conv2d0"])["conv2d0"].max()) == 0.0
    plain = render(model, obj.channel("conv2d0", 0), size=32, steps=32, seed=0, redirect_steps=0)
    assert torch.equal(plain.images, start) and float(plain.values[0]) == 0.0  # no gradient: nothing moves
    revived = render(model, obj.channel("conv2d0", 0), size=32, steps=32, seed=0, redirect_steps=16)
    assert float(revived.values[0]) > 0.05


# -- objectives: algebra on fixed activations -----------------------------------------------------------------


def fake_acts(layers, n=3, h=5, w=6, seed=0):
    """Random activations (any sign) for every named layer, N x C x H x W (H != W catches swapped axes)."""
    g = torch.Generator().manual_seed(seed)
    acts = {}
    for name in layers:
        info = layer_info(name)
        acts[info.name] = torch.randn(n, info.channels, *((h, w) if info.is_spatial else ()), generator=g)
    return acts


def test_objective_algebra_matches_hand_computation():
    acts = fake_acts(["conv2d0", "mixed3b", "logits"])
    a, b, c = obj.channel("conv2d0", 3), obj.channel("mixed3b", 379), obj.class_logit(208)
    va = acts["conv2d0"][:, 3].mean(dim=(1, 2))
    vb = acts["mixed3b"][:, 379].mean(dim=(1, 2))
    vc = acts["logits"][:, 208]
    assert torch.allclose(a(acts), va)
    assert torch.allclose((a + b)(acts), va + vb)
    assert torch.allclose((a - b)(acts), va - vb)
    assert torch.allclose((-a)(acts), -va)
    assert torch.allclose((2.5 * a)(acts), 2.5 * va) and torch.allclose((a * 2.5)(acts), 2.5 * va)
    assert torch.allclose((a / 4)(acts), va / 4)
    assert torch.allclose((a + 1.5)(acts), va + 1.5) and torch.allclose((a - 1.5)(acts), va - 1.5)
    assert torch.allclose((1.5 + a)(acts), va + 1.5)
    assert torch.allclose(sum([a, b, c])(acts), va + vb + vc)  # sum() starts from 0: __radd__
    assert torch.allclose((a - 2 * b + c / 2)(acts), va - 2 * vb + vc / 2)
    assert (a + b - c).layers == {"conv2d0", "mixed3b", "logits"}
    assert (3 * a).layers == {"conv2d0"}
    with pytest.raises(TypeError):
        a * b  # objectives scale by numbers only


def test_single_objectives_read_the_right_numbers():
    acts = fake_acts(["conv2d0", "mixed4a", "logits"], h=7, w=9)
    x = acts["mixed4a"]
    assert torch.allclose(obj.neuron("mixed4a", 11)(acts), x[:, 11, 3, 4])  # centre (H // 2, W // 2)
    assert torch.allclose(obj.neuron("mixed4a", 11, x=1, y=5)(acts), x[:, 11, 5, 1])  # x column, y row
    assert torch.allclose(obj.layer("mixed4a")(acts), x.square().mean(dim=(1, 2, 3)))
    assert torch.allclose(obj.class_logit(7)(acts), acts["logits"][:, 7])
    vec = torch.randn(layer_info("mixed4a").channels, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(
        obj.direction("mixed4a", vec)(acts), (x * vec[None, :, None, None]).sum(1).mean(dim=(1, 2)), atol=1e-5
    )
    with pytest.raises(ValueError):
        obj.direction("mixed4a", vec[:10])
    # batch=i keeps image i's value and zeroes the others
    only = obj.channel("conv2d0", 2, batch=1)(acts)
    assert only[0] == 0 and only[2] == 0 and torch.isclose(only[1], acts["conv2d0"][1, 2].mean())
    with pytest.raises(ValueError):
        obj.channel("conv2d0", 2, batch=3)(acts)
    # short block names resolve to catalogue names
    assert obj.channel("4a", 0).layers == {"mixed4a"}


def test_diversity_has_its_known_values():
    div = obj.diversity("mixed3a")
    one = fake_acts(["mixed3a"], n=1)
    assert div(one).tolist() == [0.0]  # a batch of one
    for n in (2, 3, 5):
        same = {"mixed3a": one["mixed3a"].expand(n, -1, -1, -1).clone()}
        assert torch.allclose(div(same), torch.full((n,), -(n - 1) / n), atol=1e-6)
    # orthogonal Gram matrices: each image lives in its own channel
    ortho = torch.zeros(3, 256, 4, 4)
    for i in range(3):
        ortho[i, i] = torch.rand(4, 4, generator=torch.Generator().manual_seed(i)) + 0.1
    assert torch.allclose(div({"mixed3a": ortho}), torch.zeros(3), atol=1e-7)
    # two alike and one apart: -(1 + 0) / 3, -(1 + 0) / 3, 0
    mixed = ortho.clone()
    mixed[1] = mixed[0]
    assert torch.allclose(div({"mixed3a": mixed}), torch.tensor([-1 / 3, -1 / 3, 0.0]), atol=1e-6)
    # the general case by hand: minus the mean over the other images of the Gram cosine similarity
    x = fake_acts(["mixed3a"], n=3, seed=4)["mixed3a"].relu()
    grams = [(a.reshape(256, -1) @ a.reshape(256, -1).T).flatten() for a in x]
    cos = lambda u, v: float(u @ v / (u.norm() * v.norm()))  # noqa: E731
    expected = [-(sum(cos(grams[i], grams[j]) for j in range(3) if j != i)) / 3 for i in range(3)]
    assert torch.allclose(div({"mixed3a": x}), torch.tensor(expected), atol=1e-5)


def test_interpolate_weights_the_endpoints():
    acts = fake_acts(["conv2d0", "mixed3b"], n=3)
    a, b = obj.channel("conv2d0", 1), obj.channel("mixed3b", 2)
    va, vb = a(acts), b(acts)
    values = obj.interpolate(a, b)(acts)
    assert torch.allclose(values[0], va[0]) and torch.allclose(values[2], vb[2])  # weights 1/0 and 0/1
    assert torch.allclose(values[1], 0.5 * va[1] + 0.5 * vb[1])
    assert obj.interpolate(a, b).layers == {"conv2d0", "mixed3b"}
    single = {k: v[:1] for k, v in acts.items()}
    assert torch.allclose(obj.interpolate(a, b)(single), va[:1])


NAMES = ["mixed3b:379", "mixed4c_5x5:63", "conv2d2:10", "mixed4c:447", "mixed3b:379"]


@pytest.mark.parametrize("negative", [False, True])
@pytest.mark.parametrize("kind", ["channel", "neuron"])
def test_units_equals_the_sum_of_single_units(kind, negative):
    batched = obj.units(NAMES, kind=kind, negative=negative)
    summed = sum(obj.unit(name, kind=kind, negative=negative, batch=i) for i, name in enumerate(NAMES))
    assert batched.layers == summed.layers
    acts = fake_acts(batched.layers, n=len(NAMES), seed=3)
    assert torch.allclose(batched(acts), summed(acts), atol=1e-6)
    assert not torch.allclose(batched(acts), torch.zeros(len(NAMES)))


def test_branch_units_read_their_block_when_negative():
    positive, negative = obj.unit("mixed4c_5x5:63"), obj.unit("mixed4c_5x5:63", negative=True)
    assert positive.layers == {"mixed4c_5x5"} and negative.layers == {"mixed4c_pre_relu"}
    acts = fake_acts(["mixed4c_5x5", "mixed4c_pre_relu"], n=2)
    assert torch.allclose(positive(acts), acts["mixed4c_5x5"][:, 63].mean(dim=(1, 2)))
    assert torch.allclose(negative(acts), -acts["mixed4c_pre_relu"][:, 447].mean(dim=(1, 2)))  # 128 + 256 + 63
    assert obj.unit("mixed3b:379", negative=True).layers == {"mixed3b_pre_relu"}
    assert obj.units(["mixed4c_5x5:63", "mixed3b:1"], negative=True).layers == {"mixed4c_pre_relu", "mixed3b_pre_relu"}
    block = fake_acts(["mixed4c"], n=2)  # 5 x 6: the centre is row 2, column 3
    assert torch.allclose(obj.unit("mixed4c:447", kind="neuron")(block), block["mixed4c"][:, 447, 2, 3])
    with pytest.raises(ValueError):
        obj.unit("mixed4c:447", kind="pixel")


# -- transforms ------------------------------------------------------------------------------------------------


def random_images(n=2, size=16, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_pad_keeps_the_centre_and_fills_grey():
    x = random_images()
    out = Pad(4, 0.5)(x)
    assert out.shape == (2, 3, 24, 24)
    assert torch.allclose(out[..., 4:20, 4:20], x, atol=1e-6)
    border = torch.ones(24, 24, dtype=torch.bool)
    border[4:20, 4:20] = False
    assert torch.allclose(out[..., border], torch.full_like(out[..., border], 0.5), atol=1e-6)


def test_jitter_is_an_exact_integer_crop():
    x = random_images(n=1, size=20)
    offsets = set()
    for seed in range(12):
        out = Jitter(5)(x, torch.Generator().manual_seed(seed))
        assert out.shape == (1, 3, 15, 15)
        found = [
            (dy, dx)
            for dy in range(6)
            for dx in range(6)
            if torch.allclose(out, x[..., dy : dy + 15, dx : dx + 15], atol=1e-5)
        ]
        assert len(found) == 1, found
        offsets.add(found[0])
    assert len(offsets) >= 4 and any(dy != dx for dy, dx in offsets)  # really random, x and y apart


def test_single_valued_rotate_and_scale_are_the_identity():
    x = random_images()
    assert torch.allclose(Rotate(angles=(0,))(x), x, atol=1e-5)
    assert torch.allclose(Scale(scales=(1.0,))(x), x, atol=1e-5)
    assert torch.allclose(Chain([Rotate(angles=(0,)), Scale(scales=(1.0,))])(x), x, atol=1e-5)


def test_rotate_works_in_degrees_and_scale_zooms_about_the_centre():
    x = random_images(size=15)
    quarter = Rotate(angles=(90,))(x)
    assert any(torch.allclose(quarter, torch.rot90(x, k, dims=(-2, -1)), atol=1e-4) for k in (1, -1))
    # a ramp along x zoomed 2x about the centre: out(x) = c + (x - c) / 2 (bilinear is exact on a ramp)
    s, c = 17, 8.0
    ramp = torch.arange(s, dtype=torch.float32).expand(1, 3, s, s).clone()
    zoomed = Scale(scales=(2.0,))(ramp)
    expected = c + (torch.arange(s, dtype=torch.float32) - c) / 2
    assert torch.allclose(zoomed[0, 0], expected.expand(s, s), atol=1e-4)


def test_chain_composes_in_order_as_one_resampling():
    x = random_images(size=15)
    steps = [Pad(4, 0.5), Rotate(angles=(90,)), Scale(scales=(2.0,))]
    one_pass = Chain(steps)(x)
    step_by_step = x
    for t in steps:
        step_by_step = t(step_by_step)
    assert one_pass.shape == (2, 3, 23, 23)
    assert torch.allclose(one_pass, step_by_step, atol=1e-4)
    # the same transforms in another order give another picture
    assert not torch.allclose(Chain([Scale(scales=(2.0,)), Pad(4, 0.5)])(x), one_pass, atol=1e-2)


def test_standard_chain_size_gradient_and_grey_fill():
    chain = Chain(standard_transforms())
    assert chain.out_size(128) == 140
    x = random_images(n=2, size=32).requires_grad_(True)
    out = chain(x)
    assert out.shape == (2, 3, 44, 44)
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad[..., 8:24, 8:24].abs().min() > 0
    grey = chain(torch.full((2, 3, 32, 32), 0.5))  # grey in, grey out: the padding is grey too
    assert torch.allclose(grey, torch.full_like(grey, 0.5), atol=1e-6)


def test_chain_draws_each_images_numbers_from_its_own_generator():
    chain = Chain(standard_transforms())
    batch = chain.plan(generators([5, 6, 7]), steps=10)
    for i, seed in enumerate([5, 6, 7]):
        alone = chain.plan(generators([seed]), steps=10)
        for numbers_batch, numbers_alone in zip(batch, alone):
            assert torch.equal(numbers_batch[:, i], numbers_alone[:, 0])
    assert not torch.equal(batch[1][:, 0], batch[1][:, 1])  # different seeds, different jitter


# -- parameterisations -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fft", "pixel", "cppn"])
def test_parameterisations_make_valid_images_and_learn(kind):
    param = make_param(kind, [3, 9], 24)
    images = param()
    assert images.shape == (2, 3, 24, 24) and images.min() >= 0 and images.max() <= 1
    images[:, 0].mean().backward()
    assert all(p.grad is not None for p in param.parameters()) and any(
        p.grad.abs().sum() > 0 for p in param.parameters()
    )
    # image i depends on seeds[i] only
    assert torch.allclose(make_param(kind, [9], 24)()[0], images[1].detach(), atol=1e-6)
    assert not torch.allclose(images[0], images[1])
    odd = make_param(kind, [0], 23)()
    assert odd.shape == (1, 3, 23, 23)


def test_parameterisation_details():
    start = FourierImage([0], 64)().detach()
    assert abs(float(start.mean()) - 0.5) < 0.01 and float(start.std()) < 0.02  # nearly uniform grey
    assert float(PixelImage([0], 64)().detach().std()) < 0.02
    assert float(COLOR_CORRELATION_NORMALIZED.norm(dim=0).max()) == pytest.approx(1.0, abs=1e-6)
    # the decorrelated colour e_c maps to column c (Lucid: t_flat @ matrix.T)
    basis = torch.eye(3).view(3, 3, 1, 1)
    assert torch.allclose(decorrelate_colors(basis)[:, :, 0, 0], COLOR_CORRELATION_NORMALIZED.T)
    # the 1/f scaling: the starting image has its energy in low frequencies
    grey = (FourierImage([1], 64)()[0].mean(0) - 0.5).double()
    power = torch.fft.rfft2(grey).abs().square()
    f = torch.tensor(rfft2d_frequencies(64, 64))
    assert power[(f > 0) & (f < 0.1)].mean() > 20 * power[f > 0.3].mean()
    assert CPPNImage.lr < PixelImage.lr
    with pytest.raises(ValueError):
        make_param("jpeg", [0], 8)
    own = PixelImage([0], 8)
    assert make_param(own, [1, 2], 16) is own


# -- the render loop -------------------------------------------------------------------------------------------


def three_channel_model() -> Planted:
    weight = torch.cat(
        [
            grey_kernel(gabor(0, size=7, wavelength=4, sigma=1.5)),
            grey_kernel(gabor(90, size=7, wavelength=4, sigma=1.5)),
            F.pad(torch.tensor([1.0, -1.0, 0.0]).view(1, 3, 1, 1), (3, 3, 3, 3)),
        ]
    )
    return Planted(weight)


def test_render_is_deterministic_and_seeded():
    model = three_channel_model()
    objective = obj.channel("conv2d0", 0)
    a = render(model, objective, size=32, steps=12, seed=3)
    b = render(model, objective, size=32, steps=12, seed=3)
    c = render(model, objective, size=32, steps=12, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.values, b.values)
    assert (a.images - c.images).abs().max() > 0.01
    assert a.images.shape == (1, 3, 32, 32) and a.steps == 12 and not a.stopped and a.seconds > 0
    assert a.images.min() >= 0 and a.images.max() <= 1
    # values are the objective on the final, untransformed images
    assert torch.allclose(a.values, objective(model.run(a.images, ["conv2d0"])), atol=1e-5)
    # the forward pass asks for exactly the objective's layers
    assert set(model.calls) == {("conv2d0",)}


class RecordingJitter(Jitter):
    """A jitter that notes the numbers it is applied with (one N x 2 tensor per step)."""

    seen: ClassVar[list[torch.Tensor]] = []

    def matrix(self, params, size):
        self.seen.append(params.clone())
        return super().matrix(params, size)


def test_render_draws_new_transform_numbers_every_step():
    RecordingJitter.seen.clear()
    render(
        three_channel_model(),
        obj.channel("conv2d0", 0),
        batch=2,
        size=16,
        steps=8,
        transforms=[Pad(4), RecordingJitter(6)],
    )
    assert len(RecordingJitter.seen) == 8 and all(p.shape == (2, 2) for p in RecordingJitter.seen)
    assert len({tuple(p.flatten().tolist()) for p in RecordingJitter.seen}) >= 4


def test_batched_render_equals_single_renders_planted():
    model = three_channel_model()
    names = ["conv2d0:0", "conv2d0:1", "conv2d0:2"]
    batch = render(model, obj.units(names), batch=3, size=32, steps=24, seeds=[5, 6, 7])
    for i, name in enumerate(names):
        single = render(model, obj.unit(name), size=32, steps=24, seeds=[5 + i])
        assert torch.allclose(batch.images[i], single.images[0], atol=1e-4), (
            name,
            float((batch.images[i] - single.images[0]).abs().max()),
        )
        assert torch.allclose(batch.values[i], single.values[0], atol=1e-4)
    assert (batch.images[0] - batch.images[1]).abs().max() > 0.05  # three different units, three pictures


def test_progress_callback_is_called_every_k_steps_and_can_stop():
    model = three_channel_model()
    calls = []

    def watch(step, images):
        calls.append((step, tuple(images.shape)))

    result = render(model, obj.units(["conv2d0:0", "conv2d0:1"]), batch=2, size=24, steps=10, every=4, progress=watch)
    assert calls == [(4, (2, 3, 24, 24)), (8, (2, 3, 24, 24)), (10, (2, 3, 24, 24))]  # None does not stop
    assert [step for step, _ in result.history] == [4, 8, 10] and all(len(v) == 2 for _, v in result.history)
    assert result.steps == 10 and not result.stopped

    calls.clear()
    stopped = render(
        model, obj.channel("conv2d0", 0), size=24, steps=50, every=4, progress=lambda s, im: calls.append(s) or False
    )
    assert stopped.stopped and stopped.steps == 4 and calls == [4]
    calls.clear()
    later = render(
        model, obj.channel("conv2d0", 0), size=24, steps=50, every=3, progress=lambda s, im: calls.append(s) or s < 9
    )
    assert later.stopped and later.steps == 9 and calls == [3, 6, 9]


def test_redirected_relu_forward_and_backward():
    x = torch.tensor([[[-1.0, 2.0], [-3.0, 0.5]], [[-1.0, -2.0], [-3.0, -0.5]]]).unsqueeze(1)  # image 1 all negative
    assert torch.equal(redirected_relu(x), F.relu(x))
    upstream = torch.tensor([[[0.3, -0.7], [-0.2, 0.4]], [[0.3, -0.7], [-0.2, 0.4]]]).unsqueeze(1)
    leaf = x.clone().requires_grad_(True)
    redirected_relu(leaf).backward(upstream)
    # image 0: some gradient flows through the ReLU, so it is exactly the ReLU's gradient
    assert torch.equal(leaf.grad[0], upstream[0] * (x[0] > 0))
    # image 1: dead. The loss is minimised (it is minus the objective), so a positive gradient would push an
    # already negative input further down: those are zeroed; negative ones (pushing it up) pass.
    assert torch.equal(leaf.grad[1], torch.tensor([[[0.0, -0.7], [-0.2, 0.0]]]))
    # an image whose positive inputs get zero gradient is dead too
    y = torch.tensor([[1.0, -1.0, -2.0]]).requires_grad_(True)
    redirected_relu(y).backward(torch.tensor([[0.0, -0.5, 0.5]]))
    assert torch.equal(y.grad, torch.tensor([[0.0, -0.5, 0.0]]))


# -- real weights ----------------------------------------------------------------------------------------------


def test_early_stop_forward_gives_the_same_objective(model):
    objective = (
        obj.units(["mixed3b:379", "mixed4a:97"]) + obj.neuron("conv2d2", 3) - obj.unit("mixed4c_5x5:63", negative=True)
    )
    x = (
        FourierImage([0, 1], 64)().detach()
        + 0.2 * torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
        - 0.1
    )
    with torch.no_grad():
        short = model.run(x, objective.layers)
        full = model.run(x, [*objective.layers, "logits"])
    assert set(short) == set(objective.layers) and "logits" in full
    assert torch.allclose(objective(short), objective(full), rtol=1e-5, atol=1e-4)
    assert objective(short).abs().min() > 0


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_batched_render_equals_single_renders_real_model(model):
    """Image i of a batch render of N units is a single render of unit i with seed i, on the real network.

    Exact only with the batch-independent convolution: oneDNN's float32 convolutions round differently at
    batch 1 and batch 3 (~1e-7), and on the nearly flat starting images max-pool's argmax flips on such
    differences, so Adam amplifies them into visibly different images within a few steps. With oneDNN off
    the batch and the singles agree to the last bit, which checks what the engine controls: per-image
    initialisation, per-image transform draws, the vectorised units objective and per-image redirection.
    """
    names = ["mixed3b:379", "mixed4c_5x5:63", "conv2d2:10"]
    kwargs = dict(size=48, steps=12, redirect_steps=6)
    with torch.backends.mkldnn.flags(enabled=False):
        batch = render(model, obj.units(names), batch=3, seeds=[5, 6, 7], **kwargs)
        for i, name in enumerate(names):
            single = render(model, obj.unit(name), seeds=[5 + i], **kwargs)
            diff = float((batch.images[i] - single.images[0]).abs().max())
            print(f"{name}: max |batch - single| = {diff:.2e}")
            assert diff < 1e-4
            assert torch.allclose(batch.values[i], single.values[0], rtol=1e-4)
    assert (batch.images - 0.5).abs().mean() > 0.02  # something was rendered


def test_render_raises_the_real_unit_tenfold(model):
    objective = obj.unit("mixed3b:379")
    with torch.no_grad():
        before = float(objective(model.run(FourierImage(seeds=[0], size=64)(), objective.layers))[0])
    result = render(model, objective, size=64, steps=64, seed=0)
    after = float(result.values[0])
    ratio = after / before if before > 0 else math.inf
    print(f"mixed3b:379 channel mean: {before:.3f} -> {after:.3f} ({ratio:.1f}x) in {result.seconds:.1f} s")
    assert after > 0 and ratio >= 10


# -- units without positions, and negative renders that cannot be: routed or refused -------------------------


def test_class_and_average_pool_units_read_their_own_value(model):
    """logits:41 is the logit (it used to fail with an IndexError, as a channel mean over no positions);
    avgpool0:c is read as mixed5b:c's mean, which is exactly what the average pool computes."""
    images = torch.rand(3, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        acts = model.run(images, ["logits", "avgpool0", "mixed5b", "mixed5b_pre_relu"])
    for kind in ("channel", "neuron"):  # neither has positions: a neuron is the whole value too
        assert obj.unit("logits:41", kind=kind).layers == {"logits"}
        assert torch.equal(obj.unit("logits:41", kind=kind)(acts), acts["logits"][:, 41])
        assert obj.unit("avgpool0:7", kind=kind).layers == {"mixed5b"}
        torch.testing.assert_close(obj.unit("avgpool0:7", kind=kind)(acts), acts["avgpool0"][:, 7])
    assert torch.equal(obj.unit("logits:41", negative=True)(acts), -acts["logits"][:, 41])  # no ReLU after a logit
    torch.testing.assert_close(
        obj.unit("avgpool0:7", negative=True)(acts), -acts["mixed5b_pre_relu"][:, 7].mean(dim=(1, 2))
    )
    # many at once, each image its own unit, mixed with a spatial one read at its centre
    batched = obj.units(["logits:41", "avgpool0:7", "mixed5b:7"], kind="neuron")
    assert batched.layers == {"logits", "mixed5b"}
    expected = torch.stack([acts["logits"][0, 41], acts["avgpool0"][1, 7], acts["mixed5b"][2, 7, 1, 1]])
    torch.testing.assert_close(batched(acts), expected)


def test_rendering_a_class_raises_its_logit(model):
    objective = obj.unit("logits:41")
    with torch.no_grad():
        before = float(objective(model.run(FourierImage(seeds=[0], size=64)(), objective.layers))[0])
    after = float(render(model, objective, size=64, steps=32, seed=0).values[0])
    print(f"logit 41 (dalmatian): {before:.2f} -> {after:.2f}")
    assert after > before + 5


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("mixed4c_3x3_bottleneck:5", "the network names a bottleneck only after its ReLU"),
        ("mixed3a_5x5_bottleneck:0", "the network names a bottleneck only after its ReLU"),
        ("maxpool0:3", "a max-pool of ReLU outputs"),
        ("maxpool10:100", "a max-pool of ReLU outputs"),
        ("localresponsenorm1:2", "a local response normalisation of ReLU outputs"),
    ],
)
def test_negative_renders_that_would_read_after_a_relu_are_refused(name, why):
    with pytest.raises(UnitError) as info:
        obj.unit(name, negative=True)
    assert str(info.value) == (
        f"{name} cannot be rendered negatively: its values come after a ReLU ({why}), so they are never below zero "
        'and there is no "less" to push towards. Render it positively, or render a conv or mixed layer\'s unit '
        "negatively."
    )
    with pytest.raises(UnitError, match="cannot be rendered negatively"):
        obj.units(["mixed3b:379", name], negative=True)
    assert obj.unit(name).layers == {name.split(":")[0]}  # positive renders read the unit itself


def test_dummy_classes_are_refused_and_conv_and_block_negatives_read_before_the_relu():
    for name in ("logits:0", "logits:1001", "logits:1007"):
        with pytest.raises(
            UnitError,
            match=rf"^{name} is one of InceptionV1's unused dummy classes, .* render a class "
            r"from logits:1 to logits:1000\.$",
        ):
            obj.unit(name)
    assert obj.unit("conv2d1:3", negative=True).layers == {"conv2d1_pre_relu"}
    assert obj.unit("mixed4c_pre_relu:3", negative=True).layers == {"mixed4c_pre_relu"}
    assert obj.unit("mixed4c:3", negative=True).layers == {"mixed4c_pre_relu"}


# -- settings a person can get wrong: InterpError with a message, as the rest of interp raises ------------------


def test_bad_render_settings_raise_render_errors_with_clear_messages():
    from interp.errors import InterpError
    from interp.featvis import RenderError

    stand_in = torch.nn.Linear(1, 1)  # never run: every setting below is refused before the first step
    cases = [
        (lambda: render(stand_in, obj.channel("conv2d0", 0), size=0), "size must be"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), size=-3), "size must be"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), size=12.5), "size must be"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), steps=-1), "steps must be"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), batch=0), "batch must be"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), seeds=[]), "seeds is empty"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), size=8, param="jpeg"), "Unknown parameterisation 'jpeg'"),
        (lambda: render(stand_in, obj.channel("conv2d0", 0), size=8, transforms="fancy"), "Unknown transforms 'fancy'"),
        (lambda: make_param("jpeg", [0], 8), "use one of fft, pixel, cppn"),
        (lambda: obj.unit("mixed4c:447", kind="pixel"), "Unknown objective kind 'pixel'"),
        (lambda: obj.direction("mixed4a", torch.ones(10)), "mixed4a has 508 channels; the direction has 10"),
        (lambda: obj.channel("conv2d0", 2, batch=3)(fake_acts(["conv2d0"])), "batch=3 is not an image"),
    ]
    for call, message in cases:
        with pytest.raises(RenderError, match=message) as caught:
            call()
        assert isinstance(caught.value, InterpError) and isinstance(caught.value, ValueError)  # old callers too


def test_the_manifest_is_seen_when_it_appears_and_when_it_changes(tmp_path):
    """A manifest missing at first (no precomputed pictures yet) is read once it is written, and again when it
    is rewritten: nothing is remembered for the life of the process."""
    import json

    from interp.featvis.manifest import read_manifest

    path = tmp_path / "manifest.json"
    assert read_manifest(path) == {"sets": {}}
    path.write_text(json.dumps({"sets": {"demo": [{"unit": "mixed3b:379", "file": "a.jpg", "label": "x"}]}}))
    assert list(read_manifest(path)["sets"]) == ["demo"]
    assert read_manifest(path) is read_manifest(path)  # parsed once per version of the file
    path.write_text(json.dumps({"sets": {"demo": [], "more": []}}))  # another size: another version
    assert sorted(read_manifest(path)["sets"]) == ["demo", "more"]
    path.unlink()
    assert read_manifest(path) == {"sets": {}}
