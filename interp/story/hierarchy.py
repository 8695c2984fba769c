"""Which broad kind of thing each ImageNet class is: the one grouping of the classes, from WordNet 3.0.

ImageNet's classes are WordNet 3.0 nouns, so WordNet's hypernyms group them (``interp/data/imagenet_hierarchy.json``,
derived by ``tools/make_hierarchy.py``; source and licence are in that file). ``GROUPS`` picks 18 broad
ancestors, in priority order: a class belongs to the first group among its ancestors (a sports car is a
"wheeled vehicle" and, in WordNet, also a "container": it counts as a vehicle). Two classes are *related* when
they share a group; two groups are *unrelated* when they are different ``KINDS`` (animal, artefact, nature or
food): dogs and other mammals are related, dogs and clocks are not. Used to call a unit's top photos one kind of
thing or several (the polysemantic role).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from functools import cache, lru_cache

from interp.paths import DATA_DIR

HIERARCHY_FILE = DATA_DIR / "imagenet_hierarchy.json"

# (group, WordNet synsets that define it), in priority order; the last group takes every class left over.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("dog", ("n02084071",)),
    ("cat", ("n02120997",)),  # feline: domestic and wild cats
    ("other mammal", ("n01861778",)),
    ("bird", ("n01503061",)),
    ("reptile or amphibian", ("n01661091", "n01627424")),
    ("fish", ("n02512053",)),
    ("invertebrate", ("n01905661",)),
    ("vehicle", ("n03100490",)),  # conveyance: cars, trucks, boats, aircraft, trains, carts
    ("food", ("n00021265", "n07555863", "n07707451")),
    ("plant or fungus", ("n00017222", "n12992868", "n13086908")),
    ("landscape", ("n09287968", "n00019128")),  # geological formations and other natural objects
    ("clothing", ("n03051540", "n03122748")),  # clothing and other coverings
    ("structure", ("n04341686",)),  # buildings, bridges, fences
    ("musical instrument", ("n03800933",)),
    ("furniture", ("n03405725", "n03405265")),
    ("container", ("n03094503",)),
    ("device or tool", ("n03183080", "n03563967", "n03294048", "n04451818", "n02729837")),  # with appliances
    ("other", ()),
)
GROUP_NAMES: tuple[str, ...] = tuple(name for name, _ in GROUPS)
# The coarsest level: two groups are *unrelated* when they sit in different kinds here.
KINDS: dict[str, str] = {
    **dict.fromkeys(("dog", "cat", "other mammal", "bird", "reptile or amphibian", "fish", "invertebrate"), "animal"),
    **dict.fromkeys(("food", "plant or fungus", "landscape"), "nature or food"),
    **dict.fromkeys(
        ("vehicle", "clothing", "structure", "musical instrument", "furniture", "container", "device or tool", "other"),
        "artefact",
    ),
}
assert set(KINDS) == set(GROUP_NAMES)


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(HIERARCHY_FILE.read_text(encoding="utf-8"))


def source() -> str:
    """The citation of the hierarchy (for pages that use the grouping)."""
    return _data()["source"]


def ancestors(synset: str) -> frozenset[str]:
    """Every WordNet hypernym of one class (not the class itself): ``n04285008`` (sports car) holds ``n02958343``
    (car) and ``n03791235`` (motor vehicle)."""
    return frozenset(_data()["ancestors"][synset])


@cache
def group_of(synset: str) -> str:
    """The broad group of one class (``n02110341`` -> ``dog``)."""
    ancestry = {synset, *_data()["ancestors"][synset]}
    for name, members in GROUPS:
        if ancestry & set(members):
            return name
    return GROUPS[-1][0]


def group_counts(synsets: Iterable[str]) -> list[tuple[str, int]]:
    """How many of ``synsets`` fall into each group, largest first."""
    return Counter(group_of(s) for s in synsets).most_common()


def unrelated(group: str, other: str) -> bool:
    """True when two groups are different kinds of thing (an animal and an artefact, say)."""
    return KINDS[group] != KINDS[other]
