"""The app under memory pressure (AppTest): a large upload while the process is over its memory budget gets a
clear "busy, try again" message and a button, never an error about the picture and never a traceback; once
memory is back, the same upload reads. A heavy job refused as busy is not remembered as cancelled."""

from __future__ import annotations

import io

import pytest
from conftest import new_app
from PIL import Image

from interp import jobs, memory

pytestmark = pytest.mark.usefixtures("app_environment")


def big_flat_png() -> bytes:
    """2500 x 2500 RGBA: 25 MB to decode (a large decode: it takes its turn and its memory is checked)."""
    buffer = io.BytesIO()
    Image.new("RGBA", (2500, 2500), (200, 30, 30, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_large_upload_over_the_memory_budget_says_busy_then_reads(without_weights, monkeypatch):
    at = new_app().run()
    monkeypatch.setenv(memory.BUDGET_ENV, "200")  # far below what this process holds already
    at.file_uploader(key="hook_upload").upload("red square.png", big_flat_png(), "image/png").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]  # nothing is wrong with the picture
    busy = [w.value for w in at.warning if "busy" in w.value]
    assert len(busy) == 1 and busy[0].startswith("`red square.png`: The app is busy")
    assert "try again in a minute" in busy[0]
    monkeypatch.setenv(memory.BUDGET_ENV, "off")  # memory handed back
    at.button(key="hook_try_again").click().run()
    assert not at.exception and not at.error and not [w for w in at.warning if "busy" in w.value]
    assert at.selectbox(key="hook_choice").value == "__upload__"


def test_a_busy_refusal_is_not_remembered_as_a_cancel(monkeypatch):
    from ui import jobs as ui_jobs

    remembered: set[str] = set()
    monkeypatch.setattr(ui_jobs, "_cancelled", lambda: remembered)
    monkeypatch.setattr(jobs, "MAX_WAITING", 0)  # every job is refused: the line is full
    with pytest.raises(jobs.Busy) as info:
        ui_jobs.run("Render of mixed3b:379", lambda: pytest.fail("it ran"), key="render", sticky=True)
    assert info.value.label == "Render of mixed3b:379" and info.value.key == "render"
    assert remembered == set()  # asked again on the next run, not shown as cancelled
    monkeypatch.setattr(jobs, "MAX_WAITING", 32)
    assert ui_jobs.run("Render of mixed3b:379", lambda: 42, key="render", sticky=True) == 42


def test_the_same_pixels_in_another_file_are_the_same_picture():
    """What is computed from a picture is cached by its decoded pixels: a changed text chunk (the issue's way of
    defeating a cache keyed by the file's hash) or another lossless format is the same picture."""
    from interp.dataset.intake import load_image
    from ui.picker import pixel_key

    image = Image.new("RGB", (300, 200), (10, 120, 200))
    image.paste((250, 250, 0), (100, 50, 180, 150))

    def png(note: str) -> bytes:
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", note)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", pnginfo=info)
        return buffer.getvalue()

    first, second = png("one"), png("two")
    assert first != second
    bmp = io.BytesIO()
    image.save(bmp, "BMP")
    keys = {pixel_key(load_image(data)) for data in (first, second, bmp.getvalue())}
    assert len(keys) == 1
    other = image.copy()
    other.putpixel((150, 100), (0, 0, 0))
    buffer = io.BytesIO()
    other.save(buffer, "PNG")
    assert pixel_key(load_image(buffer.getvalue())) not in keys
