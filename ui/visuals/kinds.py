"""Pieces chapters 5 and 6 share: the polysemantic role, its unit's top photos sorted into kinds of thing
(``interp.story.polysemantic.top_groups``), one colour per kind, and the kinds of thing among some photos in words.
"""

from __future__ import annotations

import streamlit as st
from PIL import Image, ImageDraw

from interp.dataset.atlas import load_atlas
from interp.network.layers import Unit
from interp.sae.analysis import kinds
from interp.story import purity
from interp.story.polysemantic import TopGroups, top_groups
from ui.roles import ROLES_MISSING, find
from ui.style import GROUP_COLOURS


def polysemantic_role(say_missing: bool = True):
    """The polysemantic role (the unit found in these weights), or None (with the one message when asked)."""
    role = find("polysemantic")
    if role is None and say_missing:
        st.info(ROLES_MISSING)
    return role


def polysemantic_unit_or_none() -> Unit | None:
    """The polysemantic role's unit, or None (no message: a step says what it can without it)."""
    role = polysemantic_role(say_missing=False)
    return role.unit if role else None


def unit_groups(unit: Unit, top: int = purity.TOP) -> TopGroups:
    """The unit's top photos in the shipped atlas and the two unrelated groups they split into."""
    return top_groups(load_atlas(), unit, top)


def group_colour(group: str, names: list[str]) -> str:
    """The colour of a kind of thing: one of a split unit's two groups (``names``), or the rest."""
    return GROUP_COLOURS[names.index(group)] if group in names else GROUP_COLOURS[2]


def band(image: Image.Image, colour: str, height: int = 8) -> Image.Image:
    """The picture with a coloured band along its bottom edge: the kind of thing the photo shows."""
    image = image.copy()
    ImageDraw.Draw(image).rectangle((0, image.height - height, image.width, image.height), fill=colour)
    return image


def kinds_text(examples, most: int | None = None) -> str:
    """ "6 dog, 5 device or tool, 1 bird": the kinds of thing among the photos (interp.story.hierarchy), the ``most``
    largest groups if given."""
    shown, rest = kinds(examples, most)
    return ", ".join(f"{n} {g}" for g, n in shown) + (f", {rest} other" if rest else "")
