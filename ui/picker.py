"""Choose the picture every chapter looks at: a sample (committed, or a photo fetched on first use) or an upload.

The choice and the uploaded bytes live in ``st.session_state``, so they survive reruns and page changes. An
upload's name is the visitor's text: it is shown as written (:mod:`ui.plain`), never as Markdown. A picture's
``key``, which everything computed from it is cached by, is the digest of its decoded pixels: the same picture
in another file (a changed text chunk, another format) is the same picture, and is not computed again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from interp.dataset.intake import FILE_LIMIT_TEXT, MAX_PIXELS, SUPPORTED_TEXT, IntakeResult
from interp.dataset.samples import Sample, is_cached, load_catalog, sample_bytes
from interp.errors import InterpError
from interp.jobs import Busy
from ui import jobs, plain
from ui.resources import digest, intake

UPLOAD = "__upload__"
STATE = "picture"  # session_state key: {"choice": sample id or UPLOAD, "upload": (name, bytes) or None}
UPLOAD_TYPES = sorted({"jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"})


@st.cache_data(show_spinner=False, max_entries=1)
def samples() -> list[Sample]:
    return load_catalog()


@st.cache_data(show_spinner="Getting the sample picture ...", max_entries=16)
def _sample_data(sample_id: str) -> bytes:
    sample = next(s for s in samples() if s.id == sample_id)
    return sample_bytes(sample)


def _state() -> dict:
    if STATE not in st.session_state:
        # The first sample that needs no download (the committed dalmatian): every chapter opens offline.
        first = next((s.id for s in samples() if is_cached(s)), samples()[0].id)
        st.session_state[STATE] = {"choice": first, "upload": None}
    return st.session_state[STATE]


def _on_upload(key: str) -> None:
    uploaded = st.session_state.get(f"{key}_upload")
    if uploaded is not None:  # removing the file from the widget keeps the last upload available
        _state()["upload"] = (uploaded.name, uploaded.getvalue())
        _state()["choice"] = st.session_state[f"{key}_choice"] = UPLOAD


def _on_choice(key: str) -> None:
    _state()["choice"] = st.session_state[f"{key}_choice"]


def picture_picker(key: str = "picker") -> Picture | None:
    """The picker widgets and the chosen picture as model input; ``None`` (with a message) if it cannot be read."""
    state = _state()
    catalogue = {s.id: s for s in samples()}
    options = list(catalogue) + ([UPLOAD] if state["upload"] else [])
    if state["choice"] not in options:
        state["choice"] = options[0]
    st.session_state[f"{key}_choice"] = state["choice"]  # the widget shows the shared choice on every page

    def label(option: str) -> str:
        if option == UPLOAD:
            return f"Your upload: {state['upload'][0]}"
        sample = catalogue[option]
        return sample.title + ("" if is_cached(sample) else " (downloads on first use)")

    st.selectbox("Picture", options, format_func=label, key=f"{key}_choice", on_change=_on_choice, args=(key,))
    st.file_uploader(
        "Or upload your own",
        type=UPLOAD_TYPES,
        key=f"{key}_upload",
        on_change=_on_upload,
        args=(key,),
        help=f"{SUPPORTED_TEXT.replace(' and ', ' or ')}, up to {FILE_LIMIT_TEXT} and {MAX_PIXELS // 10**6} "
        "megapixels; large photos are scaled down.",
    )
    return current_picture(key)


@dataclass(frozen=True)
class Picture:
    key: str  # digest of the decoded pixels (pixel_key): the cache key for everything computed from it
    name: str
    image: IntakeResult

    @property
    def tensor(self):
        return self.image.tensor

    @property
    def display(self):
        return self.image.display


def available_pictures() -> list[tuple[str, bytes]]:
    """Every picture usable without a download: committed samples, photos already fetched, and the upload."""
    found = []
    for sample in samples():
        if is_cached(sample):
            try:
                found.append((sample.title, _sample_data(sample.id)))
            except InterpError:
                continue
    upload = _state().get("upload")
    if upload:
        found.append((f"Your upload: {upload[0]}", upload[1]))
    return found


def has_upload() -> bool:
    return bool(_state().get("upload"))


def current_picture(key: str = "picker") -> Picture | None:
    """The chosen picture, read and cached; shows a message and returns ``None`` if it cannot be had."""
    state = _state()
    if state["choice"] == UPLOAD and state["upload"]:
        name, data = state["upload"]
    else:
        sample = next((s for s in samples() if s.id == state["choice"]), samples()[0])
        name = sample.title
        try:
            data = _sample_data(sample.id)
        except InterpError as error:
            # Offline or unreachable: say so, and carry on with a committed sample so the chapter still works.
            fallback = next(s for s in samples() if s.path is not None and s.id != sample.id)
            st.warning(f"{error} Showing '{fallback.title}' instead.")
            state["choice"] = fallback.id
            name, data = fallback.title, _sample_data(fallback.id)
    jobs.arm_budget()  # a server keeps its memory budget from the first picture on
    try:
        image = intake(digest(data), data)
    except Busy as error:  # too many large pictures at once: nothing wrong with this one
        st.warning(f"{plain.name(name)}: {plain.prose(str(error))}", icon=":material/hourglass_disabled:")
        st.button("Try again", key=f"{key}_try_again", icon=":material/replay:")
        return None
    except InterpError as error:
        st.error(f"{plain.name(name)} **cannot be used.** {plain.prose(str(error))}", icon=":material/error:")
        return None
    return Picture(pixel_key(image), name, image)


def pixel_key(image: IntakeResult) -> str:
    """The digest of the model's input pixels: the cache key of everything computed from a picture."""
    return hashlib.sha256(image.tensor.numpy().tobytes()).hexdigest()[:16]


def credit_line() -> str | None:
    """Credit and licence of the chosen sample photo (shown under it), or ``None`` for uploads."""
    state = _state()
    sample = next((s for s in samples() if s.id == state["choice"]), None)
    if sample is None:
        return None
    if sample.kind == "generated":
        return f"{sample.title}: {sample.credit}, {sample.licence}"
    return (
        f"{sample.title}: photo by {sample.credit}, [{sample.licence}]({sample.licence_url}), "
        f"[source]({sample.source_page})"
    )
