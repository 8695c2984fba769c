"""Chapter 4, steps 5 and 6: "Watch it run" (a circuit's units on a photo, side by side) and "Prove it: ablation"
(the circuit's inputs switched off, against as many of its other strong inputs, and one input switched off in one
row of its weight map only). Both steps share the circuit and the photo, kept across steps.

The numbers come from ``interp.circuits.story`` (``circuit_photos``, ``unit_maps``, ``shares_at_peak``) and
``interp.circuits.ablation`` (``ablate``, ``random_ablations``, ``control_summary``, ``row_regions``); the
Streamlit caches
here are thin wrappers around them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from interp.circuits.ablation import ablate, control_summary, matched_pool, peak, random_ablations, row_regions
from interp.circuits.story import circuit_photos, shares_at_peak, unit_maps
from interp.dataset.atlas import AtlasError, load_atlas
from interp.dataset.pictures import overlay
from interp.errors import InterpError
from interp.network.layers import Unit
from ui import photos
from ui.photos import PICKER
from ui.resources import shared_model
from ui.roles import ROLES_MISSING, find, short
from ui.visuals.circuit_common import CAR_PARTS, edge_weights, live_model
from ui.visuals.common import chart, enlarged, how_computed, result_first, talking

CIRCUITS = {"car": "Car: windows, wheels, body → car detector", "dog": "Dog heads: left, right → any pose"}
DRAWS = 8  # strength-matched control ablations
AS_IT_IS, PARTS_OFF, RANDOM = "#555555", "#e07a1f", "#b8b8b8"  # the ablation's bars (no sign here: not red or blue)
ROW_WORDS = ("above", "level with", "below")  # the rows of a weight map, from the target's peak


def circuit_units(circuit: str) -> tuple[list[tuple[str, Unit]], tuple[str, Unit]] | None:
    """(inputs, target) of a circuit, each as (label, unit), from the roles; None when they cannot be read."""
    if circuit == "car":
        inputs = [(r.spec.title.removeprefix("Car ").lower(), r.unit) for r in (find(p) for p in CAR_PARTS) if r]
        target = find("car-detector")
        return (inputs, ("car detector", target.unit)) if inputs and target else None
    left, right, merged = find("dog-head-left"), find("dog-head-right"), find("dog-head")
    if not (left and right and merged):
        return None
    return [("facing left", left.unit), ("facing right", right.unit)], ("any pose", merged.unit)


@st.cache_data(show_spinner=False, max_entries=4)
def photo_choices(circuit: str) -> list[tuple[str, float, int]]:
    """The circuit's photos (cars, or dogs) on which its target fires most: (photo id, its peak, its rank of
    1,000), from the atlas (``interp.circuits.story.circuit_photos``)."""
    units = circuit_units(circuit)
    if units is None:
        return []
    return circuit_photos(load_atlas(), units[1][1], circuit)


def photo_label(photo_id: str, choices: dict, target: Unit) -> str:
    if photo_id == PICKER:
        return "A sample picture, or your upload"
    from interp.dataset.photos import photo as photo_named

    peak_value, rank = choices[photo_id]
    return f"{photo_named(photo_id).label} · {short(target)} peaks at {peak_value:.0f} (#{rank} of 1,000)"


def shared_choice(name: str, widget: str, options: list, default) -> tuple:
    """A widget value kept across steps (Streamlit forgets a widget's state once it is not drawn): the value
    lives under ``name`` in the session, and the widget ``widget`` shows it and writes it back."""
    state = st.session_state.setdefault("circuit_choices", {})
    if state.get(name) not in options:
        state[name] = default
    st.session_state[widget] = state[name]

    def remember() -> None:
        state[name] = st.session_state[widget]

    return state[name], remember


def chosen_picture(circuit: str, key: str):
    """The photo (or sample/upload) a circuit runs on, shared by the steps: (cache key, 1 x 3 x 224 x 224 tensor,
    224 px RGB array, name, whether it is one of the 1,000 photos) or None (with a message). Without the photo
    collection it says so once and runs on a sample picture (ui.picker) instead."""
    units = circuit_units(circuit)
    try:
        choices = {pid: (value, rank) for pid, value, rank in photo_choices(circuit)}
    except (AtlasError, InterpError):
        choices = {}
    options = list(choices) + [PICKER]
    widget = f"{key}_photo_{circuit}"
    choice, remember = shared_choice(f"photo_{circuit}", widget, options, options[0])
    st.selectbox(
        "Photo",
        options,
        key=widget,
        on_change=remember,
        format_func=lambda p: photo_label(p, choices, units[1][1]),
        help="Of the 1,000 photos, those of this circuit's kind on which its last unit fires most; or a "
        "sample picture, or your own.",
    )
    return photos.photo_or_upload(choice, f"{key}_picker")


@st.cache_data(show_spinner=False, max_entries=32)
def circuit_maps(key: str, circuit: str, mirrored: bool, _tensor) -> dict[str, np.ndarray]:
    """The activation maps of the circuit's units on one picture (one forward pass), by unit name."""
    model, _ = shared_model()
    inputs, target = circuit_units(circuit)
    return unit_maps(model, _tensor, [u for _, u in inputs] + [target[1]], mirrored)


def circuit_picker(key: str) -> str:
    options = list(CIRCUITS)
    widget = f"{key}_circuit"
    choice, remember = shared_choice("circuit", widget, options, options[0])
    st.segmented_control("Circuit", options, key=widget, required=True, format_func=CIRCUITS.get, on_change=remember)
    return st.session_state.get(widget) or choice


def circuit_controls(key: str, mirror: bool = False):
    """Circuit and photo pickers (shared by steps 5 and 6): (circuit, (inputs, target), picture, mirrored) or
    None (with a message)."""
    circuit = circuit_picker(key)
    units = circuit_units(circuit)
    if units is None:
        st.info(ROLES_MISSING)
        return None
    if mirror:
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        with left:
            picked = chosen_picture(circuit, key)
        mirrored = right.toggle("Mirror", key=f"{key}_mirror", help="Flip the photo left to right.")
    else:
        picked, mirrored = chosen_picture(circuit, key), False
    if picked is None:
        return None
    return circuit, units, picked, mirrored


# -- step 5: watch it run -----------------------------------------------------------------------------------------


def circuit_live() -> None:
    """The circuit's units on a photo, side by side: the parts light up where they are, the detector where they
    meet."""
    if live_model() is None:
        return
    big = talking()
    with photos.photo_notice():
        result, controls = result_first("Change the circuit or the photo")
        with controls:
            chosen = circuit_controls("cl", mirror=True)
        if chosen is None:
            return
        circuit, (inputs, (target_label, target)), (key, tensor, image, name, collection), mirrored = chosen
        maps = circuit_maps(key, circuit, mirrored, tensor)
        shown = Image.fromarray(np.ascontiguousarray(image[:, ::-1] if mirrored else image))
        values = maps[str(target)]
        shares = shares_at_peak(maps, target, [u for _, u in inputs])
        with result:
            if big:
                # one line, as the circuit runs: the photo, each part where it fires, the unit they feed
                cols = st.columns(len(inputs) + 2, gap="small")
                cols[0].image(enlarged(shown), width="stretch", output_format="JPEG")
                cols[0].markdown(f"**photo**{' (mirrored)' if mirrored else ''}", text_alignment="center")
                for col, (label, unit) in zip(cols[1:], inputs + [(target_label, target)]):
                    part = maps[str(unit)]
                    col.image(enlarged(overlay(shown, part)), width="stretch", output_format="JPEG")
                    col.markdown(f"**{label}**", text_alignment="center")
                there = ", ".join(f"{label} {share:.0%}" for (label, _), share in zip(inputs, shares))
                st.markdown(f"At the {target_label}'s peak, share of each part's own peak: **{there}**")
            else:
                photo_col, target_col = st.columns(2)
                photo_col.image(shown, width="stretch", caption=f"{name}{' (mirrored)' if mirrored else ''}")
                ty, tx = peak(values)
                target_col.image(
                    overlay(shown, values),
                    width="stretch",
                    caption=f"{target_label}: {target} · peak {values.max():.0f} at row {ty}, column {tx}",
                )
                for col, (label, unit) in zip(st.columns(len(inputs)), inputs):
                    part = maps[str(unit)]
                    y, x = peak(part)
                    col.image(
                        overlay(shown, part),
                        width="stretch",
                        caption=f"{label}: {unit} · peak {part.max():.0f} at row {y}, column {x}",
                    )
                there = ", ".join(f"{label} {share:.0%}" for (label, _), share in zip(inputs, shares))
                grid = values.shape[0]
                st.caption(
                    f"Each map on its own colour scale (brightest = that unit's peak), over the {grid} x {grid} grid "
                    f"of {target.layer}. Where {target} peaks, each of its inputs is at this share of its own peak: "
                    f"{there}." + (f" {photos.credit()}" if collection else "")
                )
        how_computed(
            "The maps: interp.circuits.story.unit_maps (one forward pass; each map on its own colour scale, "
            "brightest at that unit's peak); the shares at the peak: interp.circuits.story.shares_at_peak."
            + (f" {photos.credit()}" if collection and big else "")
        )


# -- step 6: prove it, ablation -----------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=64)
def ablation_result(
    key: str, unit: str, zeroed: tuple[str, ...], region: tuple[int, int, int, int] | None, _tensor
) -> dict:
    """``interp.circuits.ablation.ablate`` on one picture (cached by its key): the target's map before and after."""
    model, _ = shared_model()
    return ablate(model, _tensor, unit, zero=list(zeroed), region=region).maps()


@st.cache_data(show_spinner=False, max_entries=32)
def matched_control(key: str, unit: str, layer: str, k: int, exclude: tuple[str, ...], _tensor) -> list[dict]:
    """The control: ``k`` units drawn at random from ``unit``'s strongest tenth of inputs (the circuit's own left
    out) switched off instead, ``DRAWS`` times (seed 0): a set that matters only for the size of its weights
    does as much as the circuit's."""
    model, _ = shared_model()
    pool = [u for u in matched_pool(model, unit, exclude) if str(u) not in exclude]
    return [
        r.maps()
        for r in random_ablations(model, _tensor, unit, layer, min(k, len(pool)), draws=DRAWS, seed=0, pool=pool)
    ]


def ablation() -> None:
    """Switch the circuit's inputs off and watch its last unit fade, against as many of its other strong inputs
    switched off instead; and switch one input off in one row of its weight map only."""
    if live_model() is None:
        return
    big = talking()
    with photos.photo_notice():
        result, controls = result_first("Change what is switched off")
        with controls:
            chosen = circuit_controls("ab")
            if chosen is None:
                return
            circuit, (inputs, (target_label, target)), (key, tensor, image, name, collection), _ = chosen
            st.markdown("**Switch off**")
            ticks = st.columns(len(inputs))
            zeroed = tuple(
                str(unit)
                for (label, unit), col in zip(inputs, ticks)
                if col.checkbox(f"{label} ({short(unit)})", value=True, key=f"ab_zero_{circuit}_{unit}")
            )
        layer = inputs[0][1].layer
        result_maps = ablation_result(key, str(target), zeroed, None, tensor)
        before, after = result_maps["before_max"], result_maps["max"]
        draws = (
            matched_control(key, str(target), layer, len(zeroed), tuple(str(u) for _, u in inputs), tensor)
            if zeroed
            else []
        )
        shown = Image.fromarray(np.ascontiguousarray(image))
        off = f"{len(zeroed)} part{'s' if len(zeroed) != 1 else ''} off"
        with result:
            if big:  # the two maps and the bars in one line, the numbers on them
                a, b, c = st.columns([1, 1, 2.1], vertical_alignment="center")
                for col, values in ((a, result_maps["before"]), (b, result_maps["map"])):  # one colour scale
                    picture = enlarged(overlay(shown, values, vmax=before or 1.0))
                    col.image(picture, width="stretch", output_format="JPEG")
                a.markdown(f"**as it is**: {before:.0f}", text_alignment="center")
                b.markdown(f"**{off}**: {after:.0f}", text_alignment="center")
                chart(ablation_chart(target, before, after, zeroed, draws, layer, big), key="ab_chart", place=c)
            else:
                m1, m2, m3 = st.columns(3)  # a reader gets the numbers first, then the maps and the chart
                m1.metric("Peak before", f"{before:.0f}")
                m2.metric(
                    f"After switching off {len(zeroed)}",
                    f"{after:.0f}",
                    delta=f"{after - before:+.0f} ({-result_maps['drop']:+.0%})" if zeroed else None,
                )
                if draws:
                    summary = control_summary(draws)
                    m3.metric(
                        f"{len(zeroed)} other strong inputs instead",
                        f"{summary['median']:.0f}",
                        delta=f"{summary['median'] - before:+.0f}",
                        help=f"The median of {DRAWS} draws of {len(zeroed)} units from the strongest tenth of "
                        f"{short(target)}'s inputs in {layer} (the circuit's own left out, seed 0); they range "
                        f"from {summary['low']:.0f} to {summary['high']:.0f}.",
                    )
                a, b = st.columns(2)
                a.image(
                    overlay(shown, result_maps["before"], vmax=before or 1.0),
                    width="stretch",
                    caption=f"{target_label} ({target}) as it is: peak {before:.0f}",
                )
                b.image(
                    overlay(shown, result_maps["map"], vmax=before or 1.0),
                    width="stretch",
                    caption=f"with {len(zeroed)} unit{'s' if len(zeroed) != 1 else ''} of {layer} switched off: "
                    f"peak {after:.0f} (same colour scale)",
                )
                chart(ablation_chart(target, before, after, zeroed, draws, layer, big), key="ab_chart")
        # the geometry test: for a reader under the result; in front of a room folded away with the controls
        with controls if big else st.container():
            row_ablation(key, tensor, inputs, target, result_maps["before"])
        if not big:
            st.caption(
                f"Photo: {name}. Switched off means set to zero after the unit's ReLU, everywhere on its grid, so "
                "that every later layer sees it silent." + (f" {photos.credit()}" if collection else "")
            )
        how_computed(
            "The switching off: interp.circuits.ablation (ablate for the circuit's inputs and for one row, "
            f"matched_pool and random_ablations for the {DRAWS} draws from the detector's strongest tenth of "
            "inputs, seed 0, summed up by control_summary). "
            + (
                f"Photo: {name}. Switched off means set to zero after the unit's ReLU, everywhere on its grid."
                + (f" {photos.credit()}" if collection else "")
                if big
                else ""
            )
        )


def ablation_chart(
    target: Unit,
    before: float,
    after: float,
    zeroed: tuple[str, ...],
    controls: list[dict],
    layer: str,
    big: bool = False,
) -> go.Figure:
    """The peak as it is, with the circuit's inputs switched off, and with as many of its other strong inputs
    switched off instead (the
    median of the draws as a bar, each draw a dot on it). In front of a room the numbers stand on the bars, with no
    axis."""
    chosen = f"{len(zeroed)} part{'s' if len(zeroed) != 1 else ''} off"
    names, values, colours = ["as it is", chosen], [before, after], [AS_IT_IS, PARTS_OFF]
    label = (
        f"{len(zeroed)} other strong inputs off"
        if big
        else f"{len(zeroed)} other strong inputs of {layer} off ({len(controls)} draws)"
    )
    if controls:
        names, values, colours = names + [label], values + [control_summary(controls)["median"]], colours + [RANDOM]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            marker_color=colours,
            text=[f"{v:.0f}" for v in values[:2]] + [""] * (len(values) - 2),  # the median's over its dots, below
            textposition="outside",
            textfont=dict(size=22) if big else None,
            showlegend=False,
            hovertext=[f"switched off: {', '.join(zeroed) or 'none'}"] * 2
            + ([f"the median of {len(controls)} draws"] if controls else []),
            hovertemplate="%{x}: peak %{y:.1f}<br>%{hovertext}<extra></extra>",
        )
    )
    top = max([before, after] + [c["max"] for c in controls])
    if controls:  # each draw a dot over the median's bar
        fig.add_trace(
            go.Box(
                x=[label] * len(controls),
                y=[c["max"] for c in controls],
                boxpoints="all",
                jitter=0.5,
                pointpos=0,
                marker=dict(color="#333333", size=9 if big else 7),
                line=dict(width=0),
                fillcolor="rgba(0,0,0,0)",
                showlegend=False,
                customdata=[", ".join(short(u) for u in c["units"]) for c in controls],
                hovertemplate="one draw: peak %{y:.1f}<br>switched off: %{customdata}<extra></extra>",
            )
        )
        fig.add_annotation(
            x=label,
            y=max(c["max"] for c in controls),
            text=f"{values[-1]:.0f}",
            showarrow=False,
            yanchor="bottom",
            yshift=8,
            font=dict(size=22) if big else None,
        )
    fig.update_layout(
        height=320 if big else 240,
        margin=dict(l=4, r=4, t=10, b=4),
        dragmode=False,
        yaxis=dict(
            title=None if big else f"peak of {short(target)}",
            range=[0, top * 1.2],
            fixedrange=True,
            showticklabels=not big,
            showgrid=not big,
        ),
        xaxis=dict(fixedrange=True, tickfont=dict(size=18) if big else None),
    )
    return fig


def row_ablation(key: str, tensor, inputs: list[tuple[str, Unit]], target: Unit, before: np.ndarray) -> None:
    """One input switched off only in one row of its weight map around the target's peak (above, level with,
    below): the geometry the weights promised, tested on the photo."""
    with st.container(border=True):
        st.markdown(
            "**One part, one row.** Switch one input off only in the row of its weight map above, level "
            "with or below the place where the detector peaks, and compare with what its weights say."
        )
        labels = {str(u): f"{label} ({short(u)})" for label, u in inputs}
        default = next((str(u) for label, u in inputs if "wheel" in label), str(inputs[0][1]))
        part = st.selectbox(
            "Input",
            list(labels),
            index=list(labels).index(default),
            format_func=labels.get,
            key=f"ab_row_part_{target}",
        )
        kernel = edge_weights(part, str(target))["kernel"]
        k = kernel.shape[0]
        py, px = peak(before)
        side = before.shape[0]
        at_peak = float(before[py, px])
        cols = st.columns(3)
        for col, (row, y, region), words in zip(cols, row_regions((py, px), k, side), ROW_WORDS):
            if region is None:
                col.metric(f"Row {words}", "off the grid")
                continue
            after = float(ablation_result(key, str(target), (part,), region, tensor)["map"][py, px])
            col.metric(
                f"Off {words} the peak",
                f"{after:.0f}",
                delta=f"{after - at_peak:+.0f}",
                help=f"{labels[part]} set to zero in row {y}, columns {region[2]}-{region[3] - 1} of "
                f"{inputs[0][1].layer}, read by row {row + 1} of its {k} x {k} weight map into "
                f"{target}.",
            )
            col.caption(f"weights in that row add up to **{kernel[row].sum():+.3f}**")
        st.caption(
            f"{short(target)} at its peak (row {py}, column {px} of {side} x {side}) is {at_peak:.0f} with "
            f"nothing switched off. Where a row's weights are positive, switching the input off there should "
            f"lower it; where they are negative, raise it."
        )
