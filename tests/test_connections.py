"""A unit's connections as the Microscope shows them (interp.circuits.connections), on planted weights whose ranking is
known, with no Streamlit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from interp.circuits import strongest_inputs, strongest_outputs
from interp.circuits.connections import ClaimedEdge, Connection, Connections, unit_connections
from interp.network.layers import REAL_LOGITS, Unit
from interp.network.model import InceptionV1
from interp.story.catalogue import Circuit

KERNEL = torch.arange(1.0, 26.0).reshape(5, 5)  # all positive: 4b:7 gets +2 x, 4b:9 -1 x (sums 650 and -325)


@pytest.fixture(scope="module")
def planted():
    """mixed4c:447 (its 5x5 branch's channel 63) reads bottleneck unit 3, which reads 4b:7 with +2 and 4b:9
    with -1; every other weight into 4c's 5x5 branch is zero."""
    torch.manual_seed(0)
    model = InceptionV1().eval()
    with torch.no_grad():
        for name in ("mixed4c_5x5_bottleneck", "mixed4c_5x5"):
            getattr(model, f"{name}_pre_relu_conv").weight.zero_()
        bottleneck = model.mixed4c_5x5_bottleneck_pre_relu_conv.weight
        bottleneck[3, 7, 0, 0], bottleneck[3, 9, 0, 0] = 2.0, -1.0
        model.mixed4c_5x5_pre_relu_conv.weight[63, 3] = KERNEL
    return model


def test_the_planted_inputs_rank_first_both_ways(planted):
    found = unit_connections(planted, "mixed4c_5x5:63", top=3)  # a branch's unit is its block's
    assert found.unit == "mixed4c:447"
    assert list(found.rows) == ["in_excite", "in_inhibit", "out_excite", "out_inhibit"]
    best, worst = found.rows["in_excite"][0], found.rows["in_inhibit"][0]
    assert (best.unit, best.rank, best.of, best.label) == ("mixed4b:7", 1, 512, None)
    assert best.excitation == pytest.approx(650.0) and best.inhibition == 0
    np.testing.assert_allclose(best.kernel, 2 * KERNEL.numpy())
    assert (worst.unit, worst.rank) == ("mixed4b:9", 1) and worst.inhibition == pytest.approx(-325.0)
    assert all(len(row) == 3 for row in found.rows.values())


def test_the_rows_are_the_circuits_rankings(planted):
    """Equivalence: each row is interp.circuits' ranking, as numbers."""
    found = unit_connections(planted, "mixed4c:447", top=4)
    for key, edges in (
        ("in_excite", strongest_inputs(planted, "mixed4c:447", top=4)),
        ("out_inhibit", strongest_outputs(planted, "mixed4c:447", top=4, by="inhibit")),
    ):
        far = [e.source if key.startswith("in") else e.target for e in edges]
        assert [c.unit for c in found.rows[key]] == [str(u) for u in far]
        assert [(c.rank, c.of) for c in found.rows[key]] == [(e.rank, e.of) for e in edges]
        for connection, e in zip(found.rows[key], edges):
            np.testing.assert_array_equal(connection.kernel, e.kernel.numpy())
            assert connection.excitation == e.excitation and connection.inhibition == e.inhibition


def test_a_claimed_edge_is_ranked_among_all_the_inputs_of_its_target(planted):
    edges = ((Unit("mixed4b", 9), Unit("mixed4c", 447)), (Unit("mixed3a", 0), Unit("mixed3b", 0)))
    circuit = Circuit("Planted", edges, "4b:9 inhibits 4c:447", "a test")
    found = unit_connections(planted, "mixed4c:447", top=2, circuits=[circuit])
    (claimed,) = found.claimed  # the edge that does not touch 4c:447 is left out
    assert (claimed.source, claimed.target, claimed.circuit, claimed.reference) == (
        "mixed4b:9",
        "mixed4c:447",
        "Planted",
        "a test",
    )
    # by inhibition it is first; by excitation it ties at 0 with 510 others, and ties keep channel order:
    # 4b:7 (650) first, then 4b:0-6, 4b:8, then 4b:9
    assert (claimed.inhibit_rank, claimed.rank, claimed.of) == (1, 10, 512)
    assert claimed.inhibition == pytest.approx(-325.0)
    assert list(found.circuits()) == ["Planted"]


def test_the_first_layer_has_no_inputs_and_a_class_no_outputs_and_classes_are_named(planted):
    first = unit_connections(planted, "conv2d0:3", top=2)
    assert list(first.rows) == ["out_excite", "out_inhibit"]
    last = unit_connections(planted, "mixed5b:10", top=3, name=lambda i: f"class {i}")
    assert all(
        c.unit.startswith("logits:") and c.label == f"class {c.unit.split(':')[1]}" for c in last.rows["out_excite"]
    )
    assert all(int(c.unit.split(":")[1]) in REAL_LOGITS for c in last.rows["out_excite"])
    klass = unit_connections(planted, "logits:41", top=2)
    assert list(klass.rows) == ["in_excite", "in_inhibit"] and klass.rows["in_excite"][0].unit.startswith("mixed5b:")


def test_one_colour_scale_and_each_linked_unit_once():
    def connection(unit: str, peak: float) -> Connection:
        return Connection(unit, None, 1, 8, peak, 0.0, np.array([[0.0, -peak], [peak / 2, 0.0]]))

    found = Connections(
        "mixed3b:1",
        {
            "in_excite": [connection("mixed3a:4", 2.0), connection("mixed3a:5", 0.5)],
            "out_excite": [
                connection("mixed4a:9", 7.5),
                Connection("logits:12", "cat", 1, 8, 3.0, 0.0, np.array([[3.0]])),
            ],
        },
        [ClaimedEdge("mixed3a:4", "mixed3b:1", 1, 2, 8, 1.0, -1.0, np.array([[-9.0]]), "c", "claim", "ref")],
    )
    assert found.scale() == 9.0  # the claimed edge's -9 is the largest size
    assert found.linked_units() == [Unit("mixed3a", 4), Unit("mixed3a", 5), Unit("mixed4a", 9)]
