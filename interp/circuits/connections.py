"""A unit's connections as the Microscope's unit page shows them: the strongest expanded weights into it and
out of it (by excitation and by inhibition), and the articles' circuit edges through it, each ranked among
all the alternatives in these weights.

    from interp.circuits.connections import unit_connections
    found = unit_connections(model, "mixed4c:447", top=6, circuits=load_catalogue().circuits, name=labels.name)
    found.rows["in_excite"][0].unit      # the unit of mixed4b that excites it most
    found.scale()                        # one colour scale for every weight map of the page

The ranking itself is :mod:`interp.circuits`'; this module only gathers what one page needs, as plain numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from interp.circuits import CHAIN, Edge, block_unit, edge, strongest_inputs, strongest_outputs
from interp.network.layers import MAIN_LAYERS, Unit, parse_unit

# The rows of the page, in order: (key, direction, ranking). A unit of the first layer has no inputs shown,
# a class no outputs.
ROWS = (
    ("in_excite", "in", "excite"),
    ("in_inhibit", "in", "inhibit"),
    ("out_excite", "out", "excite"),
    ("out_inhibit", "out", "inhibit"),
)


@dataclass(frozen=True)
class Connection:
    """One edge seen from the page's unit: the unit at the other end, its rank among all the edges ranked
    (1 = strongest), the sums of the positive and of the negative weights, and the k x k weight map."""

    unit: str  # the unit at the other end (for a class: logits:N)
    label: str | None  # a class's name (None for units: they have pages of their own)
    rank: int
    of: int
    excitation: float
    inhibition: float
    kernel: np.ndarray


@dataclass(frozen=True)
class ClaimedEdge:
    """An edge an article's circuit claims, ranked here among all the inputs of its target."""

    source: str
    target: str
    rank: int  # by excitation
    inhibit_rank: int  # by inhibition
    of: int
    excitation: float
    inhibition: float
    kernel: np.ndarray
    circuit: str  # the circuit's name
    claim: str  # what the articles say it does
    reference: str  # where they say it


@dataclass(frozen=True)
class Connections:
    unit: str
    rows: dict[str, list[Connection]]  # keys from ROWS, those the unit has
    claimed: list[ClaimedEdge] = field(default_factory=list)

    def scale(self) -> float:
        """The largest |weight| of every map of the page: one colour scale for them all (0 with no maps)."""
        kernels = [c.kernel for row in self.rows.values() for c in row] + [c.kernel for c in self.claimed]
        return max((float(np.abs(k).max()) for k in kernels if k.size), default=0.0)

    def linked_units(self) -> list[Unit]:
        """The units the page shows pictures of (every row, then the claimed edges' sources), each once, in
        order; classes left out (they have no picture)."""
        names = [c.unit for row in self.rows.values() for c in row] + [c.source for c in self.claimed]
        return [parse_unit(n) for n in dict.fromkeys(names) if not n.startswith("logits")]

    def circuits(self) -> dict[str, list[ClaimedEdge]]:
        """The claimed edges grouped by circuit, circuits in the order first met."""
        grouped: dict[str, list[ClaimedEdge]] = {}
        for claimed in self.claimed:
            grouped.setdefault(claimed.circuit, []).append(claimed)
        return grouped


def unit_connections(
    model: nn.Module,
    unit: Unit | str,
    *,
    top: int = 6,
    circuits: Iterable = (),
    name: Callable[[int], str] | None = None,
) -> Connections:
    """What feeds ``unit`` and what it feeds, ``top`` of each ranking, and the edges of ``circuits`` (the
    catalogue's :class:`interp.story.catalogue.Circuit`) that touch it. A branch's unit is its block's
    (mixed4c_5x5:63 is mixed4c:447). ``name`` gives a class its name (``Labels.name``)."""
    here = block_unit(unit)

    def connection(found: Edge, far: Unit) -> Connection:
        label = name(far.channel) if (name is not None and far.layer == "logits") else None
        return Connection(
            str(far), label, found.rank, found.of, found.excitation, found.inhibition, found.kernel.numpy()
        )

    rows: dict[str, list[Connection]] = {}
    for key, direction, by in ROWS:
        if direction == "in" and here.layer != MAIN_LAYERS[0]:
            rows[key] = [connection(e, e.source) for e in strongest_inputs(model, here, top=top, by=by)]
        elif direction == "out" and here.layer != CHAIN[-1]:
            rows[key] = [connection(e, e.target) for e in strongest_outputs(model, here, top=top, by=by)]
    claimed = []
    for circuit in circuits:
        for source, end in circuit.edges:
            if here in (source, end):
                excite, inhibit = edge(model, source, end), edge(model, source, end, by="inhibit")
                claimed.append(
                    ClaimedEdge(
                        str(source),
                        str(end),
                        excite.rank,
                        inhibit.rank,
                        excite.of,
                        excite.excitation,
                        excite.inhibition,
                        excite.kernel.numpy(),
                        circuit.name,
                        circuit.claim,
                        circuit.source,
                    )
                )
    return Connections(str(here), rows, claimed)
