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
    {role:car-detector:ablation.photos.mean|pct}
                                 51% (a figure inside the evidence, by its dotted path, with a format:
                                 ``pct`` a share as a percentage, ``int`` a whole number, ``r2`` two decimals)
"""

from __future__ import annotations

import re
from collections.abc import Callable

from interp.errors import InterpError
from interp.network.layers import Unit, parse_unit
from interp.story.purity import TOP
from interp.story.roles import (
    SPEC_IDS,
    Role,
    load_roles,
    roles_named_for,
    roles_played_by,
    spec,
)

PLACEHOLDER = re.compile(r"\{role:([a-z][a-z-]*)(?::([A-Za-z_][\w.]*)(?:\|([a-z0-9]+))?)?\}")
FORMATS = {
    "pct": lambda v: f"{float(v):.0%}",
    "int": lambda v: f"{round(float(v)):,}",
    "r2": lambda v: f"{float(v):.2f}",
}
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


def evidence_at(evidence: dict, path: str):
    """A figure of a role's evidence by its dotted path (``ablation.photos.mean``, ``passed_over.0.unit``: a number
    picks from a list); KeyError if there is none."""
    value = evidence
    for key in path.split("."):
        if isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        elif isinstance(value, dict) and key in value:
            value = value[key]
        else:
            raise KeyError(path)
    return value


def _field(role_id: str, name: str | None, source: str, form: str | None = None) -> str:
    if role_id not in SPEC_IDS:
        raise RoleTextError(f"{source}: there is no role '{role_id}' (roles: {', '.join(SPEC_IDS)}).")
    if form is not None and form not in FORMATS:
        raise RoleTextError(f"{source}: unknown format '|{form}' for role '{role_id}' (formats: {', '.join(FORMATS)}).")
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
    if name == "kinds" and kinds_named(role.evidence.get("groups")):
        return kinds_named(role.evidence["groups"])
    try:
        value = evidence_at(role.evidence, name)
    except KeyError:
        raise RoleTextError(
            f"{source}: the role '{role_id}' has no field '{name}' (unit, link, article, title, kinds, or one "
            f"of its figures, by dotted path: {', '.join(sorted(role.evidence))})."
        ) from None
    if form is not None:
        try:
            return FORMATS[form](value)
        except (TypeError, ValueError):
            raise RoleTextError(f"{source}: '{role_id}:{name}' is not a number for '|{form}'.") from None
    return format_value(value)


def expand_roles(text: str, source: str = "<text>") -> str:
    """Replace every ``{role:...}`` placeholder in ``text`` (see the module's docstring)."""
    return PLACEHOLDER.sub(lambda m: _field(m.group(1), m.group(2), source, m.group(3)), text)


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


# -- the evidence behind a role, in words and small tables (the Microscope's role cards) ---------------------------

RUNNER_COLUMNS = {  # a runner-up's figures, in plain words (only the ones the catalogue has are shown)
    "unit": "unit",
    "selection": "where chosen",
    "held_out": "held out",
    "groups_held_out": "its groups, held out",
    "mirror_held_out": "mirror r, held out",
    "dog_auc_held_out": "dog AUC, held out",
    "map_mirror_r_selection": "mirror r, where chosen",
    "map_mirror_r_held_out": "mirror r, held out",
    "left_rank": "left-facing input's rank",
    "right_rank": "right-facing input's rank",
    "weights_mirror_r": "weight maps r, one flipped",
    "weights_plain_r": "weight maps r, as they are",
    "fed_by_mirror_pair": "fed by the pair",
}
PASSED_COLUMNS = {
    "unit": "unit",
    "strength_rank": "strength rank",
    "car_auc_selection": "car AUC where chosen",
    "car_auc_held_out": "car AUC held out",
    "top12_vehicles": "vehicles in its top 12",
    "why": "why not named",
}


def _pct(value) -> str:
    """A share as a percentage, with a decimal where it is under 1% (0.002 -> "0.2%", 0 -> "0%")."""
    value = float(value)
    return f"{value:.1%}" if 0 < value < 0.01 else f"{value:.0%}"


def _word(value) -> str:
    """A table cell: yes/no for a truth value, thousands marks for a count, else as ``format_value`` says it."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return format_value(value)


def _rows(entries, columns: dict[str, str]) -> list[dict]:
    """Table rows from a list of dicts, with only ``columns``' keys (renamed) and in their order."""
    keys = [k for k in columns if any(k in e for e in entries)]
    return [{columns[k]: _word(e.get(k, "")) for k in keys} for e in entries]


def evidence_parts(role: Role, text: dict[str, str]) -> list[tuple[str, object]]:
    """What a role's card says of its evidence beyond the headline figure, in order: ``("md", markdown)`` lines and
    ``("table", rows)`` tables. ``text`` is the Microscope's "Role evidence" templates. Every figure comes from the
    roles catalogue (``interp.story.find_roles`` measured it); a role from an older catalogue yields fewer parts."""
    ev = role.evidence
    parts: list[tuple[str, object]] = []
    for key in ("verdict", "described_as"):
        if ev.get(key):
            parts.append(("md", fill(text.get(key, ""), {key: str(ev[key]).rstrip(".")})))
    held = role.held_out or {}
    if held:
        parts.append(("md", fill(text.get("held_out", ""), held)))
        parts += [("md", "- " + fill(text.get("held_also", ""), also)) for also in held.get("also", [])]
    rate = role.base_rate or {}

    def rate_fields(r: dict) -> dict:
        return {"counted": "units", **r, "of": _word(r["of"]), "share": _pct(r["share"])}

    if rate:
        parts.append(("md", fill(text.get("base_rate", ""), rate_fields(rate))))
        for also in rate.get("also", []):
            if {"median", "of", "reaching"} <= set(also):
                line = fill(text.get("base_rate", ""), rate_fields(also))
                parts.append(("md", "- " + line.split("** ", 1)[-1]))
    if role.runners_up:
        parts.append(("md", text.get("runners_up", "")))
        parts.append(("table", _rows(role.runners_up, RUNNER_COLUMNS)))
    sets = ev.get("label_sets")
    if isinstance(sets, dict) and sets:
        parts.append(("md", text.get("label_sets", "")))
        parts.append(
            (
                "table",
                [
                    {
                        "photos of": s["label"],
                        "photos": s["photos"],
                        "AUC held out": s["auc_held_out"],
                        "its rank, all photos": s["rank_all"],
                        "the leader": f"{s['leader_all']} ({s['leader_auc_all']})",
                    }
                    for s in sets.values()
                ],
            )
        )
    leader = ev.get("overall_leader")
    if isinstance(leader, dict) and leader.get("unit") != str(role.unit):
        parts.append(("md", fill(text.get("leader", ""), leader)))
    logit = ev.get("logit_ablation")
    if isinstance(logit, dict) and logit.get("units"):
        best = max(logit["units"], key=logit["units"].get)
        base = logit.get("base_rate", {})
        parts.append(
            (
                "md",
                fill(
                    text.get("logit", ""),
                    {
                        "drop": f"{logit['drop']:+.3f}",
                        "photos": logit["photos"],
                        "of": base.get("of", "?"),
                        "reaching": base.get("reaching", "?"),
                        "leader": best,
                        "leader_drop": f"{logit['units'][best]:+.3f}",
                    },
                ),
            )
        )
    ablation = ev.get("ablation")
    if isinstance(ablation, dict) and ablation.get("matched"):
        m, p = ablation["matched"], ablation["photos"]
        fields = {
            "verb": ablation["verb"],
            "before": f"{ablation['before']:.0f}",
            "after": f"{ablation['after']:.0f}",
            "matched_median": f"{m['median']:.0f}",
            "matched_low": f"{m['low']:.0f}",
            "as_low": m["as_low"],
            "draws": m["n"],
            "n": p["n"],
            "mean": _pct(p["mean"]),
            "sd": _pct(p["sd"]),
            "rank_after": ablation["rank_after"],
            "of": f"{ablation['of']:,}",
        }
        parts.append(("md", fill(text.get("ablation", ""), fields)))
    passed = ev.get("passed_over")
    if passed:
        parts.append(("md", text.get("passed_over", "")))
        parts.append(("table", _rows(passed, PASSED_COLUMNS)))
    robust = ev.get("robustness")
    if isinstance(robust, dict) and "top12_bilinear" in robust:
        line = fill(text.get("robustness", ""), {**robust, "top": TOP})
        choice = robust.get("choice")
        if choice:
            moves = {k: v for k, v in choice.items() if v != str(role.unit)}
            line += " " + (
                text.get("choice_holds", "")
                if not moves
                else fill(text.get("choice_moves", ""), {"moves": ", ".join(f"{k}: {v}" for k, v in moves.items())})
            )
        parts.append(("md", line))
    return parts


def evidence_summary(role: Role, text: dict[str, str]) -> str | None:
    """One line for a role's card on the Microscope's landing page: the held-out figure, how many units of the
    layer reach it (by the same measure where the catalogue has its base rate, else naming the measure), and the
    first runner-up (None for a role from an older catalogue)."""
    held, rate = role.held_out, role.base_rate
    if not held or not rate:
        return None
    rates = [rate, *[r for r in rate.get("also", []) if {"of", "reaching", "at"} <= set(r)]]
    same = next((r for r in rates if r["at"] == held["held_out"]), None)
    chosen = same or rate
    runner = role.runners_up[0] if role.runners_up else {"unit": "none", "held_out": "-"}
    return fill(
        text.get("summary", ""),
        {
            **held,
            "rate_of": _word(chosen["of"]),
            "counted": chosen.get("counted", "units"),
            "reaching": _word(chosen["reaching"]),
            "at": chosen["at"],
            "rate_measure": "" if same else f" by {chosen['measure']}",
            "runner": runner["unit"],
            "runner_held": _word(runner.get("held_out", runner.get("dog_auc_held_out", "-"))),
        },
    )
