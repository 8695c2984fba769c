"""What the Distill circuits thread says about particular units: the one catalogue of named units.

Facts only (meaning, family, article); every picture and weight is computed from the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from interp.network.layers import Unit, parse_unit
from interp.paths import DATA_DIR

CATALOGUE_FILE = DATA_DIR / "units.json"


@dataclass(frozen=True)
class UnitNote:
    unit: Unit
    what: str
    source: str  # article title
    observed: str = ""  # what WE saw with these weights, where it differs from the article


@dataclass(frozen=True)
class Family:
    layer: str
    name: str
    channels: tuple[int, ...]
    note: str
    source: str


@dataclass(frozen=True)
class Circuit:
    name: str
    edges: tuple[tuple[Unit, Unit], ...]
    claim: str
    source: str


@dataclass(frozen=True)
class Catalogue:
    units: tuple[UnitNote, ...]
    families: tuple[Family, ...]
    circuits: tuple[Circuit, ...]

    def note(self, unit: Unit) -> UnitNote | None:
        return next((n for n in self.units if n.unit == unit), None)

    def family_of(self, unit: Unit) -> Family | None:
        return next((f for f in self.families if f.layer == unit.layer and unit.channel in f.channels), None)

    def meaning(self, unit: Unit) -> str | None:
        """In a few words, what the articles say the unit is: its own note, else its family's name."""
        note, family = self.note(unit), self.family_of(unit)
        return note.what if note else (family.name if family else None)

    def families_in(self, layer: str) -> list[Family]:
        return [f for f in self.families if f.layer == layer]


@lru_cache(maxsize=1)
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    sources = raw["sources"]

    def cite(keys: str) -> str:
        return "; ".join(sources.get(key.strip(), key.strip()) for key in keys.split(","))

    units = tuple(
        UnitNote(parse_unit(u["unit"]), u["what"], cite(u["source"]), u.get("observed", "")) for u in raw["units"]
    )
    families = tuple(
        Family(f["layer"], f["name"], tuple(f["channels"]), f.get("note", ""), cite(f["source"]))
        for f in raw["families"]
    )
    circuits = tuple(
        Circuit(c["name"], tuple((parse_unit(a), parse_unit(b)) for a, b in c["edges"]), c["claim"], cite(c["source"]))
        for c in raw["circuits"]
    )
    return Catalogue(units, families, circuits)
