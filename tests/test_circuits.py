"""Expanded weights (interp.circuits): planted weights, an autograd equivalence, and the articles' facts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from interp.circuits import (
    block_unit,
    bottleneck_paths,
    branch_of,
    edge,
    expanded_weights,
    linear_response,
    operations_between,
    ranked_inputs,
    source_layer,
    strongest_inputs,
    strongest_outputs,
    target_layer,
)
from interp.errors import UnitError
from interp.network.layers import LAYERS, REAL_LOGITS, Unit
from interp.network.model import InceptionV1
from interp.story.catalogue import load_catalogue
from interp.story.find_roles import CURVE_ANGLES, arc_tuning, curve_circuits, curve_scores


@pytest.fixture(scope="module")
def random_model():
    torch.manual_seed(0)
    return InceptionV1().eval()


def test_planted_bottleneck_product_is_the_expanded_weight():
    """4c:447 (5x5 branch, its channel 63) reads bottleneck unit 3, which reads 4b:7 with +2 and 4b:9 with -1."""
    model = InceptionV1().eval()
    kernel = torch.arange(1.0, 26.0).reshape(5, 5)  # all positive, and no two rows alike: orientation shows
    with torch.no_grad():
        for name in ("mixed4c_5x5_bottleneck", "mixed4c_5x5"):
            getattr(model, f"{name}_pre_relu_conv").weight.zero_()
        bottleneck = model.mixed4c_5x5_bottleneck_pre_relu_conv.weight
        bottleneck[3, 7, 0, 0], bottleneck[3, 9, 0, 0] = 2.0, -1.0
        model.mixed4c_5x5_pre_relu_conv.weight[63, 3] = kernel
    weights = expanded_weights(model, "mixed4c:447")
    assert weights.shape == (512, 5, 5)
    torch.testing.assert_close(weights[7], 2 * kernel)
    torch.testing.assert_close(weights[9], -kernel)
    others = torch.ones(512, dtype=torch.bool)
    others[[7, 9]] = False
    assert weights[others].abs().max() == 0
    assert strongest_inputs(model, "mixed4c:447", top=1)[0].source == Unit("mixed4b", 7)
    assert strongest_inputs(model, "mixed4c:447", top=1, by="inhibit")[0].source == Unit("mixed4b", 9)
    entry = edge(model, "mixed4b:9", "4c:447", by="strength")
    assert (entry.rank, entry.of) == (2, 512)
    assert entry.excitation == 0 and entry.inhibition == pytest.approx(-325.0) and entry.net == pytest.approx(-325.0)
    # seen from the other end: 4b:7 feeds 4c:447 more than any other unit of mixed4c, and no other 5x5 unit at all
    out = strongest_outputs(model, "mixed4b:7", top=10**6)
    assert out[0].target == Unit("mixed4c", 447) and out[0].of == 512
    torch.testing.assert_close(out[0].kernel, 2 * kernel)
    start, stop = LAYERS["mixed4c_5x5"].channel_range
    assert all(e.kernel.abs().max() == 0 for e in out[1:] if start <= e.target.channel < stop)


def test_planted_bottleneck_paths_are_the_products_and_add_up_to_the_expanded_weight():
    """4b:7 reaches 4c:447 (5x5 branch, its channel 63) along two planted paths: through bottleneck unit 3
    (weight +2, kernel 1..25) and unit 5 (weight +0.5, a kernel of ones); every other path is zero."""
    model = InceptionV1().eval()
    kernel = torch.arange(1.0, 26.0).reshape(5, 5)
    with torch.no_grad():
        for name in ("mixed4c_5x5_bottleneck", "mixed4c_5x5"):
            getattr(model, f"{name}_pre_relu_conv").weight.zero_()
        bottleneck = model.mixed4c_5x5_bottleneck_pre_relu_conv.weight
        bottleneck[3, 7, 0, 0], bottleneck[5, 7, 0, 0], bottleneck[3, 9, 0, 0] = 2.0, 0.5, -1.0
        model.mixed4c_5x5_pre_relu_conv.weight[63, 3] = kernel
        model.mixed4c_5x5_pre_relu_conv.weight[63, 5] = 1.0
    paths = bottleneck_paths(model, "mixed4c_5x5:63", 7)
    assert (paths.target, paths.source, paths.branch, paths.index, paths.part) == (
        Unit("mixed4c", 447),
        Unit("mixed4b", 7),
        "mixed4c_5x5",
        63,
        "5x5",
    )
    assert paths.bottleneck == 24 and paths.terms.shape == (24, 5, 5)
    assert paths.squeeze[3] == 2.0 and paths.squeeze[5] == 0.5 and np.count_nonzero(paths.squeeze) == 2
    np.testing.assert_array_equal(paths.terms[3], 2 * kernel.numpy())
    np.testing.assert_array_equal(paths.terms[5], np.full((5, 5), 0.5))
    assert list(paths.order[:2]) == [3, 5] and list(paths.order[2:]) == [c for c in range(24) if c not in (3, 5)]
    np.testing.assert_allclose(paths.expanded, 2 * kernel.numpy() + 0.5)
    np.testing.assert_array_equal(paths.rest(1), np.full((5, 5), 0.5))  # all but the biggest path
    assert paths.share(1) == pytest.approx(650 / (650 + 12.5)) and paths.share(24) == 1.0
    assert paths.check == 0.0
    with pytest.raises(UnitError, match="no bottleneck"):
        bottleneck_paths(model, "mixed4c:0", 7)  # the 1x1 branch
    with pytest.raises(UnitError, match="no bottleneck"):
        bottleneck_paths(model, "conv2d2:3", 7)
    with pytest.raises(UnitError, match="no channel 512"):
        bottleneck_paths(model, "mixed4c:447", 512)


@pytest.mark.parametrize("target", ["mixed4c:200", "mixed4c:447", "mixed3b:379", "mixed4a:300", "mixed5b:500"])
def test_bottleneck_paths_sum_to_the_expanded_weights(random_model, target):
    """Equivalence: summed over the bottleneck, the paths are interp.circuits.expanded_weights, for any input."""
    weights = expanded_weights(random_model, target)
    for channel in (0, 17, weights.shape[0] - 1):
        paths = bottleneck_paths(random_model, target, channel)
        np.testing.assert_allclose(paths.terms.sum(axis=0), weights[channel].numpy(), rtol=1e-4, atol=1e-6)
        assert paths.check < 1e-5
        np.testing.assert_allclose(
            paths.terms[paths.order[:4]].sum(axis=0) + paths.rest(4), paths.expanded, rtol=1e-4, atol=1e-6
        )
        sums = np.abs(paths.terms).sum(axis=(1, 2))
        assert all(sums[a] >= sums[b] for a, b in zip(paths.order, paths.order[1:]))


def test_branch_of_names_how_a_unit_reads_the_layer_before():
    assert branch_of("mixed4c:447") == ("5x5", "mixed4c_5x5", 63)
    assert branch_of("mixed4c_3x3:0") == ("3x3", "mixed4c_3x3", 0)
    assert branch_of("mixed4c:0") == ("1x1", "mixed4c_1x1", 0)
    assert branch_of("mixed4c:500") == ("pool_reduce", "mixed4c_pool_reduce", 52)
    assert branch_of("conv2d2:3") == branch_of("logits:41") == ("conv", None, None)


@pytest.mark.parametrize(
    "target, by", [("mixed4c:447", "excite"), ("mixed3b:379", "inhibit"), ("conv2d2:3", "strength")]
)
def test_ranked_inputs_are_every_strongest_input_in_order(random_model, target, by):
    ranked = ranked_inputs(random_model, target, by=by)
    edges = strongest_inputs(random_model, target, top=10**6, by=by)
    assert ranked.source == source_layer(block_unit(target).layer) and ranked.target == block_unit(target)
    assert ranked.channels == [e.source.channel for e in edges]
    assert len(ranked.channels) == LAYERS[ranked.source].channels
    assert ranked.excitation == [e.excitation for e in edges] and ranked.inhibition == [e.inhibition for e in edges]
    np.testing.assert_array_equal(ranked.kernels[5], edges[5].kernel.numpy())
    assert ranked.rank_of(edges[9].source.channel) == 10


@pytest.mark.parametrize(
    "target", ["mixed4c:5", "mixed4c:200", "mixed4c:447", "mixed3b:379", "mixed4a:300", "conv2d2:10"]
)
def test_expanded_weights_equal_the_gradient_of_the_linearised_branch(random_model, target):
    """With the bottleneck's ReLU taken out, the expanded weights are exactly d target / d input around it."""
    unit = block_unit(target)
    kernel = expanded_weights(random_model, unit)
    channels, k = LAYERS[source_layer(unit.layer)].channels, kernel.shape[-1]
    inputs = torch.randn(1, channels, 11, 11, requires_grad=True)

    def conv(name, x):
        return getattr(random_model, f"{name}_pre_relu_conv")(x)

    if LAYERS[unit.layer].kind == "conv":
        out, index = conv(unit.layer, inputs), unit.channel
    else:
        branch, index = unit.branch
        part = branch.removeprefix(unit.layer + "_")
        out = (
            conv(branch, conv(f"{unit.layer}_{part}_bottleneck", inputs))
            if part in ("3x3", "5x5")
            else conv(branch, inputs)
        )
    out[0, index, 5, 5].backward()
    r = k // 2
    torch.testing.assert_close(inputs.grad[0, :, 5 - r : 5 + r + 1, 5 - r : 5 + r + 1], kernel, rtol=1e-4, atol=1e-6)
    assert inputs.grad[0, :, : 5 - r].abs().max() == 0  # nothing outside the window


def test_pool_branch_reads_its_one_by_one_weight(random_model):
    weights = expanded_weights(random_model, "mixed4c:500")  # pool_reduce branch, its channel 52
    torch.testing.assert_close(weights, random_model.mixed4c_pool_reduce_pre_relu_conv.weight[52].detach())


@pytest.mark.parametrize("source", ["mixed4b:7", "mixed3a:100", "conv2d2:5", "conv2d0:0"])
def test_outputs_are_the_inputs_seen_from_the_other_end(random_model, source):
    """Every edge out of a unit has the same kernel as that edge seen among its target's inputs."""
    edges = strongest_outputs(random_model, source, top=10**6)
    layer = target_layer(block_unit(source).layer)
    assert sorted(e.target.channel for e in edges) == list(range(LAYERS[layer].channels))
    for e in edges[:: max(len(edges) // 40, 1)]:
        torch.testing.assert_close(e.kernel, expanded_weights(random_model, e.target)[block_unit(source).channel])
    assert [e.rank for e in edges] == list(range(1, len(edges) + 1))
    assert all(a.excitation >= b.excitation for a, b in zip(edges, edges[1:]))


def test_mixed5b_feeds_the_classes_without_the_dummies(random_model):
    edges = strongest_outputs(random_model, "mixed5b:10", top=10**6, by="strength")
    assert sorted(e.target.channel for e in edges) == list(REAL_LOGITS)
    assert edges[0].kernel.shape == (1, 1)
    assert operations_between("logits") == ["avgpool0"]
    inputs = strongest_inputs(random_model, "logits:41", top=1024)
    assert {e.source.channel for e in inputs} == set(range(1024))
    top = int(random_model.softmax2_pre_activation_matmul.weight.detach()[41].argmax())
    assert inputs[0].source == Unit("mixed5b", top)


def test_names_sources_and_errors(random_model):
    assert block_unit("mixed4c_5x5:63") == Unit("mixed4c", 447)
    assert block_unit("4c:447") == block_unit("mixed4c_pre_relu:447") == Unit("mixed4c", 447)
    assert source_layer("mixed4a") == "mixed3b" and operations_between("mixed4a") == ["maxpool4"]
    assert source_layer("mixed3a") == "conv2d2" and operations_between("mixed3a") == ["localresponsenorm1", "maxpool1"]
    assert source_layer("mixed4c") == "mixed4b" and operations_between("mixed4c") == []
    with pytest.raises(UnitError, match="conv2d0 has none"):
        expanded_weights(random_model, "conv2d0:3")
    with pytest.raises(UnitError, match="reads units of mixed4b"):
        edge(random_model, "mixed4a:3", "mixed4c:447")
    with pytest.raises(UnitError, match="logits has none"):
        strongest_outputs(random_model, "logits:3")
    assert target_layer("mixed5b") == "logits" and target_layer("mixed3b") == "mixed4a"
    with pytest.raises(ValueError, match="excite, inhibit, strength"):
        strongest_inputs(random_model, "mixed4c:447", by="sum")
    with pytest.raises(UnitError):
        expanded_weights(random_model, "mixed4c:999")


# -- real weights ------------------------------------------------------------------------------------------


def test_the_articles_early_curves_excite_their_curve_detectors(model):
    """Curve Circuits: each 3b curve detector is excited by the 3a early curve of the same orientation. With the
    real weights every claimed edge ranks in the top fifth of 3a's 256 inputs (by chance: 0.2 ** 4)."""
    edges = next(c for c in load_catalogue().circuits if c.name.startswith("Curve detectors")).edges
    ranks = [edge(model, source, target).rank for source, target in edges]
    assert len(ranks) == 4 and max(ranks) <= 256 // 5, ranks


def test_channel_order_the_articles_curve_detectors_are_the_curve_selective_units(model):
    """A check of the channel numbering itself (a permutation of channels would leave every logit unchanged):
    on arcs of 24 orientations, the units of mixed3b most selective for one orientation are the 5x5-branch
    units the Curve Detectors article names, not a random draw of the layer's 480."""
    score = torch.from_numpy(curve_scores(model)[0])
    order = torch.argsort(score, descending=True).tolist()
    start, stop = LAYERS["mixed3b_5x5"].channel_range
    assert all(start <= c < stop for c in order[:10]), order[:10]  # "all in the 5x5 branch"
    family = next(f for f in load_catalogue().families if f.name == "Curve detectors")
    ranks = sorted(order.index(c) + 1 for c in family.channels)
    assert np.median(ranks) < 120, ranks  # random units: a median near 240


def test_linear_response_of_a_plain_convolution_is_its_pre_activation_less_bias(model):
    """conv2d2 reads conv2d1 through one 3 x 3 convolution: the circuit run as a linear map is exact there."""
    torch.manual_seed(0)
    with torch.no_grad():
        act = model.run(torch.rand(2, 3, 96, 96), ("conv2d1", "conv2d2_pre_relu"))
        predicted = linear_response(model, "conv2d2:17", act["conv2d1"])
    bias = float(model.conv2d2_pre_relu_conv.bias[17])
    torch.testing.assert_close(predicted + bias, act["conv2d2_pre_relu"][:, 17], rtol=1e-4, atol=1e-4)


def test_linear_response_refuses_a_layer_read_through_a_pool(random_model):
    with pytest.raises(UnitError, match="maxpool4"):
        linear_response(random_model, "mixed4a:5", torch.zeros(1, 480, 28, 28))


def test_curve_family_inputs_carry_rotated_orientations(model):
    """Curve Circuits: the curve detectors are rotated copies, each built from the layer before. Measured here on
    drawn arcs of 24 orientations: the family's own preferred angles go once round the circle, and so do the
    angles its mixed3a inputs prefer when run through the expanded weights alone (one angle per detector's
    inputs). Read along the family in the order of the detectors' angles, the inputs' angles are monotone: their
    steps add up to exactly one turn (a single out-of-order detector makes two turns), the inputs' tuning curve
    follows the detector's (r > 0.75), and the two angles mostly agree (median gap at most one step of 15°)."""
    family = next(f for f in load_catalogue().families if f.name == "Curve detectors")
    circuits = sorted(curve_circuits(model, family.channels), key=lambda c: c.angle)
    assert len({c.angle for c in circuits}) >= 8  # the family covers the circle, not one orientation
    turns = sum((b.circuit_angle - a.circuit_angle) % 360 for a, b in zip(circuits, circuits[1:] + circuits[:1]))
    assert turns == 360, [(c.unit, c.angle, c.circuit_angle) for c in circuits]
    assert min(c.correlation for c in circuits) > 0.75, circuits
    gaps = [min((c.angle - c.circuit_angle) % 360, (c.circuit_angle - c.angle) % 360) for c in circuits]
    assert np.median(gaps) <= CURVE_ANGLES[1], gaps


def test_the_circuit_angles_come_from_which_inputs_the_weights_pick(model):
    """The check above can fail: run the same expanded weights on mixed3a's activations with the channels shuffled
    (each weight now reads the wrong unit) and the inputs no longer carry the detectors' orientations."""
    from interp.dataset.stimuli import arcs

    family = next(f for f in load_catalogue().families if f.name == "Curve detectors")
    with torch.no_grad():
        act = model.run(arcs(CURVE_ANGLES), ("mixed3a",))["mixed3a"].float()
    shuffled = act[:, torch.randperm(act.shape[1], generator=torch.Generator().manual_seed(0))]
    real = {c.unit: c for c in curve_circuits(model, family.channels)}
    wrong = {u: CURVE_ANGLES[int(arc_tuning(linear_response(model, u, shuffled)).argmax())] for u in real}
    gaps = [min((real[u].angle - a) % 360, (a - real[u].angle) % 360) for u, a in wrong.items()]
    assert np.median(gaps) > 2 * CURVE_ANGLES[1], gaps


# -- the command line ---------------------------------------------------------------------------------------


def test_cli_inputs_json_matches_the_library(model, weights_dir):
    from test_cli import run_cli

    result = run_cli(
        "inputs", "3b:379", "--top", "3", "--check", "3a:147", "--json", env={"INTERP_WEIGHTS_DIR": str(weights_dir)}
    )
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["unit"], payload["direction"], payload["layer"], payload["by"]) == (
        "mixed3b:379",
        "inputs",
        "mixed3a",
        "excite",
    )
    expected = strongest_inputs(model, "mixed3b:379", top=3)
    assert [row["unit"] for row in payload["top"]] == [str(e.source) for e in expected]
    assert [row["rank"] for row in payload["top"]] == [1, 2, 3] and payload["top"][0]["of"] == 256
    assert np.array(payload["top"][0]["kernel"]).shape == (5, 5)  # 3b:379 is in the 5x5 branch
    checked = payload["checked"][0]
    assert checked["unit"] == "mixed3a:147" and checked["rank"] == edge(model, "3a:147", "3b:379").rank
    assert checked["excitation"] == pytest.approx(sum(v for row in checked["kernel"] for v in row if v > 0), rel=1e-5)


def test_cli_outputs_of_mixed5b_name_the_classes(model, weights_dir):
    from test_cli import run_cli

    result = run_cli(
        "outputs", "mixed5b:360", "--top", "2", "--check", "logits:41", env={"INTERP_WEIGHTS_DIR": str(weights_dir)}
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "units of logits ranked by excite of their expanded weights from mixed5b:360, through avgpool0:"
    best = strongest_outputs(model, "mixed5b:360", top=1)[0].target
    assert lines[2].split()[:2] == ["1", str(best)]
    rank = next(e.rank for e in strongest_outputs(model, "mixed5b:360", top=1000) if e.target.channel == 41)
    assert lines[-1].split()[:3] == [str(rank), "logits:41", "dalmatian"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("conv2d0:3",), "conv2d0 has none"),
        (("4c:999",), "no channel 999"),
        (("4c:447", "--check", "4a:2"), "reads units of mixed4b"),
        (("4c:447", "--top", "0"), "--top must be at least 1"),
        (("--outputs", "logits:3"), "logits has none"),
        (("--outputs", "4c:1", "--check", "4b:1"), "feeds units of mixed4d"),
    ],
)
def test_cli_edges_errors_before_loading_anything(tmp_path, args, message):
    from test_cli import run_cli

    command = "outputs" if args[0] == "--outputs" else "inputs"
    result = run_cli(
        command,
        *[a for a in args if a != "--outputs"],
        env={"INTERP_WEIGHTS_DIR": str(tmp_path / "none"), "INTERP_OFFLINE": "1", "INTERP_CACHE_DIR": str(tmp_path)},
    )
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
