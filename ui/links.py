"""What a page reads from its link (``?step=convolution``, ``?unit=mixed3b:379``, ``?layer=mixed4e&page=5``), checked.

A link is typed, pasted and shortened by people, so any value may arrive: empty, unknown, huge, in any script,
given twice. Each page reads its own parameters through here; a value it cannot use gets a message that names
it and says what is shown instead, and the page goes on. The app's parameters that belong to another page are
said to be ignored (parameters that are not the app's, such as Streamlit's own, are left alone).

A value repeated back in a message is plain text (:func:`shown`: clipped, one line, as code): nothing in a link
can format a message, add a link or a colour to it, or break out of it. What a page can use from its link is said
once, in :func:`checked`: the stage keeps only that, and a presenter's window publishes only that.
"""

from __future__ import annotations

import re

import streamlit as st

from ui import plain

# The app's own link parameters, and where each belongs.
APP_PARAMETERS = {"step": "a chapter", "unit": "the Microscope", "layer": "the Microscope", "page": "the Microscope"}
LONGEST_SHOWN = 60  # characters of a value repeated back in a message


def value(name: str) -> str | None:
    """The link's value for ``name``, None when the link has none. Given more than once, the last one counts,
    and a message says so."""
    values = st.query_params.get_all(name)
    if not values:
        return None
    if len(set(values)) > 1:
        st.warning(f"The link gives **{name}** {len(values)} times; using the last one, {shown(values[-1])}.")
    return values[-1]


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\s]+")


def shown(text: str) -> str:
    """A value from the link as a message can show it: one line, clipped, and as code (``ui.plain.name``), so
    nothing in it is formatted."""
    line = _UNPRINTABLE.sub(" ", text).strip()
    if not line:
        return "an empty value"
    return plain.name(line if len(line) <= LONGEST_SHOWN else line[: LONGEST_SHOWN - 1] + "…")


def page_number(text: str | None, pages: int) -> int:
    """A page number from the link, 1 to ``pages`` (1 when there is none); a message for anything else."""
    if text is None:
        return 1
    try:
        number = int(text)
    except ValueError:  # not a whole number (or thousands of digits long)
        st.warning(f"The link's page, {shown(text)}, is not a page number; showing page 1 of {pages}.")
        return 1
    if not 1 <= number <= pages:
        nearest = min(max(number, 1), pages)
        st.warning(f"The link asks for page {shown(text)}, but there are pages 1 to {pages}; showing page {nearest}.")
        return nearest
    return number


def note_unused(reads: set[str]) -> None:
    """Say which of the app's parameters in the link this page does not read (it ignores them)."""
    for name, owner in APP_PARAMETERS.items():
        if name not in reads and name in st.query_params:
            st.info(
                f"This page does not use **{name}** in its link ({shown(st.query_params[name])}): that "
                f"belongs to {owner}'s links, so it was ignored."
            )


_SAFE_RAW = re.compile(r"[A-Za-z0-9 ]*")  # text that Markdown cannot read as anything but itself


def value_as_code(message: str, value: str) -> str:
    """A message that quotes a link's value, or a part of it, in single quotes (``'x' is not a unit name``), with
    each quoted part as code (:func:`shown`), so nothing of the link is read as Markdown: not a link, not a bare
    address (which Markdown links by itself), not LaTeX, a colour or an emoji. A part the message holds unquoted,
    and that could be markup, gives a plain sentence instead."""
    parts = sorted({value, *(part.strip() for part in value.split(":"))} - {""}, key=len, reverse=True)
    held: list[str] = []
    for part in parts:
        if f"'{part}'" in message:
            message = message.replace(f"'{part}'", f"\0{len(held)}\0")
            held.append(part)
    if any(part in message and not _SAFE_RAW.fullmatch(part) for part in parts):
        return f"The link's value {shown(value)} cannot be used here."
    for index, part in enumerate(held):
        message = message.replace(f"\0{index}\0", shown(part))
    return message


def checked(url_path: str | None, params: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Of a link's parameters, those the page at ``/<url_path>`` can use as they are, and the names of the
    others. A chapter uses ``step`` (one of its steps, or first, last); the Microscope ``unit`` (a unit's name),
    ``layer`` (a layer it browses) and ``page`` (a page of that layer); any other parameter, and every one of
    another page, is not the page's. (The pages themselves say what they do with the rest; this is what a stage
    keeps and a presenter publishes.)"""
    from ui.roles import MICROSCOPE_PATH
    from ui.tour import chapter_of, chapters

    good: dict[str, str] = {}
    stops = {stop.url_path: stop for stop in chapters()}
    if url_path in stops:
        ids = [step.id for step in chapter_of(stops[url_path]).steps]
        if params.get("step") in (*ids, "first", "last"):
            good["step"] = params["step"]
    elif url_path == MICROSCOPE_PATH:
        good = _microscope(params)
    return good, [name for name in params if name not in good]


def _microscope(params: dict[str, str]) -> dict[str, str]:
    from interp.errors import UnitError
    from interp.network.layers import LAYERS, parse_unit
    from ui.microscope import BROWSABLE, PER_PAGE

    good: dict[str, str] = {}
    unit = params.get("unit")
    if unit is not None and len(unit) <= LONGEST_SHOWN:
        try:
            parse_unit(unit)
        except UnitError:
            pass
        else:
            good["unit"] = unit
    if params.get("layer") in BROWSABLE:
        good["layer"] = params["layer"]
    page = params.get("page")
    if page is not None and len(page) <= 6:
        layer = good.get("layer", "mixed3b")  # the Microscope's layer when its link names none
        try:
            number = int(page)
        except ValueError:
            number = 0
        if 1 <= number <= -(-LAYERS[layer].channels // PER_PAGE):
            good["page"] = page
    return good
