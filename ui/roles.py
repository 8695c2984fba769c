"""The story's characters in words: role placeholders in the content files, and labels for pickers.

No Streamlit and no PyTorch here (chapters are parsed before PyTorch loads). The roles themselves are measured
by ``interp.story.roles`` (``interp/data/roles.json``); this module only says them.

Placeholders, in chapter narration and notes, ``assets/microscope.md`` and the tour's blurbs::

    {role:car-detector}          mixed4c:278 (the car detector in these weights, [found by measurement](...);
                                 the articles' 4c:447)
    {role:car-detector:unit}     mixed4c:278
    {role:car-detector:link}     [mixed4c:278](microscope?unit=mixed4c:278)
    {role:car-detector:article}  4c:447 (the article's number; "none" when it names no single unit)
    {role:car-detector:title}    car detector
    {role:car-detector:auc}      0.99 (any figure of the role's evidence, as measured)
    {role:polysemantic:kinds}    device or tool and dog (the kinds of its photo groups, as measured)
"""

from __future__ import annotations

import re
from collections.abc import Callable

from interp.errors import InterpError
from interp.network.layers import Unit, parse_unit
from interp.story.roles import (
    SPEC_IDS,
    Role,
    load_roles,
    roles_named_for,
    roles_played_by,
    spec,
)

PLACEHOLDER = re.compile(r"\{role:([a-z][a-z-]*)(?::([A-Za-z_]+))?\}")
MICROSCOPE_PATH = "microscope"  # the Microscope's URL path: ui.tour's Microscope stop, and where role links point


class RoleTextError(ValueError):
    """A content file names a role or a field that does not exist."""


def short(unit: Unit | str | None) -> str:
    """The articles' short name: mixed4c:447 -> 4c:447 (other layers keep their name)."""
    if unit is None:
        return "none"
    return str(unit).removeprefix("mixed")


def unit_link(unit: Unit | str) -> str:
    """A Markdown link to the unit's Microscope page."""
    return f"[{unit}]({MICROSCOPE_PATH}?unit={unit})"


ROLES_MISSING = (
    "The list of the story's characters could not be read, so this part cannot say which units play "
    'them. This copy of the app is incomplete: the README ("The story\'s characters") says how to '
    "rebuild it."
)


def roles_or_none() -> tuple[Role, ...] | None:
    try:
        return load_roles()
    except InterpError:
        return None


def find(role_id: str) -> Role | None:
    roles = roles_or_none()
    return next((r for r in roles if r.id == role_id), None) if roles else None


def describe(role: Role, link: bool = True) -> str:
    """The unit that plays the role, what it plays, and the article's number where it differs."""
    name = unit_link(role.unit) if link else str(role.unit)
    if role.agrees:
        return f"{name} (the {role.name}, as in the articles)"
    if role.article_unit is None:
        return f"{name} (the {role.name} in these weights)"
    return f"{name} (the {role.name} in these weights; the articles' {short(role.article_unit)})"


def _field(role_id: str, name: str | None, source: str) -> str:
    if role_id not in SPEC_IDS:
        raise RoleTextError(f"{source}: there is no role '{role_id}' (roles: {', '.join(SPEC_IDS)}).")
    role = find(role_id)
    if role is None:  # the catalogue cannot be read: say the article's number, and no more
        article = spec(role_id).article_unit
        return f"{article or spec(role_id).title} (the roles catalogue could not be read)"
    if name is None:
        return describe(role)
    if name == "unit":
        return str(role.unit)
    if name == "link":
        return unit_link(role.unit)
    if name == "article":
        return short(role.article_unit)
    if name == "title":
        return role.name
    if name in role.evidence:
        return format_value(role.evidence[name])
    if name == "kinds" and kinds_named(role.evidence.get("groups")):
        return kinds_named(role.evidence["groups"])
    raise RoleTextError(
        f"{source}: the role '{role_id}' has no field '{name}' (unit, link, article, title, kinds, or one "
        f"of its figures: {', '.join(sorted(role.evidence))})."
    )


def expand_roles(text: str, source: str = "<text>") -> str:
    """Replace every ``{role:...}`` placeholder in ``text`` (see the module's docstring)."""
    return PLACEHOLDER.sub(lambda m: _field(m.group(1), m.group(2), source), text)


def format_value(value) -> str:
    """A figure of a role's evidence for people: groups of photos as "6 dog (Afghan hound, ...)", lists joined."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list) and value and isinstance(value[0], list) and len(value[0]) == 3:
        return "; ".join(
            f"{n} {name} ({', '.join(labels[:3])}{', ...' if len(labels) > 3 else ''})" for name, n, labels in value
        )
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def fill(template: str, fields: dict) -> str:
    """``{name}`` fields of a content template filled from ``fields`` (unknown names are left as they are)."""
    return re.sub(
        r"\{(\w+)\}", lambda m: format_value(fields[m.group(1)]) if m.group(1) in fields else m.group(0), template
    )


def kinds_named(groups) -> str | None:
    """The kinds of thing of a role's photo groups, in words: ``[["device or tool", 5, [...]], ["dog", 5, [...]]]``
    -> "device or tool and dog" (None when the evidence has no groups)."""
    if not (isinstance(groups, list) and groups and all(isinstance(g, list) and len(g) == 3 for g in groups)):
        return None
    names = [str(name) for name, _, _ in groups]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def role_fields(role: Role) -> dict:
    """Everything a template may name: the evidence, the kinds of its photo groups (``kinds``) when it has
    groups, and the role's own words."""
    kinds = kinds_named(role.evidence.get("groups"))
    return {
        **role.evidence,
        **({"kinds": kinds} if kinds else {}),
        "unit": str(role.unit),
        "unit_link": unit_link(role.unit),
        "title": role.spec.title,
        "role": role.name,
        "article": short(role.article_unit),
        "article_full": str(role.article_unit) if role.article_unit else "none",
        "method": role.spec.method,
        "claim": role.spec.claim,
        "source": role.spec.source,
        "layer": role.unit.layer,
    }


def templates(section: str) -> dict[str, str]:
    """``- key: text`` lines of a content section as a dict."""
    return dict(re.findall(r"^- ([\w-]+): (.+)$", section, flags=re.MULTILINE))


# -- pickers ------------------------------------------------------------------------------------------------------


def role_label(role: Role) -> str:
    """Car detector (mixed4c:278 here; the article's 4c:447)."""
    if role.agrees:
        return f"{role.spec.title} ({role.unit}, as in the article)"
    if role.article_unit is None:
        return f"{role.spec.title} ({role.unit} here)"
    return f"{role.spec.title} ({role.unit} here; the article's {short(role.article_unit)})"


def unit_options(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Units for a picker: those that play the story's roles first, then ``extra`` (without repeats)."""
    roles = roles_or_none() or ()
    return list(dict.fromkeys([str(r.unit) for r in roles] + list(extra)))


def _roles_of(unit_text: str) -> tuple[Unit, list[Role], list[Role]] | None:
    """A unit name's unit, the roles it plays here, and the roles the articles give it; None if it is no unit."""
    try:
        unit = parse_unit(unit_text)
    except InterpError:
        return None
    roles = roles_or_none() or ()
    return unit, roles_played_by(unit, roles), roles_named_for(unit, roles)


def option_label(unit_text: str, meaning: Callable[[Unit], str | None] | None = None) -> str:
    """A picker's label for a unit: the role it plays here; or, for an article's number that does not play its
    role here, who does; else what the articles say (``meaning``)."""
    found = _roles_of(unit_text)
    if found is None:
        return unit_text
    unit, plays, named = found
    if plays:
        return " · ".join(role_label(r) for r in plays)
    if named:
        r = named[0]
        return f"{unit} · the articles' {r.name} (here: {r.unit})"
    said = meaning(unit) if meaning else None
    return f"{unit} · the articles: {said}" if said else str(unit)


def short_option_label(unit_text: str) -> str:
    """A unit picker's label short enough for a narrow column: "Car detector · 4c:278" for a unit that plays a
    role here, "4c:447 · the articles' car detector" for an article's number whose role another unit plays, else
    the unit's short name."""
    found = _roles_of(unit_text)
    if found is None:
        return unit_text
    unit, plays, named = found
    if plays:
        return " · ".join(r.spec.title for r in plays) + f" · {short(unit)}"
    if named:
        return f"{short(unit)} · the articles' {named[0].name}"
    return short(unit)


def gloss(unit: Unit, meaning: str | None) -> str | None:
    """A few words on a unit for a card or a tooltip: the role it plays here; for an article's number whose role
    is played by another unit here, the articles' word and who plays it; else what the articles say
    (``meaning``), marked as theirs."""
    roles = roles_or_none() or ()
    plays = roles_played_by(unit, roles)
    if plays:
        return "; ".join(f"the {r.name} here" for r in plays)
    named = roles_named_for(unit, roles)
    if named:
        r = named[0]
        return f"the articles' {r.name} (here: {short(r.unit)})"
    return f"the articles: {meaning}" if meaning else None
