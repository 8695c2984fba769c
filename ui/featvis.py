"""Feature visualization in the browser: a live render that streams its images, and cached renders.

A live render stores its latest images in ``st.session_state`` as it goes, so a Stop click (which makes
Streamlit end the running script) or a page change keeps what was made. It takes its turn in the queue for heavy
work (``ui.jobs``): while other renders hold the machine, the picture's place says "waiting: N ahead".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from interp.dataset.intake import tensor_to_pil
from interp.errors import UnitError
from interp.featvis import objectives as obj
from interp.featvis import render
from interp.featvis.manifest import read_manifest
from interp.featvis.param import make_param
from interp.jobs import Cancelled
from interp.network.layers import parse_unit
from interp.story.catalogue import load_catalogue
from interp.story.roles import roles_named_for, roles_played_by
from ui import jobs
from ui.resources import require_model
from ui.roles import option_label, roles_or_none, unit_options
from ui.visuals.common import result_first, talking

SIZES = (96, 128, 160, 224)
STEPS = (64, 128, 256, 512)
PARAMS = {"fft": "Fourier", "pixel": "raw pixels", "cppn": "CPPN"}  # short: they fit a narrow column
MAX_KEPT = 12  # finished renders kept per browser session
STAGE_PX = 512  # px: a render as drawn for a room (the stage's height cap then sets its size on screen)

FEATVIS_ASSETS = Path(__file__).resolve().parents[1] / "assets" / "featvis"


def manifest() -> dict:
    """The precomputed pictures (tools/make_featvis_assets.py writes assets/featvis/manifest.json), re-read
    when the file changes (:func:`interp.featvis.manifest.read_manifest`)."""
    return read_manifest(FEATVIS_ASSETS / "manifest.json")


@dataclass(frozen=True)
class RenderRequest:
    unit: str
    size: int = 128
    steps: int = 256
    seed: int = 0
    param: str = "fft"
    objective: str = "channel"
    negative: bool = False

    def label(self) -> str:
        sign = "negative " if self.negative else ""
        return (
            f"{sign}{self.unit} · {self.objective} · {self.param} · {self.size} px · {self.steps} steps "
            f"· seed {self.seed}"
        )


def _kept() -> dict:
    return st.session_state.setdefault("featvis_renders", {})


def _keep(
    request: RenderRequest, image: np.ndarray, step: int, done: bool, value: float | None, seconds: float
) -> None:
    kept = _kept()
    kept.pop(request, None)
    kept[request] = {"image": image, "step": step, "done": done, "value": value, "seconds": seconds}
    while len(kept) > MAX_KEPT:
        kept.pop(next(iter(kept)))


def as_array(image) -> np.ndarray:
    """One rendered image (3 x H x W in [0, 1]) as an H x W x 3 uint8 array for st.image."""
    return np.asarray(tensor_to_pil(image))


def unit_presets() -> list[str]:
    """The units a picker offers: the story's roles as found in these weights first, then the articles' units."""
    return unit_options([str(note.unit) for note in load_catalogue().units])


def live_render(key: str, default_unit: str = "mixed3b:379") -> None:
    """Pick a unit and settings, press Render, watch it emerge; Stop keeps the image so far.

    In reading mode the settings come first, as in any tool. In presenter mode and on the stage the picture comes
    first and large (before a render, the very noise the render will start from), the unit's name and the Render
    and Stop buttons beside it, the settings folded away under it."""
    loaded = require_model()
    if loaded is None:
        return
    model, _ = loaded
    room = talking()
    result, controls = result_first("Pick a unit and settings")
    with controls:
        request = _settings(key, default_unit)
    if request is None:
        return
    with result:
        if room:  # the picture first and large; beside it, what it is and the buttons that run it
            left, right = st.columns([2, 3], vertical_alignment="center")
            frame = left.empty()
            with right:
                st.markdown(f"**{preset_label(request.unit)}**")
                with st.container(horizontal=True):
                    start = _button_pair(key)
                bar = st.empty()
        else:
            start = _buttons(key)
            bar, frame = st.empty(), st.empty()
    if start:
        try:
            _run(model, request, bar, frame)
        except Cancelled as error:  # refused as busy (interp.jobs.Busy): the memory or the queue was full
            bar.empty()
            jobs.cancelled_note(error)
    _show_kept(request, frame)


def _settings(key: str, default_unit: str) -> RenderRequest | None:
    """The unit and the render's settings; None (with the reason shown) when the unit cannot be rendered."""
    presets = unit_presets()
    left, right = st.columns([3, 2])
    typed = left.text_input(
        "Unit (layer:channel)",
        value=default_unit,
        key=f"{key}_unit",
        help=f"Any unit, e.g. {_examples_hint()}. Short names like 3b:379 work.",
    )
    note = _describe(typed)
    right.selectbox(
        "Or one of the story's units",
        ["(type one)"] + presets,
        key=f"{key}_preset",
        on_change=_use_preset,
        args=(key,),
        format_func=lambda u: _preset_label(u),
    )
    a, b, c, d = st.columns([1, 1, 1, 1.4])
    size = a.selectbox("Size (px)", SIZES, index=1, key=f"{key}_size")
    steps = b.selectbox("Steps", STEPS, index=2, key=f"{key}_steps")
    seed = c.number_input("Seed", 0, 10_000, 0, key=f"{key}_seed")
    param = d.selectbox(
        "Parameterisation",
        list(PARAMS),
        format_func=PARAMS.get,
        key=f"{key}_param",
        help="Fourier (the recipe): the picture's Fourier coefficients with decorrelated colour; raw pixels; or "
        "a small network that draws it (CPPN).",
    )
    try:
        unit = str(parse_unit(typed))
        obj.unit(unit)  # what cannot be rendered (a dummy class) says so before the Render button
    except UnitError as error:
        st.error(str(error))
        return None
    if note and not talking():  # a room reads the unit's role beside the picture; a reader gets the whole note
        st.caption(note)
    return RenderRequest(unit, int(size), int(steps), int(seed), param)


def _buttons(key: str) -> bool:
    """Render and Stop side by side, in columns; whether Render was pressed."""
    go, stop, _ = st.columns([1, 1, 3])
    return _button_pair(key, go, stop)


def _button_pair(key: str, go=st, stop=st) -> bool:
    start = go.button("Render", key=f"{key}_go", type="primary", icon=":material/play_arrow:")
    stop.button("Stop", key=f"{key}_stop", icon=":material/stop:", help="Ends the render and keeps the image so far.")
    return start


def _show_image(frame, image: np.ndarray, caption: str) -> None:
    """One frame of a render: in reading mode at up to four times its size; in presenter mode and on the stage as
    large as the screen allows (drawn at :data:`STAGE_PX`, so the stage's height cap, not the render's few pixels,
    sets its size)."""
    if talking():
        frame.image(_enlarged(image), caption=caption, width="content")
    else:
        frame.image(image, caption=caption, width=min(4 * image.shape[1], 448))


def _enlarged(image: np.ndarray) -> np.ndarray:
    side = max(STAGE_PX, image.shape[1])
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.LANCZOS))


def start_image(request: RenderRequest) -> np.ndarray:
    """The picture a render with these settings starts from: its parameterisation at step 0."""
    import torch

    with torch.no_grad():
        return as_array(make_param(request.param, [request.seed], request.size)()[0])


def _run(model, request: RenderRequest, bar, frame) -> None:
    """The render, in its turn in the queue for heavy work ("waiting: N ahead" shows where the picture will be)."""
    objective = obj.unit(request.unit, kind=request.objective, negative=request.negative)
    started = time.perf_counter()

    def progress(step: int, images) -> None:
        image = as_array(images[0])
        _keep(request, image, step, False, None, time.perf_counter() - started)  # kept before any UI call
        bar.progress(step / request.steps, text=f"Step {step} of {request.steps}")
        _show_image(frame, image, f"{request.unit} after {step} steps")

    def work():
        nonlocal started
        started = time.perf_counter()  # the render's own time, not the wait
        bar.progress(0.0, text=f"Step 0 of {request.steps}")
        return render(
            model,
            objective,
            size=request.size,
            steps=request.steps,
            seed=request.seed,
            param=request.param,
            progress=progress,
            every=max(4, request.steps // 32),
        )

    result = jobs.run(f"Render of {request.unit}", work, place=frame)
    _keep(
        request, as_array(result.images[0]), result.steps, not result.stopped, float(result.values[0]), result.seconds
    )
    bar.empty()


def _show_kept(request: RenderRequest, frame) -> None:
    kept = _kept().get(request)
    room = talking()
    if kept is None:
        caption = (
            f"The start: {'a random pattern' if request.param == 'cppn' else 'grey noise'}."
            if room
            else f"Where this render starts: {PARAMS[request.param]} noise, seed {request.seed}. Press Render to "
            "watch the image emerge from it."
        )
        _show_image(frame, start_image(request), caption)
        return
    if room:
        status = f"{request.unit} after {kept['step']} steps" + ("" if kept["done"] else " (stopped)")
        _show_image(frame, kept["image"], status)
        return
    status = (
        f"finished {kept['step']} steps in {kept['seconds']:.1f} s; objective {kept['value']:.1f}"
        if kept["done"]
        else f"stopped after {kept['step']} of {request.steps} steps"
    )
    _show_image(frame, kept["image"], f"{request.label()} ({status})")


def _use_preset(key: str) -> None:
    chosen = st.session_state.get(f"{key}_preset")
    if chosen and chosen != "(type one)":
        st.session_state[f"{key}_unit"] = chosen


def _preset_label(unit: str) -> str:
    if unit == "(type one)":
        return unit
    return preset_label(unit)


def preset_label(unit: str) -> str:
    """A picker's label: the role the unit plays in these weights (the article's number beside it), or, for an
    article's number that plays no role here, who does; else what the articles say about it."""
    return option_label(unit, load_catalogue().meaning)


def _examples_hint() -> str:
    roles = {r.id: r for r in roles_or_none() or ()}
    named = [
        f"{r.unit} ({r.spec.title.lower()})"
        for key in ("curve-detector", "car-detector", "dog-head")
        if (r := roles.get(key))
    ]
    return ", ".join(named) if named else "mixed3b:379"


def _describe(text: str) -> str | None:
    try:
        u = parse_unit(text)
    except UnitError:
        return None
    catalogue = load_catalogue()
    note, family = catalogue.note(u), catalogue.family_of(u)
    roles = roles_or_none() or ()
    plays = roles_played_by(u, roles)
    named = roles_named_for(u, roles, only_elsewhere=True)
    said = []
    for r in plays:
        article = (
            "as in the articles"
            if r.agrees
            else "the articles name no single unit"
            if r.agrees is None
            else f"the articles' number is {r.article_unit}"
        )
        said.append(
            f"plays the {r.spec.title.lower()} in these weights ({article}; its Microscope page shows how we know)"
        )
    for r in named:
        said.append(f"the articles' {r.spec.title.lower()}; in these weights the role is played by {r.unit}")
    if note:
        checked = " We could not reproduce this with these weights: see its Microscope page." if note.observed else ""
        said.append(f"the articles: {note.what} ({note.source}).{checked}")
    elif family:
        said.append(f"one of the {family.name.lower()} ({family.source})")
    return f"{u}: " + "; ".join(said) if said else None
