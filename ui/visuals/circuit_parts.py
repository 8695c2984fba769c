"""Chapter 4, steps 3 and 4: "A car from parts" (the car detector's parts, their weight maps and the verdict
against the article) and "Heads in any pose" (a mirror pair of dog-head units merged into one, their maps and the
mirror test on a photo).

The numbers come from the roles catalogue (``interp/data/roles.json``), ``interp.circuits`` and
``interp.circuits.story`` (``geometry_findings``, ``mirror_correlation``, ``mirror_test``); this module lays them out.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from interp.circuits.story import geometry_findings, mirror_correlation, mirror_test
from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.errors import UnitError
from interp.network.layers import Unit
from interp.story.find_roles import MIRROR_WEIGHTS
from interp.story.roles import Role
from ui import photos
from ui.resources import shared_model, weights_ready
from ui.roles import ROLES_MISSING, find, roles_or_none, short
from ui.unit_pictures import picture_for, unit_picture
from ui.visuals.circuit_common import (
    CAR_PARTS,
    edge_weights,
    kernel_figure,
    live_model,
    show_unit,
)
from ui.visuals.common import WEIGHT_LEGEND, cells_picture, chart, colour_legend, enlarged, how_computed, talking

# -- step 3: a car from parts -------------------------------------------------------------------------------------


def verdict(role: Role) -> list[str]:
    """Where this part's weights excite and inhibit the detector, against where the article says: sentences
    (``interp.circuits.story.geometry_findings`` in words)."""
    kernel = np.asarray(role.evidence["kernel"], dtype=np.float64)
    sums = ", ".join(f"{v:+.3f}" for v in kernel.sum(axis=1))
    said = []
    for finding in geometry_findings(kernel, role.spec.claim):
        if finding.verb == "excite":
            if finding.agrees:
                said.append(
                    f":green[**Agrees**]: excites most at the {finding.found} (row sums {sums}), as the article says."
                )
            else:
                said.append(
                    f":orange[**Differs**]: excites most at the **{finding.found}** here (row sums {sums}); "
                    f"the article says the {finding.claimed}."
                )
        elif finding.found is None:
            said.append(
                f":orange[**Differs**]: no weight inhibits at all here (the smallest is {finding.value:+.4f}); "
                f"the article says it inhibits at the {finding.claimed}."
            )
        elif finding.agrees:
            said.append(
                f":green[**Agrees**]: inhibits most at the {finding.found} (negative weights there add up "
                f"to {finding.value:+.3f}), as the article says."
            )
        else:
            said.append(
                f":orange[**Differs**]: inhibits most at the **{finding.found}** here (negative weights "
                f"there add up to {finding.value:+.3f}); the article says the {finding.claimed}."
            )
    return said


def short_verdict(role: Role) -> list[str]:
    """The verdict in a few words, for a room: a tick where the weights agree with the article, a cross and the
    article's place where they do not."""
    kernel = np.asarray(role.evidence["kernel"], dtype=np.float64)
    said = []
    for finding in geometry_findings(kernel, role.spec.claim):
        verb = "excites" if finding.verb == "excite" else "inhibits"
        if finding.found is None:
            said.append(f":orange[**✗ {verb} nowhere**] (article: {finding.claimed})")
        elif finding.agrees:
            said.append(f":green[**✓ {verb} at {finding.found}**]")
        else:
            said.append(f":orange[**✗ {verb} at {finding.found}**] (article: {finding.claimed})")
    return said


def car_parts() -> None:
    roles = roles_or_none()
    car = find("car-detector")
    parts = [r for r in (find(p) for p in CAR_PARTS) if r is not None]
    if not roles or car is None or not parts:
        st.info(ROLES_MISSING)
        return
    scale = max(float(np.abs(np.asarray(p.evidence["kernel"])).max()) for p in parts)
    with photos.photo_notice():
        if talking():
            car_parts_stage(car, parts, scale)
        else:
            car_parts_reading(car, parts, scale)
    how_computed(
        "The parts and their figures: the roles catalogue (interp/data/roles.json), computed from these weights "
        "by `python tools/find_roles.py`; the verdicts: interp.circuits.story.geometry_findings."
    )


def car_parts_stage(car: Role, parts: list[Role], scale: float) -> None:
    """In front of a room: each part's picture beside its weight map into the car detector, and under them the
    verdict against the article in a few words; the detector on the right."""
    *cols, last = st.columns([1.4] * len(parts) + [1], gap="medium")
    for col, part in zip(cols, parts):
        with col:
            name = part.spec.title.removeprefix("Car ").capitalize()
            st.markdown(f"**“{name}”**", text_alignment="center")  # the article's name, in quotes: ours names less
            render, weights = st.columns(2, gap="small", vertical_alignment="center")
            render.image(enlarged(unit_picture(part.unit)[0]), width="stretch", output_format="JPEG")
            weights.image(cells_picture(np.asarray(part.evidence["kernel"]), scale), width="stretch")
            for line in short_verdict(part):
                st.markdown(line, text_alignment="center")
    with last:
        show_unit(car.unit, "car detector")
    st.markdown("Weights into the car detector: :red[**red**] excites, :blue[**blue**] inhibits")


def car_parts_reading(car: Role, parts: list[Role], scale: float) -> None:
    """For a reader: the detector and how it was found, then a card per part: its picture beside its weight map
    (a picture that shrinks with its narrow card; the row sums are in the verdict), the verdict against the article
    in sentences, its rank, and its top photo."""
    head, words = st.columns([1, 3], vertical_alignment="center")
    with head:
        show_unit(car.unit, "car detector")
    held = car.held_out or {}
    words.markdown(
        f"**{car.unit}**, the car detector in these weights: car AUC {held.get('held_out', car.evidence.get('auc'))} "
        f"on photos it was not chosen on, one car unit among several (its Microscope card lists the runners-up); "
        f"the articles' {short(car.article_unit)} reaches {car.evidence.get('article_auc')}. Its parts: the "
        f"car-selective units among its strongest inputs from mixed4b, named as far as the evidence goes."
    )
    words.caption(f"The article: {car.spec.claim}. *({car.spec.source})*")
    tops = photos.top_photos([p.unit for p in parts])
    for col, part in zip(st.columns(len(parts)), parts):
        with col.container(border=True):
            st.markdown(f"**{part.spec.title}** · [{part.unit}](microscope?unit={part.unit})")
            render, weights = st.columns(2, vertical_alignment="center")
            found = picture_for(part.unit)
            render.image(found[0] if found else unit_picture(part.unit)[0], width="stretch")
            weights.image(cells_picture(np.asarray(part.evidence["kernel"]), scale), width="stretch")
            for line in verdict(part):
                st.markdown(line)
            ev = part.evidence
            st.caption(
                f"Rank {ev.get('excite_rank')} of {ev.get('of')} inputs by excitation. What the evidence names: "
                f"{ev.get('described_as', 'car AUC ' + str(ev.get('car_auc')))}. The article: {part.spec.claim}."
            )
            if part.article_unit is not None and part.article_unit != part.unit:
                st.caption(
                    f"The articles' {short(part.article_unit)} ranks {ev.get('article_excite_rank')} of "
                    f"{ev.get('of')} here (car AUC {ev.get('article_car_auc')})."
                )
            top = tops.get(part.unit)
            st.image(
                top.image if top else photos.placeholder(photos.THUMB),
                width=120,
                caption=f"Its top photo: {top.label}" if top else "no photo",
            )
    st.caption(
        f"Weights into {car.unit} from each part, as {len(parts[0].evidence['kernel'])} x "
        f"{len(parts[0].evidence['kernel'])} maps over the detector's window (row 0 = top), one colour "
        f"scale (full at ±{scale:.3f}). {WEIGHT_LEGEND}"
    )


# -- step 4: heads in any pose ------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=4)
def mirror_values(photo_id: str, units: tuple[str, ...], _image: np.ndarray) -> dict:
    """``interp.circuits.story.mirror_test`` on a photo (cached by its id): each unit's largest activation on it and
    on its mirror image."""
    model, _ = shared_model()
    return mirror_test(model, _image, units)


def dog_heads() -> None:
    left, right, merged = find("dog-head-left"), find("dog-head-right"), find("dog-head")
    if not (left and right and merged):
        st.info(ROLES_MISSING)
        return
    with photos.photo_notice():
        if talking():
            dog_heads_stage(left, right, merged)
        else:
            dog_heads_reading(left, right, merged)


def pair_kernels(left: Role, right: Role, merged: Role) -> tuple[list[dict], float, tuple[float, float]]:
    """The two facing units' weights into the pose-invariant one, their shared colour scale, and r between the maps
    (as they are, with the right-facing one flipped left to right)."""
    kernels = [edge_weights(str(r.unit), str(merged.unit)) for r in (left, right)]
    scale = max(float(np.abs(k["kernel"]).max()) for k in kernels) or 1.0
    return kernels, scale, mirror_correlation(kernels[0]["kernel"], kernels[1]["kernel"])


def dog_heads_stage(left: Role, right: Role, merged: Role) -> None:
    """In front of a room: the circuit in one line (each facing unit beside its weights into the pose-invariant
    one, then that one), and under it the test: a dog in profile, its mirror image, and the three units on both."""
    ready = weights_ready() and live_model() is not None
    kernels, scale, (as_is, mirrored) = pair_kernels(left, right, merged) if ready else (None, 1.0, (0.0, 0.0))
    cols = st.columns([1, 1, 1, 1, 1, 1.25], gap="small", vertical_alignment="center")
    for i, (role, name) in enumerate(((left, "Facing left"), (right, "Facing right"))):
        with cols[2 * i]:
            show_unit(role.unit, name=name)
        if ready:
            with cols[2 * i + 1]:
                st.image(cells_picture(kernels[i]["kernel"], scale), width="stretch")
                st.markdown("### →", text_alignment="center")
    with cols[4]:
        show_unit(merged.unit, name="Any pose")
    if not ready:
        cols[5].caption("The weight maps and the mirror test need the model's weights.")
        return
    cols[5].markdown(
        f"Weights into **any pose**: :red[**red**] excites, :blue[**blue**] inhibits. One flipped, the maps are "
        f"alike: **r = {mirrored:.2f}** (as they are: {as_is:.2f})"
    )
    mirror_demo(left, right, merged)


def dog_heads_reading(left: Role, right: Role, merged: Role) -> None:
    """For a reader: a card per unit (its picture, top photos and how it was found), the two weight maps with
    their numbers, and the mirror test."""
    cols = st.columns(3)
    for col, role in zip(cols, (left, right, merged)):
        with col.container(border=True):
            st.markdown(f"**{role.spec.title}** · [{role.unit}](microscope?unit={role.unit})")
            image, where = unit_picture(role.unit)
            st.image(image, width="stretch", caption=where)
            top_crops(role.unit)
            ev = role.evidence
            if role is merged:
                common = next(
                    (r for r in (role.base_rate or {}).get("also", []) if r.get("measure", "").endswith("every photo")),
                    None,
                )
                st.caption(
                    f"Dog AUC {ev.get('dog_auc')}; a photo and its mirror image give it nearly the same "
                    f"response (r = {ev.get('flip_correlation')})"
                    + (
                        f", as for {common['reaching']} of the layer's {common['of']} units (r ≥ {common['at']})"
                        if common
                        else ""
                    )
                    + f". Among its {ev.get('of')} inputs, {left.unit} ranks **{ev.get('left_rank')}** and "
                    f"{right.unit} ranks **{ev.get('right_rank')}**."
                )
            else:
                st.caption(
                    f"Dog AUC {ev.get('dog_auc')}. On the {ev.get('dog_photos')} dog photos, it matches "
                    f"{ev.get('partner')} on the mirrored photos (r = **{ev.get('mirror_correlation')}**) "
                    f"far better than on the same photos (r = {ev.get('plain_correlation')})."
                )
    if not weights_ready():
        st.caption("The weight maps and the mirror test need the model's weights.")
        return
    if live_model() is None:
        return
    kernels, scale, (as_is, mirrored) = pair_kernels(left, right, merged)
    maps = st.columns([1, 1, 1.2], vertical_alignment="center")
    for col, role, k in zip(maps, (left, right), kernels):
        with col:
            st.markdown(f"**{short(role.unit)} → {short(merged.unit)}** (rank {k['rank']} of {k['of']})")
            chart(kernel_figure(k["kernel"], scale, height=190), key=f"dog_kernel_{role.id}")
    maps[2].markdown(
        f"Are the two maps mirror images? {short(left.unit)}'s map against {short(right.unit)}'s "
        f"flipped left to right correlates at **r = {mirrored:.2f}** (unflipped: {as_is:.2f}): "
        + (
            "mirror images by the bar the role's search set"
            if mirrored >= MIRROR_WEIGHTS
            else f"alike, though short of the bar the role's search set ({MIRROR_WEIGHTS})"
        )
        + "."
    )
    colour_legend(f"One colour scale for both maps (full at ±{scale:.3f}). {WEIGHT_LEGEND}", maps[2])
    mirror_demo(left, right, merged)


def top_crops(unit: Unit, count: int = 3) -> None:
    """A unit's top photos from the atlas, cropped where it fires."""
    try:
        examples = load_atlas().examples(atlas_unit(unit), top=count)
    except (AtlasError, UnitError):
        return
    photos.ensure([e.photo for e in examples])
    vmax = max(e.activation for e in examples) or 1.0
    for col, example in zip(st.columns(count, gap="small"), examples):
        tile = photos.example_tile(unit, example, heat=False, vmax=vmax)
        col.image(tile or photos.placeholder(photos.TILE), width="stretch")
    st.caption("Top photos: " + ", ".join(e.photo.label for e in examples))


PHOTO_COLOUR, MIRROR_COLOUR = "#555555", "#e07a1f"  # the photo and its mirror image (not red or blue: no sign here)


def mirror_demo(left: Role, right: Role, merged: Role) -> None:
    """The reference photo (a dog in profile facing right) and its mirror image: the pair swaps, the merged unit
    stays."""
    reference = left.evidence.get("reference")
    try:
        photo = next(p for p in load_atlas().photos if p.id == reference)
    except (AtlasError, StopIteration):
        return
    image = photos.photo_image(photo)
    if image is None:
        return
    units = (str(left.unit), str(right.unit), str(merged.unit))
    values = mirror_values(photo.id, units, image)
    big = talking()
    pic, mirror, chart_col = st.columns([1, 1, 4.25] if big else [1, 1, 2.2], vertical_alignment="center")
    if big:
        pic.image(enlarged(image), width="stretch", output_format="JPEG")
        pic.markdown(":gray[**photo**]", text_alignment="center")
        mirror.image(enlarged(image[:, ::-1]), width="stretch", output_format="JPEG")
        mirror.markdown(":orange[**mirror image**]", text_alignment="center")
    else:
        pic.image(image, width="stretch", caption=f"{photo.label} (facing right)")
        mirror.image(image[:, ::-1], width="stretch", caption="its mirror image")
    chart(mirror_figure(values, left, right, merged, big), key="dog_mirror", place=chart_col)


def mirror_figure(values: dict, left: Role, right: Role, merged: Role, big: bool) -> go.Figure:
    """Each unit's largest activation on the photo and on its mirror image, side by side: the facing pair swaps,
    the pose-invariant unit stays."""
    names = (
        ["facing left", "facing right", "any pose"]
        if big
        else [f"{short(left.unit)} left", f"{short(right.unit)} right", f"{short(merged.unit)} any pose"]
    )
    fig = go.Figure(
        [
            go.Bar(
                name=name,
                x=names,
                y=values[key],
                marker_color=colour,
                hovertemplate="%{x}: %{y:.1f}<extra>" + name + "</extra>",
                text=[f"{v:.0f}" for v in values[key]],
                textposition="outside",
                showlegend=not big,
            )
            for key, name, colour in (("photo", "photo", PHOTO_COLOUR), ("mirror", "mirror image", MIRROR_COLOUR))
        ]
    )
    top = max(max(values["photo"]), max(values["mirror"])) or 1.0
    fig.update_layout(
        height=230,
        margin=dict(l=4, r=4, t=24 if not big else 8, b=4),
        barmode="group",
        dragmode=False,
        yaxis=dict(
            title=None if big else "largest activation",
            showticklabels=not big,
            showgrid=not big,
            range=[0, top * 1.18],
            fixedrange=True,
        ),
        xaxis=dict(fixedrange=True, tickfont=dict(size=18) if big else None),
        legend=dict(orientation="h", y=1.12, x=0),
    )
    return fig
