"""The story's characters, found in these weights: the one catalogue of roles, as the app reads it.

The articles name units of *their* copy of InceptionV1 (the car detector 4c:447, dog heads, the polysemantic
4e:55). Measured, those numbers are a starting point, not facts about the weights this project runs
(shared/specs/weights-and-units.md): the curve detectors agree, the car detector does not. So each role is
*found* here by a stated measurement, and the catalogue keeps the article's claim and number beside the unit
that plays the role in these weights and the figures that chose it.

* ``SPECS`` (below) is what is written by hand: the role, the article's claim and number, how it is found.
* ``interp.story.find_roles`` measures every role from the model, the atlas of dataset examples and drawn
  stimuli; ``tools/find_roles.py`` writes the result to ``interp/data/roles.json``; nothing in it is typed by hand.
* :func:`load_roles` reads that file (no model, no PyTorch): the app and ``python -m interp roles`` use it, and
  :func:`roles_played_by`, :func:`roles_named_for` and :func:`parts_of` are the one way to ask it about a unit.
  ``$INTERP_ROLES_FILE`` points it at another catalogue (a candidate, to see it before it is installed).
* Each role's evidence says how far the choice holds (``interp.story.evidence``): :attr:`Role.held_out` (the
  criterion on evidence it was not chosen on), :attr:`Role.base_rate` (how common that figure is in the layer)
  and :attr:`Role.runners_up` (the next units). A catalogue written before these were measured has none of them:
  the properties are then None and an empty list.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from interp.errors import InterpError
from interp.network.layers import Unit, parse_unit
from interp.paths import DATA_DIR
from interp.story.purity import TOP

ROLES_FILE = DATA_DIR / "roles.json"
ROLES_FILE_ENV = "INTERP_ROLES_FILE"  # read this catalogue instead (a candidate): see roles_file()

# What the specs' methods name (interp.story.find_roles applies them; the app shows them).
# The photos that count as "a car" (ImageNet's cars, and the parts of one that fill a whole photo).
CAR_CLASSES = (
    "ambulance",
    "beach wagon",
    "cab",
    "convertible",
    "jeep",
    "limousine",
    "minivan",
    "Model T",
    "racer",
    "sports car",
    "grille",
    "car wheel",
    "pickup",
    "police van",
)
CAR_PART_MIN_AUC = 0.85  # a car part is itself car-selective
# The unit they merge into answers to heads in any pose, other animals' included, so it is held to a lower bar.
MERGED_MIN_AUC = 0.8
FLIP_INVARIANT = 0.9  # a pose-invariant unit: its response to a photo and to its mirror image correlate this well
CURVE_ANGLES = tuple(range(0, 360, 15))  # the curve roles' drawn arcs: 24 orientations (interp.dataset.stimuli.arcs)
POLYSEMANTIC_TOP = TOP  # a unit's top photos looked at for unrelated groups (interp.story.purity)
POLYSEMANTIC_MAX_EDGE = 0.5  # at most this share of its 100 strongest photos may peak on its grid's border
_CANDIDATES = (
    "among the car detector's inputs in its top tenth by expanded-weight strength, those that are "
    f"car-selective (AUC >= {CAR_PART_MIN_AUC} on the selection half of the photos; each part's own AUCs are "
    "reported on the held-out half, with where it fires around the detector's peak on the car photos)"
)


@dataclass(frozen=True)
class RoleSpec:
    """A character of the story as the articles describe it, and how this project finds it."""

    id: str
    title: str
    layer: str
    article_unit: str | None  # the article's number, if it names one unit for the role
    claim: str  # what the article says
    source: str  # which article
    method: str  # how the unit is found here, for people


SPECS: tuple[RoleSpec, ...] = (
    RoleSpec(
        "curve-detector",
        "Curve detector",
        "mixed3b",
        "mixed3b:379",
        "detects curves of one orientation; a family of rotated copies fills mixed3b",
        "Curve Detectors (Distill 2020)",
        "orientation selectivity on drawn arcs of 24 orientations: the peak response at the centre over the mean "
        "across orientations, times the peak over the layer's median peak",
    ),
    RoleSpec(
        "high-low-frequency",
        "High-low frequency detector",
        "mixed3a",
        "mixed3a:110",
        "fires on a boundary with fine texture on one side and a flat area on the other",
        "High-Low Frequency Detectors (Distill 2021)",
        "response at a drawn boundary between fine texture and flat grey (8 orientations) over the response to "
        "texture everywhere or flat grey everywhere, times its strength over the layer's median",
    ),
    RoleSpec(
        "car-detector",
        "Car detector",
        "mixed4c",
        "mixed4c:447",
        "a car detector assembled from windows (top), car body and wheels (bottom) of mixed4b",
        "Zoom In (Distill 2020)",
        "among the units that read a window of mixed4b (its 3 x 3 and 5 x 5 branches), the best mean ROC AUC of "
        "the unit's maximum activation over three sets of car photos (the app's 14 car classes, WordNet's car, "
        "WordNet's motor vehicle), chosen on the selection half of the photos and reported on the held-out half; "
        "checked by switching it off and watching the car photos' own class logits",
    ),
    RoleSpec(
        "car-windows",
        "Car windows",
        "mixed4b",
        "mixed4b:237",
        "windows excite the car detector at the top of its field and inhibit it at the bottom",
        "Zoom In (Distill 2020)",
        f"{_CANDIDATES}: after the wheels, the most selective for photos of windowed vehicles",
    ),
    RoleSpec(
        "car-wheels",
        "Car wheels",
        "mixed4b",
        "mixed4b:373",
        "wheels excite the car detector at the bottom of its field and inhibit it at the top",
        "Zoom In (Distill 2020)",
        f"{_CANDIDATES}: chosen first, the most selective for photos of wheeled things other than cars",
    ),
    RoleSpec(
        "car-body",
        "Car body",
        "mixed4b",
        "mixed4b:491",
        "the car body excites the car detector, most at the bottom",
        "Zoom In (Distill 2020)",
        f"{_CANDIDATES}: after the wheels and the windows, the most car-selective",
    ),
    RoleSpec(
        "dog-head-left",
        "Dog head facing left",
        "mixed4b",
        None,
        "oriented dog-head units (the article's 4a:234 and 4a:308 into 4b:443, 4a:325 and 4a:222 into 4b:429) "
        "detect heads facing one way",
        "Zoom In (Distill 2020)",
        "the dog-selective pair of mixed4b whose activation maps mirror each other: one unit's map on a photo "
        "matches the other's on the photo's mirror image, flipped back, far better than the two match on the same "
        "photo (chosen on the selection half of the dog photos); the half that fires less on a right-facing "
        "reference dog",
    ),
    RoleSpec(
        "dog-head-right",
        "Dog head facing right",
        "mixed4b",
        None,
        "the mirror image of the left-facing unit",
        "Zoom In (Distill 2020)",
        "the other half of the mirror pair: it fires more on a right-facing reference dog than on its mirror image",
    ),
    RoleSpec(
        "dog-head",
        "Pose-invariant dog head",
        "mixed4c",
        "mixed4c:407",
        "left- and right-facing dog heads merge into a unit that answers to both",
        "Zoom In (Distill 2020)",
        f"a dog-selective unit of mixed4c (AUC >= {MERGED_MIN_AUC}) whose activation map on a photo matches its map "
        f"on the mirror image, flipped back (r >= {FLIP_INVARIANT}), both on the selection half of the dog photos, "
        "and fed most strongly by both halves of the mirror pair (the best worse rank of the two); reported on the "
        "held-out half, with the mirror-image weights of the pair into it",
    ),
    RoleSpec(
        "polysemantic",
        "Polysemantic unit",
        "mixed4e",
        "mixed4e:55",
        "responds to cat faces, fronts of cars and cat legs: unrelated things",
        "Zoom In (Distill 2020)",
        f"among each unit's top {POLYSEMANTIC_TOP} photos, the two largest groups of unrelated kinds of thing "
        "(WordNet groups, interp.story.hierarchy): the unit whose smaller group is largest, among the units that peak "
        f"inside the photo (no more than {POLYSEMANTIC_MAX_EDGE:.0%} of their 100 strongest photos on the grid's "
        "border), chosen on the selection half of the photos and reported on the held-out half",
    ),
)
SPEC_IDS = tuple(spec.id for spec in SPECS)


class RoleError(InterpError, KeyError):
    """No role has that id, or the catalogue file cannot be read."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class Role:
    spec: RoleSpec
    unit: Unit
    evidence: dict = field(hash=False, compare=False)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def article_unit(self) -> Unit | None:
        return parse_unit(self.spec.article_unit) if self.spec.article_unit else None

    @property
    def name(self) -> str:
        """The role in running text: "car detector"."""
        return self.spec.title[0].lower() + self.spec.title[1:]

    @property
    def agrees(self) -> bool | None:
        """Whether the article's number plays the role here (None when the article names no single unit)."""
        return None if self.article_unit is None else self.article_unit == self.unit

    @property
    def held_out(self) -> dict | None:
        """The role's figure on evidence it was not chosen on (``measure``, ``selection``, ``held_out``,
        ``held_out_rank`` of ``of``, ``split``), or None in a catalogue written before it was measured."""
        return self.evidence.get("held_out")

    @property
    def base_rate(self) -> dict | None:
        """How the criterion is spread over the units of the role's layer (``median``, and ``reaching`` of ``of``
        units at the chosen unit's figure ``at``), or None in an older catalogue."""
        return self.evidence.get("base_rate")

    @property
    def runners_up(self) -> list[dict]:
        """The next units by the same criterion (``unit``, ``selection``, ``held_out``), best first; empty in an
        older catalogue."""
        return list(self.evidence.get("runners_up") or [])

    def evidence_lines(self) -> list[str]:
        """The held-out figure, the base rate and the runners-up in words, one line each (none in an older
        catalogue)."""
        lines = []
        held = self.held_out
        if held:
            lines.append(
                f"held out: {held['measure']}: {held['selection']} where chosen, {held['held_out']} held out "
                f"(rank {held['held_out_rank']} of {held['of']})"
            )
        rate = self.base_rate
        if rate:
            lines.append(
                f"base rate: {rate['measure']}: median {rate['median']} over {rate['of']} "
                f"{rate.get('counted', 'units')}; {rate['reaching']} reach {rate['at']}"
            )
        if self.runners_up:
            lines.append(
                "runners-up: "
                + ", ".join(
                    f"{r['unit']} ({r['selection']}" + (f"; {r['held_out']} held out)" if "held_out" in r else ")")
                    for r in self.runners_up
                )
            )
        return lines

    def summary(self) -> str:
        """One line for people: who plays the role, and the article's number where it differs."""
        article = self.article_unit
        if article is None:
            return f"{self.spec.title}: {self.unit} in these weights"
        if self.agrees:
            return f"{self.spec.title}: {self.unit}, as in the article"
        return f"{self.spec.title}: {self.unit} in these weights (the article's {article} does not play it here)"

    def as_dict(self) -> dict:
        return {
            "role": self.id,
            "title": self.spec.title,
            "article_unit": self.spec.article_unit,
            "unit": str(self.unit),
            "agrees": self.agrees,
            "claim": self.spec.claim,
            "source": self.spec.source,
            "method": self.spec.method,
            "evidence": self.evidence,
            "held_out": self.held_out,
            "base_rate": self.base_rate,
            "runners_up": self.runners_up,
        }


def spec(role_id: str) -> RoleSpec:
    for s in SPECS:
        if s.id == role_id:
            return s
    raise RoleError(f"There is no role '{role_id}'. Roles: {', '.join(SPEC_IDS)}.")


def roles_file() -> Path:
    """The catalogue read: ``$INTERP_ROLES_FILE`` when set (a candidate, to see it in the app before it is
    installed), else the shipped ``interp/data/roles.json``."""
    return Path(os.environ.get(ROLES_FILE_ENV) or ROLES_FILE)


@lru_cache(maxsize=4)
def load_roles(path: str | os.PathLike | None = None) -> tuple[Role, ...]:
    """The roles as found by ``tools/find_roles.py``, in ``SPECS`` order, from ``path`` (default: ``roles_file()``,
    resolved on the first call of a process)."""
    path = Path(path) if path is not None else roles_file()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        found = {entry["role"]: entry for entry in raw["roles"]}
        return tuple(Role(s, parse_unit(found[s.id]["unit"]), found[s.id]["evidence"]) for s in SPECS)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise RoleError(
            f"The roles catalogue {path} cannot be read ({error}): rebuild it with `python tools/find_roles.py`."
        ) from None


def role(role_id: str) -> Role:
    spec(role_id)  # a clear error for an unknown id
    return next(r for r in load_roles() if r.id == role_id)


def roles_played_by(unit: Unit, roles: Sequence[Role] | None = None) -> list[Role]:
    """The roles ``unit`` plays in these weights (a branch's unit plays its block's), from ``roles`` (default:
    the catalogue)."""
    return [r for r in (load_roles() if roles is None else roles) if r.unit == unit.in_block]


def parts_of(unit: Unit, roles: Sequence[Role] | None = None) -> list[Role]:
    """The roles found as inputs of ``unit`` (the car parts of the car detector), from ``roles`` (default: the
    catalogue)."""
    return [r for r in (load_roles() if roles is None else roles) if r.evidence.get("into") == str(unit.in_block)]


def roles_named_for(unit: Unit, roles: Sequence[Role] | None = None, *, only_elsewhere: bool = False) -> list[Role]:
    """The roles the articles give ``unit``, whether or not it plays them here (``only_elsewhere``: only those
    another unit plays here), from ``roles`` (default: the catalogue)."""
    here = unit.in_block
    return [
        r
        for r in (load_roles() if roles is None else roles)
        if r.article_unit == here and not (only_elsewhere and r.unit == here)
    ]
