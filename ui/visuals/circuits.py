"""Visuals of chapter 4, "Circuits": the weights between units read as circuits, run on a photo, and ablated.

Every number on screen is computed here from the weights (``interp.circuits``), measured on photos or drawn
stimuli, or read from the roles catalogue (``interp/data/roles.json``, itself computed by
``tools/find_roles.py``). Caches are bounded; a visual that needs the model says so and keeps the narration.
"""

from __future__ import annotations

import re

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image
from plotly.subplots import make_subplots

from interp.circuits import (
    block_unit,
    edge,
    expanded_weights,
    source_layer,
    strongest_inputs,
)
from interp.dataset.atlas import AtlasError, atlas_unit, load_atlas
from interp.dataset.pictures import overlay, weight_map
from interp.errors import InterpError, UnitError
from interp.network.layers import LAYERS, Unit, parse_unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import Role, parts_of
from ui import photos
from ui.photos import PICKER
from ui.resources import require_model, shared_model, weights_ready
from ui.roles import (
    ROLES_MISSING,
    find,
    gloss,
    option_label,
    roles_or_none,
    short,
    unit_options,
)
from ui.style import DIVERGING, PLOT_CONFIG
from ui.unit_pictures import picture_for, unit_picture

# Blue (inhibits), white (zero), red (excites): the colours of interp.dataset.pictures.colorize_signed.
ROWS3 = ("top", "middle", "bottom")
PATHS_SHOWN = 4  # bottleneck paths drawn one by one in step 1
PHOTO_CHOICES = 10  # photos offered per circuit in steps 5 and 6
CAR_PARTS = ("car-windows", "car-wheels", "car-body")


# -- small shared pieces ------------------------------------------------------------------------------------------


def _model():
    """The shared model, or ``None`` with the page's message about the missing weights."""
    loaded = require_model()
    return None if loaded is None else loaded[0]


def _role_unit(role_id: str) -> Unit | None:
    role = find(role_id)
    return role.unit if role else None


def show_unit(unit: Unit, title: str | None = None, *, width: str | int = "stretch", link: bool = True) -> None:
    image, where = unit_picture(unit)
    st.image(image, width=width)
    name = f"[{unit}](microscope?unit={unit})" if link else str(unit)
    st.caption((f"**{title}** · " if title else "") + f"{name} · {where}")


def _row_names(k: int) -> list[str]:
    return list(ROWS3) if k == 3 else [f"row {i + 1}" for i in range(k)]


def kernel_figure(kernel: np.ndarray, scale: float, *, height: int = 230, numbers: bool = True,
                  colorbar: bool = False, columns: bool = True) -> go.Figure:
    """A k x k weight map as a heat map: red excites, blue inhibits, row 0 at the top, the numbers on hover (and
    written in the cells when ``numbers``)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    k = kernel.shape[0]
    rows, cols = _row_names(k), ["left", "centre", "right"] if k == 3 else [f"col {i + 1}" for i in range(k)]
    fig = go.Figure(go.Heatmap(
        z=kernel, x=cols, y=rows, zmin=-scale, zmax=scale, colorscale=DIVERGING, showscale=colorbar,
        texttemplate="%{z:+.3f}" if numbers else None, textfont={"size": 11 if k <= 3 else 9},
        hovertemplate="%{y}, %{x}: %{z:+.4f}<extra></extra>", xgap=2, ygap=2,
        colorbar={"thickness": 10, "len": 0.9} if colorbar else None))
    fig.update_layout(height=height, margin=dict(l=4, r=4, t=4, b=4), dragmode=False,
                      xaxis=dict(side="top", tickfont=dict(size=10), fixedrange=True, showticklabels=columns),
                      yaxis=dict(autorange="reversed", tickfont=dict(size=10), fixedrange=True, scaleanchor="x"))
    return fig


@st.cache_data(show_spinner=False, max_entries=32)
def _inputs(target: str) -> dict:
    """Every input of ``target`` ranked by excitation: channels, kernels (C x k x k) and their sums."""
    model, _ = shared_model()
    unit = parse_unit(target)
    edges = strongest_inputs(model, unit, top=LAYERS[source_layer(unit.layer)].channels, by="excite")
    return {"channels": [e.source.channel for e in edges], "kernels": np.stack([e.kernel.numpy() for e in edges]),
            "excitation": [e.excitation for e in edges], "inhibition": [e.inhibition for e in edges],
            "source": source_layer(unit.layer)}


@st.cache_data(show_spinner=False, max_entries=64)
def _edge(source: str, target: str) -> dict:
    model, _ = shared_model()
    found = edge(model, source, target)
    return {"kernel": found.kernel.numpy(), "rank": found.rank, "of": found.of, "excitation": found.excitation,
            "inhibition": found.inhibition}


# -- step 1: a circuit is weights ---------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=32)
def _paths(target: str, source_channel: int) -> dict:
    """How a block's 3x3 or 5x5 branch reads one input through its 1x1 bottleneck: every path's term
    (bottleneck weight x branch kernel), the biggest first, and their sum (the expanded weight)."""
    model, _ = shared_model()
    unit = parse_unit(target)
    branch = unit.branch
    if branch is None:
        return {"kind": "conv"}
    name, index = branch
    part = name.removeprefix(unit.layer + "_")
    if part not in ("3x3", "5x5"):
        return {"kind": part, "branch": name, "index": index}
    squeeze = getattr(model, f"{name}_bottleneck_pre_relu_conv").weight.detach().float().cpu()[:, source_channel, 0, 0]
    kernels = getattr(model, f"{name}_pre_relu_conv").weight.detach().float().cpu()[index]  # bottleneck x k x k
    terms = (squeeze[:, None, None] * kernels).numpy()
    order = np.argsort(-np.abs(terms).sum(axis=(1, 2)), kind="stable")
    expanded = expanded_weights(model, unit)[source_channel].numpy()
    return {"kind": part, "branch": name, "index": index, "bottleneck": len(squeeze), "order": order,
            "terms": terms, "squeeze": squeeze.numpy(), "kernels": kernels.numpy(), "expanded": expanded,
            "check": float(np.abs(terms.sum(axis=0) - expanded).max())}


def circuit_weights() -> None:
    """Two units and the weights between them, and how a branch reads the layer before through its bottleneck."""
    model = _model()
    if model is None:
        return
    car = _role_unit("car-detector")
    catalogue = load_catalogue()
    extra = [str(b) for c in catalogue.circuits for _, b in c.edges]
    targets = [u for u in unit_options(extra) if parse_unit(u).layer not in ("conv2d0",)]
    default = str(car) if car and str(car) in targets else targets[0]
    left, right = st.columns(2)
    chosen = left.selectbox("Target unit", targets, index=targets.index(default), key="cw_target",
                            format_func=option_label, accept_new_options=True,
                            help="A unit of any layer after conv2d0; type a name such as 4c:447 to add one.")
    try:
        target = block_unit(parse_unit(chosen))
        source = source_layer(target.layer)
    except (UnitError, InterpError) as error:
        st.error(str(error))
        return
    data = _inputs(str(target))
    parts = parts_of(target, roles_or_none() or ())
    default_input = (min(parts, key=lambda r: r.evidence.get("excite_rank", 10 ** 6)).unit.channel if parts
                     else data["channels"][0])
    rank_of = {c: i + 1 for i, c in enumerate(data["channels"])}

    def label(channel: int) -> str:
        unit = Unit(source, channel)
        said = gloss(unit, catalogue.meaning(unit))
        return f"#{rank_of[channel]} · {unit}" + (f" · {said}" if said else "")

    channel = right.selectbox(f"Input from {source} (ranked by excitation)", data["channels"],
                              index=data["channels"].index(default_input), key=f"cw_input_{target}",
                              format_func=label)
    i = rank_of[channel] - 1
    kernel = data["kernels"][i]
    k = kernel.shape[-1]
    unit_in = Unit(source, channel)
    a, b, c = st.columns([1, 1.5, 1], vertical_alignment="center")
    with a:
        show_unit(unit_in, "input")
    with b:
        if k > 1:
            scale = float(np.abs(kernel).max()) or 1.0
            st.plotly_chart(kernel_figure(kernel, scale), key="cw_kernel", config=PLOT_CONFIG)
        else:
            st.metric("The one weight (1 x 1)", f"{float(kernel.ravel()[0]):+.4f}")
    with c:
        show_unit(target, "target")
    st.markdown(
        f"**{unit_in} → {target}**: rank **{rank_of[channel]} of {len(data['channels'])}** among {target}'s inputs "
        f"by excitation; positive weights add up to **{data['excitation'][i]:+.3f}**, negative ones to "
        f"**{data['inhibition'][i]:+.3f}**. "
        + (f"Each cell is the weight from {unit_in} at that place of {target}'s {k} x {k} window (top row = above "
           "its centre): red excites, blue inhibits." if k > 1 else ""))
    _bottleneck_section(target, unit_in, kernel)


def _bottleneck_section(target: Unit, unit_in: Unit, kernel: np.ndarray) -> None:
    paths = _paths(str(target), unit_in.channel)
    if paths["kind"] == "conv":
        if target.layer == "logits":
            st.caption(f"The classes read {unit_in.layer} through a global average pool: one weight per unit, as stored.")
        else:
            st.caption(f"{target.layer} is a plain convolution: this map is its weight from {unit_in}, as stored.")
        return
    if paths["kind"] in ("1x1", "pool_reduce"):
        how = "a 1 x 1 convolution" if paths["kind"] == "1x1" else "a 3 x 3 max-pool, then a 1 x 1 convolution"
        st.caption(f"{target} is channel {paths['index']} of the {paths['branch']} branch, which reads {unit_in.layer} "
                   f"through {how}: one weight per input, no bottleneck and no spatial map.")
        return
    k = kernel.shape[-1]
    n = paths["bottleneck"]
    st.markdown(f"**How the {paths['kind']} branch reads {unit_in.layer}.** {target} is channel {paths['index']} of "
                f"{paths['branch']}. That branch does not see {unit_in.layer} directly: a 1 x 1 bottleneck first mixes "
                f"its {LAYERS[unit_in.layer].channels} channels down to **{n}**, and the {k} x {k} kernels read those. "
                f"So {unit_in} reaches {target} along {n} paths, one per bottleneck channel *b*: its weight into *b* "
                f"times *b*'s {k} x {k} kernel into {target}. The map above is the sum of all {n}.")
    shown = paths["order"][:PATHS_SHOWN]
    terms, squeeze = paths["terms"], paths["squeeze"]
    rest = terms[paths["order"][PATHS_SHOWN:]].sum(axis=0)
    panels = [terms[b] for b in shown] + [rest, paths["expanded"]]
    titles = ([f"via b={b}<br>{squeeze[b]:+.3f} × kernel" for b in shown]
              + [f"+ the other {n - len(shown)}<br>paths", "= expanded<br>weight"])
    scale = max(float(np.abs(p).max()) for p in panels) or 1.0
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles, horizontal_spacing=0.025)
    for col, (panel, title) in enumerate(zip(panels, titles), start=1):
        name = title.replace("<br>", " ")
        fig.add_trace(go.Heatmap(z=panel, zmin=-scale, zmax=scale, colorscale=DIVERGING, showscale=False,
                                 xgap=1, ygap=1, name=name,
                                 hovertemplate=name + "<br>row %{y}, column %{x}: %{z:+.4f}<extra></extra>"),
                      row=1, col=col)
        fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor=f"x{col if col > 1 else ''}",
                         fixedrange=True, row=1, col=col)
        fig.update_xaxes(showticklabels=False, fixedrange=True, row=1, col=col)
    fig.update_annotations(font_size=11)
    fig.update_layout(height=170, margin=dict(l=2, r=2, t=44, b=2), dragmode=False)
    st.plotly_chart(fig, key="cw_paths", config=PLOT_CONFIG)
    share = float(np.abs(terms[shown]).sum() / (np.abs(terms).sum() or 1.0))
    st.caption(f"The {len(shown)} biggest paths of {n} carry {share:.0%} of the total absolute weight; one colour "
               f"scale for all six maps (full colour at ±{scale:.3f}). The bottleneck's ReLU is skipped, as the "
               f"articles' expanded weights skip it; the sum matches interp.circuits.expanded_weights to within "
               f"{paths['check']:.0e}.")


# -- step 2: curves from curves -----------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=1)
def _curve_family() -> dict:
    """The articles' curve detectors of mixed3b, each with its preferred angle measured here on drawn arcs and
    its strongest input among the articles' early curves of mixed3a, with that input's weight map."""
    model, _ = shared_model()
    catalogue = load_catalogue()
    family = next(f for f in catalogue.families if f.name == "Curve detectors")
    early = next(f for f in catalogue.families if f.name == "Early curves")
    # Each detector's preferred arc angle, measured by tools/find_roles.py (interp.story.roles.curve_scores) and kept
    # in the roles catalogue, so this step needs no forward pass.
    curve = find("curve-detector")
    angles = {parse_unit(u).channel: a for u, a in ((curve.evidence.get("family_angles") or {}) if curve else {}).items()}
    circuits = {parse_unit(u).channel: c for u, c in ((curve.evidence.get("family_circuits") or {}) if curve else {}).items()}
    rows = []
    for c in family.channels:
        unit = Unit(family.layer, c)
        kernels = expanded_weights(model, unit).numpy()
        excitation = np.clip(kernels, 0, None).sum(axis=(1, 2))
        order = np.argsort(-excitation, kind="stable")
        rank = {int(ch): i + 1 for i, ch in enumerate(order)}
        best = max(early.channels, key=lambda ch: excitation[ch])
        rows.append({"unit": str(unit), "angle": angles.get(c), "circuit": circuits.get(c), "input": int(best), "rank": rank[int(best)], "of": len(order),
                     "kernel": kernels[int(best)], "top": int(order[0]), "top_is_early": int(order[0]) in early.channels})
    rows.sort(key=lambda r: (r["angle"] is None, r["angle"] or 0))
    return {"rows": rows, "layer": family.layer, "source": early.layer}


@st.cache_data(show_spinner=False, max_entries=32)
def _arc_image(angle: int, side: int = 96) -> Image.Image:
    """The drawn arc a detector answers most (interp.dataset.stimuli.arc, radius 50), cropped around the centre."""
    from interp.dataset.intake import tensor_to_pil
    from interp.dataset.stimuli import arc

    image = tensor_to_pil(arc(angle, 50))
    return image.crop((52, 52, 172, 172)).resize((side, side), Image.LANCZOS)


def curve_family() -> None:
    model = _model()
    if model is None:
        return
    family = _curve_family()
    rows = family["rows"]
    scale = max(float(np.abs(r["kernel"]).max()) for r in rows) or 1.0
    with photos.photo_notice():
        pictures = {u: unit_picture(parse_unit(u))[0] for u in [r["unit"] for r in rows]}
        sources = {r["input"]: unit_picture(Unit(family["source"], r["input"]))[0] for r in rows}

        def grid_row(label: str, fill) -> None:
            cols = st.columns([1.5] + [1] * len(rows), gap="small", vertical_alignment="center")
            cols[0].caption(label)
            for col, row in zip(cols[1:], rows):
                with col:
                    fill(row)

        grid_row(f"{family['layer']} curve detector, its angle", lambda r: st.markdown(
            f"**{parse_unit(r['unit']).channel}**" + (f"<br>{r['angle']}°" if r["angle"] is not None else ""),
            unsafe_allow_html=True))
        grid_row("drawn arc it answers most", lambda r: r["angle"] is not None and st.image(
            _arc_image(r["angle"]), width="stretch"))
        grid_row(f"angle its {family['source']} inputs carry (weights alone)", lambda r: st.caption(
            f"**{r['circuit']['circuit_angle']}°**<br>r {r['circuit']['correlation']:.2f}" if r["circuit"] else "?",
            unsafe_allow_html=True))
        grid_row("its picture", lambda r: st.image(pictures[r["unit"]], width="stretch"))
        grid_row(f"strongest early curve of {family['source']}", lambda r: st.image(sources[r["input"]], width="stretch"))
        grid_row("its number, rank", lambda r: st.caption(
            f"**{r['input']}**<br>#{r['rank']}", unsafe_allow_html=True))
        grid_row("its 5 x 5 weights into the detector",
                 lambda r: st.image(weight_map(r["kernel"], scale, 96), width="stretch"))
    words, wheel = st.columns([3, 2], vertical_alignment="center")
    with wheel:
        _angle_wheel(rows)
    shared = {}
    for r in rows:
        shared.setdefault(r["input"], []).append(r)
    groups = "; ".join(f"{short(Unit(family['source'], c))} for {len(rs)} ({', '.join(_degrees(r) for r in rs)})"
                       for c, rs in sorted(shared.items(), key=lambda item: -len(item[1])) if len(rs) > 1)
    leaders = sum(r["top_is_early"] for r in rows)
    measured = ("The angles are measured on drawn arcs of 24 orientations (0° = bulging right, 90° = down): first the "
                "detector's own, then the angle its mixed3a inputs prefer when the arcs' mixed3a activations are run "
                "through the detector's expanded weights alone (interp.story.roles.curve_circuits), with r, how closely "
                "that tuning curve follows the detector's. The early curves' own angles are not measured here.")
    words.caption(f"The articles' curve detectors of {family['layer']}, ordered by the angle of the drawn arc each "
                  f"answers most. Under each: the articles' early curve of {family['source']} that excites it most, "
                  f"its rank among all {rows[0]['of']} inputs by excitation (#), and its 5 x 5 weight map into the "
                  f"detector (one colour scale, full at ±{scale:.2f}; red excites, blue inhibits). "
                  f"An early curve is the strongest input of all for {leaders} of {len(rows)} detectors. "
                  + (f"Shared early curves: {groups}. " if groups else "") + measured)


def _degrees(row: dict) -> str:
    return f"{row['angle']}°" if row["angle"] is not None else "?"


def _angle_wheel(rows: list[dict]) -> None:
    """The measured angles as spokes on a wheel: a family of rotated copies covers the circle."""
    shown = [r for r in rows if r["angle"] is not None]
    if not shown:
        return
    fig = go.Figure()
    for i, r in enumerate(shown):
        reach = 1.0 if i % 2 == 0 else 0.7  # neighbours alternate, so close angles keep readable labels
        fig.add_trace(go.Scatterpolar(r=[0, reach], theta=[r["angle"]] * 2, mode="lines+markers+text",
                                      text=["", short(r["unit"])], textposition="middle right",
                                      textfont=dict(size=9), line=dict(color="#c0392b", width=2),
                                      marker=dict(size=[0, 7]), showlegend=False,
                                      hovertemplate=f"{r['unit']}: {r['angle']}°<extra></extra>"))
    fig.update_layout(height=220, margin=dict(l=24, r=24, t=16, b=16), dragmode=False,
                      polar=dict(radialaxis=dict(visible=False, range=[0, 1.15]),
                                 angularaxis=dict(direction="clockwise", rotation=0, tickfont=dict(size=9))))
    st.plotly_chart(fig, key="curve_wheel", config=PLOT_CONFIG)


# -- step 3: a car from parts -------------------------------------------------------------------------------------

_POSITION = re.compile(r"\b(top|middle|bottom)\b")


def _claimed(claim: str, verb: str) -> str | None:
    """Where the article's claim puts ``verb`` (excite / inhibit): the first top/middle/bottom in its clause."""
    other = "inhibit" if verb == "excite" else "excite"
    match = re.search(rf"{verb}\w*(.*?)(?:\b{other}|$)", claim)
    found = _POSITION.search(match.group(1)) if match else None
    return found.group(1) if found else None


def verdict(role: Role) -> list[str]:
    """Where this part's weights excite and inhibit the detector, against where the article says: sentences."""
    kernel = np.asarray(role.evidence["kernel"], dtype=np.float64)
    rows = _row_names(kernel.shape[0])
    positive, negative = np.clip(kernel, 0, None).sum(axis=1), np.clip(kernel, None, 0).sum(axis=1)
    excites = rows[int(positive.argmax())]
    said = []
    claim_excite, claim_inhibit = _claimed(role.spec.claim, "excite"), _claimed(role.spec.claim, "inhibit")
    if claim_excite:
        if claim_excite == excites:
            said.append(f":green[**Agrees**]: excites most at the {excites} "
                        f"(row sums {', '.join(f'{v:+.3f}' for v in kernel.sum(axis=1))}), as the article says.")
        else:
            said.append(f":orange[**Differs**]: excites most at the **{excites}** here "
                        f"(row sums {', '.join(f'{v:+.3f}' for v in kernel.sum(axis=1))}); the article says the "
                        f"{claim_excite}.")
    if claim_inhibit:
        if kernel.min() >= 0:
            said.append(f":orange[**Differs**]: no weight inhibits at all here (the smallest is {kernel.min():+.4f}); "
                        f"the article says it inhibits at the {claim_inhibit}.")
        else:
            inhibits = rows[int(negative.argmin())]
            if inhibits == claim_inhibit:
                said.append(f":green[**Agrees**]: inhibits most at the {inhibits} (negative weights there add up "
                            f"to {negative.min():+.3f}), as the article says.")
            else:
                said.append(f":orange[**Differs**]: inhibits most at the **{inhibits}** here (negative weights "
                            f"there add up to {negative.min():+.3f}); the article says the {claim_inhibit}.")
    return said


def car_parts() -> None:
    roles = roles_or_none()
    car = find("car-detector")
    parts = [r for r in (find(p) for p in CAR_PARTS) if r is not None]
    if not roles or car is None or not parts:
        st.info(ROLES_MISSING)
        return
    with photos.photo_notice():
        head, words = st.columns([1, 3], vertical_alignment="center")
        with head:
            show_unit(car.unit, "car detector")
        words.markdown(f"**{car.unit}**, the car detector in these weights (car AUC {car.evidence.get('auc')}; "
                       f"the articles' {short(car.article_unit)} reaches {car.evidence.get('article_auc')}). "
                       f"Its parts, found among its strongest inputs from mixed4b: windows, wheels and body.")
        words.caption(f"The article: {car.spec.claim}. *({car.spec.source})*")
        scale = max(float(np.abs(np.asarray(p.evidence["kernel"])).max()) for p in parts)
        tops = photos.top_photos([p.unit for p in parts])
        for col, part in zip(st.columns(len(parts)), parts):
            with col.container(border=True):
                st.markdown(f"**{part.spec.title}** · [{part.unit}](microscope?unit={part.unit})")
                render, photo = st.columns(2)
                found = picture_for(part.unit)
                if found:
                    render.image(found[0], width="stretch", caption="render")
                top = tops.get(part.unit)
                photo.image(top.image if top else photos.placeholder(photos.THUMB), width="stretch",
                            caption=f"top photo: {top.label}" if top else "no photo")
                st.plotly_chart(kernel_figure(np.asarray(part.evidence["kernel"]), scale, height=160, columns=False,
                                              numbers=False),
                                key=f"car_kernel_{part.id}", config=PLOT_CONFIG)
                ev = part.evidence
                st.caption(f"Rank {ev.get('excite_rank')} of {ev.get('of')} inputs by excitation; car AUC "
                           f"{ev.get('car_auc')}. The article: {part.spec.claim}.")
                for line in verdict(part):
                    st.markdown(line)
                if part.article_unit is not None and part.article_unit != part.unit:
                    st.caption(f"The articles' {short(part.article_unit)} ranks {ev.get('article_excite_rank')} of "
                               f"{ev.get('of')} here (car AUC {ev.get('article_car_auc')}).")
        st.caption(f"Weights into {car.unit} from each part, as {len(parts[0].evidence['kernel'])} x "
                   f"{len(parts[0].evidence['kernel'])} maps over the detector's window (row 0 = top), one colour "
                   f"scale (full at ±{scale:.3f}); from interp/data/roles.json, computed from these weights by "
                   "tools/find_roles.py.")


# -- step 4: heads in any pose ------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=4)
def _mirror_test(photo_id: str, units: tuple[str, ...], _image: np.ndarray) -> dict:
    """Each unit's largest activation on a photo (cached by its id) and on its mirror image."""
    from interp.dataset.intake import pil_to_tensor
    from interp.network.activations import capture

    model, _ = shared_model()
    tensor = pil_to_tensor(Image.fromarray(_image)).unsqueeze(0)
    parsed = [parse_unit(u) for u in units]
    layers = sorted({u.layer for u in parsed})
    out = {}
    for name, batch in (("photo", tensor), ("mirror", tensor.flip(-1))):
        acts = capture(model, batch, layers)
        out[name] = [float(acts[u.layer][0, u.channel].max()) for u in parsed]
    return out


def dog_heads() -> None:
    left, right, merged = find("dog-head-left"), find("dog-head-right"), find("dog-head")
    if not (left and right and merged):
        st.info(ROLES_MISSING)
        return
    has_model = weights_ready()
    with photos.photo_notice():
        cols = st.columns(3)
        for col, role, what in zip(cols, (left, right, merged), ("facing left", "facing right", "any pose")):
            with col.container(border=True):
                st.markdown(f"**{role.spec.title}** · [{role.unit}](microscope?unit={role.unit})")
                image, where = unit_picture(role.unit)
                st.image(image, width="stretch", caption=where)
                _top_crops(role.unit)
                ev = role.evidence
                if role is merged:
                    st.caption(f"Dog AUC {ev.get('dog_auc')}; a photo and its mirror image give it nearly the same "
                               f"response (r = {ev.get('flip_correlation')}). Among its {ev.get('of')} inputs, "
                               f"{left.unit} ranks **{ev.get('left_rank')}** and {right.unit} ranks "
                               f"**{ev.get('right_rank')}**.")
                else:
                    st.caption(f"Dog AUC {ev.get('dog_auc')}. On the {ev.get('dog_photos')} dog photos, it matches "
                               f"{ev.get('partner')} on the mirrored photos (r = **{ev.get('mirror_correlation')}**) "
                               f"far better than on the same photos (r = {ev.get('plain_correlation')}).")
        if not has_model:
            st.caption("The weight maps and the mirror test need the model's weights.")
            return
        if _model() is None:
            return
        kernels = [_edge(str(r.unit), str(merged.unit)) for r in (left, right)]
        scale = max(float(np.abs(k["kernel"]).max()) for k in kernels) or 1.0
        maps = st.columns([1, 1, 1.2], vertical_alignment="center")
        for col, role, k in zip(maps, (left, right), kernels):
            with col:
                st.markdown(f"**{short(role.unit)} → {short(merged.unit)}** (rank {k['rank']} of {k['of']})")
                st.plotly_chart(kernel_figure(k["kernel"], scale, height=190), key=f"dog_kernel_{role.id}",
                                config=PLOT_CONFIG)
        a, b = (k["kernel"].ravel() for k in kernels)
        flipped = kernels[1]["kernel"][:, ::-1].ravel()
        as_is, mirrored = float(np.corrcoef(a, b)[0, 1]), float(np.corrcoef(a, flipped)[0, 1])
        maps[2].markdown(f"The two maps are mirror images: {short(left.unit)}'s map against {short(right.unit)}'s "
                         f"flipped left to right correlates at **r = {mirrored:.2f}** (unflipped: {as_is:.2f}).")
        _mirror_demo(left, right, merged)


def _top_crops(unit: Unit, count: int = 3) -> None:
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


def _mirror_demo(left: Role, right: Role, merged: Role) -> None:
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
    values = _mirror_test(photo.id, units, image)
    pic, mirror, chart = st.columns([1, 1, 2.2], vertical_alignment="top")
    pic.image(image, width="stretch", caption=f"{photo.label} (facing right)")
    mirror.image(image[:, ::-1], width="stretch", caption="its mirror image")
    names = [f"{short(left.unit)} left", f"{short(right.unit)} right", f"{short(merged.unit)} any pose"]
    fig = go.Figure([go.Bar(name=name, x=names, y=values[key], marker_color=colour,
                            hovertemplate="%{x}: %{y:.1f}<extra>" + name + "</extra>",
                            text=[f"{v:.0f}" for v in values[key]], textposition="outside")
                     for key, name, colour in (("photo", "photo", "#3d5a80"), ("mirror", "mirror image", "#ee964b"))])
    fig.update_layout(height=230, margin=dict(l=4, r=4, t=24, b=4), barmode="group", dragmode=False,
                      yaxis_title="largest activation", legend=dict(orientation="h", y=1.12, x=0))
    chart.plotly_chart(fig, key="dog_mirror", config=PLOT_CONFIG)


# -- step 5: watch it run -----------------------------------------------------------------------------------------

CIRCUITS = {"car": "Car: windows, wheels, body → car detector", "dog": "Dog heads: left, right → any pose"}
_PHOTO_STATE = "circuit_photo"  # {circuit: photo id or PICKER}, kept across steps (widget state is not)


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
    1,000), from the atlas."""
    from interp.story.hierarchy import group_of
    from interp.story.roles import CAR_CLASSES

    units = circuit_units(circuit)
    if units is None:
        return []
    atlas = load_atlas()
    target = units[1][1]
    values = atlas.activations(target)
    mask = (atlas.class_mask(CAR_CLASSES) if circuit == "car"
            else np.array([group_of(p.synset) == "dog" for p in atlas.photos]))
    order = [int(i) for i in np.argsort(-values, kind="stable") if mask[i]][:PHOTO_CHOICES]
    return [(atlas.photos[i].id, float(values[i]), int((values > values[i]).sum()) + 1) for i in order]


def _photo_label(photo_id: str, choices: dict, target: Unit) -> str:
    if photo_id == PICKER:
        return "A sample picture, or your upload"
    from interp.dataset.photos import photo as photo_named

    peak, rank = choices[photo_id]
    return f"{photo_named(photo_id).label} · {short(target)} peaks at {peak:.0f} (#{rank} of 1,000)"


def _shared_choice(name: str, widget: str, options: list, default) -> tuple:
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
        choices = {pid: (peak, rank) for pid, peak, rank in photo_choices(circuit)}
    except (AtlasError, InterpError):
        choices = {}
    options = list(choices) + [PICKER]
    widget = f"{key}_photo_{circuit}"
    choice, remember = _shared_choice(f"photo_{circuit}", widget, options, options[0])
    st.selectbox("Photo", options, key=widget, on_change=remember,
                 format_func=lambda p: _photo_label(p, choices, units[1][1]),
                 help="Of the 1,000 photos, those of this circuit's kind on which its last unit fires most; or a "
                      "sample picture, or your own.")
    return photos.photo_or_upload(choice, f"{key}_picker")


@st.cache_data(show_spinner=False, max_entries=32)
def circuit_maps(key: str, circuit: str, mirrored: bool, _tensor) -> dict[str, np.ndarray]:
    """The activation maps of the circuit's units on one picture (one forward pass), by unit name."""
    from interp.network.activations import capture

    model, _ = shared_model()
    inputs, target = circuit_units(circuit)
    units = [u for _, u in inputs] + [target[1]]
    tensor = _tensor.flip(-1) if mirrored else _tensor
    acts = capture(model, tensor, sorted({u.layer for u in units}))
    return {str(u): acts[u.layer][0, u.channel].numpy() for u in units}


def _circuit_picker(key: str) -> str:
    options = list(CIRCUITS)
    widget = f"{key}_circuit"
    choice, remember = _shared_choice("circuit", widget, options, options[0])
    st.segmented_control("Circuit", options, key=widget, required=True, format_func=CIRCUITS.get,
                         on_change=remember)
    return st.session_state.get(widget) or choice


def _controls(key: str, mirror: bool = False):
    """Circuit and photo pickers (shared by steps 5 and 6): (circuit, (inputs, target), picture, mirrored) or
    None (with a message)."""
    circuit = _circuit_picker(key)
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


def _peak(values: np.ndarray) -> tuple[int, int]:
    y, x = np.unravel_index(int(values.argmax()), values.shape)
    return int(y), int(x)


def circuit_live() -> None:
    """The circuit's units on a photo, side by side: the parts light up where they are, the detector where they
    meet."""
    if _model() is None:
        return
    with photos.photo_notice():
        controls = _controls("cl", mirror=True)
        if controls is None:
            return
        circuit, (inputs, (target_label, target)), (key, tensor, image, name, collection), mirrored = controls
        maps = circuit_maps(key, circuit, mirrored, tensor)
        shown = Image.fromarray(np.ascontiguousarray(image[:, ::-1] if mirrored else image))
        photo_col, target_col = st.columns(2)
        photo_col.image(shown, width="stretch", caption=f"{name}{' (mirrored)' if mirrored else ''}")
        values = maps[str(target)]
        ty, tx = _peak(values)
        target_col.image(overlay(shown, values), width="stretch",
                         caption=f"{target_label}: {target} · peak {values.max():.0f} at row {ty}, column {tx}")
        for col, (label, unit) in zip(st.columns(len(inputs)), inputs):
            part = maps[str(unit)]
            y, x = _peak(part)
            col.image(overlay(shown, part), width="stretch",
                      caption=f"{label}: {unit} · peak {part.max():.0f} at row {y}, column {x}")
        there = ", ".join(f"{label} {maps[str(u)][ty, tx] / (maps[str(u)].max() or 1):.0%}" for label, u in inputs)
        grid = values.shape[0]
        st.caption(f"Each map on its own colour scale (brightest = that unit's peak), over the {grid} x {grid} grid "
                   f"of {target.layer}. Where {target} peaks, each of its inputs is at this share of its own peak: "
                   f"{there}." + (f" {photos.credit()}" if collection else ""))


# -- step 6: prove it, ablation -----------------------------------------------------------------------------------

DRAWS = 8  # random control ablations
ROW_WORDS = ("above", "level with", "below")  # the rows of a weight map, from the target's peak


def _response(result) -> dict:
    return {"map": result.after.map, "max": result.after.max, "mean": result.after.mean,
            "units": [str(u) for u in result.zeroed]}


@st.cache_data(show_spinner=False, max_entries=64)
def ablation_result(key: str, unit: str, zeroed: tuple[str, ...], region: tuple[int, int, int, int] | None,
                    _tensor) -> dict:
    """``interp.ablation.ablate`` on one picture (cached by its key): the target's map before and after."""
    from interp.ablation import ablate

    model, _ = shared_model()
    result = ablate(model, _tensor, unit, zero=list(zeroed), region=region)
    return {"before": result.before.map, "before_max": result.before.max, "before_mean": result.before.mean,
            **_response(result), "drop": result.drop}


@st.cache_data(show_spinner=False, max_entries=32)
def random_control(key: str, unit: str, layer: str, k: int, exclude: tuple[str, ...], _tensor) -> list[dict]:
    """The control: ``k`` random units of ``layer`` switched off instead, ``DRAWS`` times (seed 0)."""
    from interp.ablation import random_ablations

    model, _ = shared_model()
    return [_response(r) for r in random_ablations(model, _tensor, unit, layer, k, draws=DRAWS, seed=0,
                                                   exclude=list(exclude))]


def ablation() -> None:
    """Switch the circuit's inputs off and watch its last unit fade, against random units switched off instead;
    and switch one input off in one row of its weight map only."""
    if _model() is None:
        return
    with photos.photo_notice():
        controls = _controls("ab")
        if controls is None:
            return
        circuit, (inputs, (target_label, target)), (key, tensor, image, name, collection), _ = controls
        st.markdown("**Switch off**")
        ticks = st.columns(len(inputs))
        zeroed = tuple(str(unit) for (label, unit), col in zip(inputs, ticks)
                       if col.checkbox(f"{label} ({short(unit)})", value=True, key=f"ab_zero_{circuit}_{unit}"))
        layer = inputs[0][1].layer
        result = ablation_result(key, str(target), zeroed, None, tensor)
        before, after = result["before_max"], result["max"]
        controls_ = random_control(key, str(target), layer, len(zeroed), tuple(str(u) for _, u in inputs),
                                   tensor) if zeroed else []
        shown = Image.fromarray(np.ascontiguousarray(image))
        a, b = st.columns(2)
        a.image(overlay(shown, result["before"], vmax=before or 1.0), width="stretch",
                caption=f"{target_label} ({target}) as it is: peak {before:.0f}")
        b.image(overlay(shown, result["map"], vmax=before or 1.0), width="stretch",
                caption=f"with {len(zeroed)} unit{'s' if len(zeroed) != 1 else ''} of {layer} switched off: "
                        f"peak {after:.0f} (same colour scale)")
        m1, m2, m3 = st.columns(3)
        m1.metric("Peak before", f"{before:.0f}")
        m2.metric(f"After switching off {len(zeroed)}", f"{after:.0f}",
                  delta=f"{after - before:+.0f} ({-result['drop']:+.0%})" if zeroed else None)
        if controls_:
            values = [c["max"] for c in controls_]
            m3.metric(f"{len(zeroed)} random units instead", f"{np.median(values):.0f}",
                      delta=f"{np.median(values) - before:+.0f}",
                      help=f"The median of {DRAWS} draws of {len(zeroed)} units of {layer} (the circuit's own inputs "
                           f"left out, seed 0); they range from {min(values):.0f} to {max(values):.0f}.")
        st.plotly_chart(_ablation_chart(target, before, after, zeroed, controls_, layer), key="ab_chart",
                        config=PLOT_CONFIG)
        _row_ablation(key, tensor, inputs, target, result["before"])
        st.caption(f"Photo: {name}. Switched off means set to zero after the unit's ReLU, everywhere on its grid, so that "
                   "every later layer sees it silent (interp.ablation)." + (f" {photos.credit()}" if collection else ""))


def _ablation_chart(target: Unit, before: float, after: float, zeroed: tuple[str, ...], controls: list[dict],
                    layer: str) -> go.Figure:
    """The peak as it is, with the circuit's inputs switched off, and with random units switched off instead."""
    chosen = f"{len(zeroed)} circuit input{'s' if len(zeroed) != 1 else ''} off"
    fig = go.Figure(go.Bar(x=["as it is", chosen], y=[before, after], marker_color=["#3d5a80", "#e4572e"],
                           text=[f"{before:.0f}", f"{after:.0f}"], textposition="outside", showlegend=False,
                           customdata=[", ".join(zeroed) or "none", ", ".join(zeroed) or "none"],
                           hovertemplate="%{x}: peak %{y:.1f}<br>switched off: %{customdata}<extra></extra>"))
    if controls:
        label = f"{len(zeroed)} random units of {layer} off ({len(controls)} draws)"
        fig.add_trace(go.Box(x=[label] * len(controls), y=[c["max"] for c in controls], boxpoints="all",
                             jitter=0.4, pointpos=0, marker=dict(color="#7f7f7f", size=7), line=dict(color="#7f7f7f"),
                             fillcolor="rgba(127,127,127,0.15)", showlegend=False,
                             customdata=[", ".join(short(u) for u in c["units"]) for c in controls],
                             hovertemplate="peak %{y:.1f}<br>switched off: %{customdata}<extra></extra>"))
    top = max([before, after] + [c["max"] for c in controls])
    fig.update_layout(height=240, margin=dict(l=4, r=4, t=10, b=4), dragmode=False,
                      yaxis=dict(title=f"peak of {short(target)}", range=[0, top * 1.15], fixedrange=True),
                      xaxis=dict(fixedrange=True))
    return fig


def _row_ablation(key: str, tensor, inputs: list[tuple[str, Unit]], target: Unit, before: np.ndarray) -> None:
    """One input switched off only in one row of its weight map around the target's peak (above, level with,
    below): the geometry the weights promised, tested on the photo."""
    with st.container(border=True):
        st.markdown("**One part, one row.** Switch one input off only in the row of its weight map above, level "
                    "with or below the place where the detector peaks, and compare with what its weights say.")
        labels = {str(u): f"{label} ({short(u)})" for label, u in inputs}
        default = next((str(u) for label, u in inputs if "wheel" in label), str(inputs[0][1]))
        part = st.selectbox("Input", list(labels), index=list(labels).index(default), format_func=labels.get,
                            key=f"ab_row_part_{target}")
        kernel = _edge(part, str(target))["kernel"]
        k = kernel.shape[0]
        py, px = _peak(before)
        side = before.shape[0]
        at_peak = float(before[py, px])
        cols = st.columns(3)
        for col, (row, words) in zip(cols, ((0, ROW_WORDS[0]), (k // 2, ROW_WORDS[1]), (k - 1, ROW_WORDS[2]))):
            y = py + row - k // 2
            if not 0 <= y < side:
                col.metric(f"Row {words}", "off the grid")
                continue
            region = (y, y + 1, max(0, px - k // 2), min(side, px + k // 2 + 1))
            after = float(ablation_result(key, str(target), (part,), region, tensor)["map"][py, px])
            col.metric(f"Off {words} the peak", f"{after:.0f}", delta=f"{after - at_peak:+.0f}",
                       help=f"{labels[part]} set to zero in row {y}, columns {region[2]}-{region[3] - 1} of "
                            f"{inputs[0][1].layer}, read by row {row + 1} of its {k} x {k} weight map into "
                            f"{target}.")
            col.caption(f"weights in that row add up to **{kernel[row].sum():+.3f}**")
        st.caption(f"{short(target)} at its peak (row {py}, column {px} of {side} x {side}) is {at_peak:.0f} with "
                   f"nothing switched off. Where a row's weights are positive, switching the input off there should "
                   f"lower it; where they are negative, raise it.")


# -- step 7: your turn, a circuit graph ---------------------------------------------------------------------------

MICROSCOPE_PAGE = "pages/11_microscope.py"
THUMB_PX = 72


@st.cache_data(show_spinner=False, max_entries=256)
def _thumbnail(unit: str) -> tuple[str, str]:
    """(data URI of a small JPEG, where it comes from): the unit's render, else its top photo's crop."""
    import base64
    import io

    here = parse_unit(unit)
    found = picture_for(here)
    if found:
        image, where = Image.open(found[0]).convert("RGB"), "render"
    else:
        top = photos.top_photo(here)
        if top is None:
            return "", "no picture"
        image, where = Image.open(io.BytesIO(top.image)).convert("RGB"), f"top photo: {top.label}"
    out = io.BytesIO()
    image.resize((THUMB_PX, THUMB_PX), Image.LANCZOS).save(out, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii"), where


@st.cache_data(show_spinner=False, max_entries=32)
def _graph(unit: str, top: int, by: str) -> dict:
    from interp.circuits import circuit_graph as build

    model, _ = shared_model()
    graph = build(model, unit, depth=2, top=top, by=by)
    return {"unit": str(graph.unit), "nodes": [str(n) for n in graph.nodes],
            "edges": [{"source": str(e.source), "target": str(e.target), "excitation": e.excitation,
                       "inhibition": e.inhibition, "net": e.net, "rank": e.rank, "of": e.of}
                      for e in graph.edges]}


def _graph_height(tallest: int) -> int:
    return max(340, 78 * tallest + 90)


def _node_px(tallest: int) -> int:
    """A node picture's side in pixels: 0.6 of the spacing between nodes (the layout images' sizey)."""
    return int(0.6 * (_graph_height(tallest) - 12) / (tallest + 0.4))


def graph_figure(graph: dict) -> go.Figure:
    """Nodes in columns by layer (the unit on the right), each with its picture; edges red when their weights
    add up to excitation, blue to inhibition, wider when stronger."""
    catalogue = load_catalogue()
    layers = list(dict.fromkeys(parse_unit(n).layer for n in graph["nodes"]))
    order = sorted(layers, key=lambda name: LAYERS[name].stage)
    column = {name: i for i, name in enumerate(order)}
    by_layer: dict[str, list[str]] = {}
    for node in graph["nodes"]:
        by_layer.setdefault(parse_unit(node).layer, []).append(node)
    tallest = max(len(v) for v in by_layer.values())
    position = {}
    for name, nodes in by_layer.items():
        for i, node in enumerate(nodes):
            position[node] = (column[name], (len(nodes) - 1) / 2 - i)
    fig = go.Figure()
    strongest = max((abs(e["excitation"]) + abs(e["inhibition"]) for e in graph["edges"]), default=1.0) or 1.0
    mid_x, mid_y, mid_text = [], [], []
    for e in graph["edges"]:
        (x0, y0), (x1, y1) = position[e["source"]], position[e["target"]]
        strength = abs(e["excitation"]) + abs(e["inhibition"])
        colour = "rgba(178,24,43,0.75)" if e["net"] >= 0 else "rgba(33,102,172,0.75)"
        fig.add_trace(go.Scatter(x=[x0, x1], y=[y0, y1], mode="lines", hoverinfo="skip",
                                 line=dict(color=colour, width=1 + 9 * strength / strongest), showlegend=False))
        mid_x.append((x0 + x1) / 2)
        mid_y.append((y0 + y1) / 2)
        mid_text.append(f"{e['source']} → {e['target']}<br>rank {e['rank']} of {e['of']}<br>"
                        f"positive {e['excitation']:+.3f}, negative {e['inhibition']:+.3f}, net {e['net']:+.3f}")
    fig.add_trace(go.Scatter(x=mid_x, y=mid_y, mode="markers", marker=dict(size=10, color="rgba(0,0,0,0)"),
                             hovertext=mid_text, hoverinfo="text", showlegend=False, name="edges"))
    names = graph["nodes"]
    hover, labels = [], []
    for node in names:
        unit = parse_unit(node)
        said = gloss(unit, catalogue.meaning(unit))
        where = _thumbnail(node)[1]
        hover.append(f"<b>{node}</b>" + (f"<br>{said}" if said else "") + f"<br>{where}<br>click to open in the Microscope")
        labels.append(short(node))
        uri = _thumbnail(node)[0]
        if uri:
            x, y = position[node]
            fig.add_layout_image(source=uri, x=x, y=y, xref="x", yref="y", sizex=0.5, sizey=0.6,
                                 xanchor="center", yanchor="middle", layer="above", sizing="contain")
    fig.add_trace(go.Scatter(
        x=[position[n][0] for n in names], y=[position[n][1] for n in names], mode="markers+text",
        marker=dict(size=_node_px(tallest) + 6, symbol="square", color="rgba(255,255,255,0.01)",
                    line=dict(color=["#111" if n == graph["unit"] else "#bbb" for n in names], width=2)),
        text=labels, textposition="bottom center", textfont=dict(size=11), customdata=names,
        hovertext=hover, hoverinfo="text", showlegend=False, name="units"))
    for name, i in column.items():
        fig.add_annotation(x=i, y=(tallest - 1) / 2 + 0.6, text=f"<b>{name}</b>", showarrow=False,
                           font=dict(size=12, color="#555"))
    fig.update_layout(height=_graph_height(tallest), margin=dict(l=4, r=4, t=8, b=4), dragmode=False,
                      clickmode="event+select", hovermode="closest", plot_bgcolor="white",
                      xaxis=dict(visible=False, range=[-0.45, len(order) - 0.55], fixedrange=True),
                      yaxis=dict(visible=False, range=[-(tallest - 1) / 2 - 0.6, (tallest - 1) / 2 + 0.8],
                                 fixedrange=True))
    return fig


def circuit_graph() -> None:
    """Any unit's circuit two layers deep; clicking a node opens it in the Microscope."""
    if _model() is None:
        return
    car = _role_unit("car-detector")
    options = [u for u in unit_options() if parse_unit(u).layer != "conv2d0"]
    default = str(car) if car and str(car) in options else options[0]
    left, middle, right = st.columns([2.6, 1.1, 1.5])
    chosen = left.selectbox("Unit", options, index=options.index(default), key="cg_unit", format_func=option_label,
                            accept_new_options=True, help="Type any unit, such as 4c:447 or mixed3b:379.")
    top = middle.select_slider("Inputs each", [2, 3, 4], value=3, key="cg_top")
    by = right.segmented_control("Strongest by", ["excite", "inhibit"], default="excite", required=True,
                                 key="cg_by")
    try:
        unit = block_unit(parse_unit(chosen))
        source_layer(unit.layer)
    except (UnitError, InterpError) as error:
        st.error(str(error))
        return
    with photos.photo_notice():
        graph = _graph(str(unit), int(top), by or "excite")
        event = st.plotly_chart(graph_figure(graph), key="cg_chart", on_select="rerun", selection_mode="points",
                                config=PLOT_CONFIG)
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    clicked = next((p.get("customdata") for p in points if p.get("customdata") in graph["nodes"]), None)
    if clicked:
        st.switch_page(MICROSCOPE_PAGE, query_params={"unit": clicked})
    st.caption(f"{unit} and its {top} strongest inputs by {'excitation' if by != 'inhibit' else 'inhibition'}, and "
               f"theirs: expanded weights (interp.circuits.circuit_graph). Red edges add up to excitation, blue to "
               f"inhibition; width follows the sum of absolute weights. Hover over a node or the middle of an edge "
               f"for its numbers; click a node to open it in the Microscope, or use the links below.")
    links = st.columns(min(len(graph["nodes"]), 6))
    for i, node in enumerate(graph["nodes"]):
        links[i % len(links)].page_link(MICROSCOPE_PAGE, label=short(node), query_params={"unit": node},
                                        help=f"Open {node} in the Microscope", width="stretch")
