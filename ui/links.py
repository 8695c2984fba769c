"""What a page reads from its link (``?step=convolution``, ``?unit=mixed3b:379``, ``?layer=mixed4e&page=5``), checked.

A link is typed, pasted and shortened by people, so any value may arrive: empty, unknown, huge, in any script,
given twice. Each page reads its own parameters through here; a value it cannot use gets a message that names
it and says what is shown instead, and the page goes on. The app's parameters that belong to another page are
said to be ignored (parameters that are not the app's, such as Streamlit's own, are left alone).
"""

from __future__ import annotations

import streamlit as st

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


def shown(text: str) -> str:
    """A value from the link as a message can show it: clipped, and as code, so nothing in it is formatted."""
    if not text.strip():
        return "an empty value"
    clipped = text if len(text) <= LONGEST_SHOWN else text[: LONGEST_SHOWN - 1] + "…"
    return "`" + clipped.replace("`", "'") + "`"


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
