"""A visitor's file name is shown as written: never a link, LaTeX, a colour or an emoji (issue 21: a name such as
``[x](https://...) $E=mc^2$ :red[...]`` once rendered as Markdown in the error box)."""

from __future__ import annotations

from .helpers import goto, wait

# Every Markdown and Streamlit construct that once fired in the error box, in one name.
HOSTILE = "see [this](https://evil.example) $E=mc^2$ :red[RED] :smile: **bold** www.evil.example `tick`.png"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'

_ALERT_JS = """() => {
  const alert = Array.from(document.querySelectorAll('[data-testid="stAlert"]'))
    .find(a => a.innerText.includes('cannot be used'));
  if (!alert) return null;
  return {
    text: alert.innerText.replace(/\\u200b/g, ''),
    links: alert.querySelectorAll('a').length,
    math: alert.querySelectorAll('.katex, math').length,
    bold: Array.from(alert.querySelectorAll('strong')).map(s => s.innerText),
    coloured: alert.querySelectorAll('[class*="Color"], span[style*="color"]').length,
    code: Array.from(alert.querySelectorAll('code')).map(c => c.innerText),
  };
}"""


def test_an_upload_name_is_shown_as_written(app, page):
    goto(page, app.url("why-look-inside"))
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        {"name": HOSTILE, "mimeType": "image/png", "buffer": SVG}
    )
    page.wait_for_function(_ALERT_JS.replace("return {", "return true; return {"), timeout=60_000)
    wait(page)
    shown = page.evaluate(_ALERT_JS)
    assert shown["code"] == [HOSTILE]  # the name, every character as written
    assert shown["links"] == 0 and shown["math"] == 0 and shown["coloured"] == 0
    assert shown["bold"] == ["cannot be used."]  # our own emphasis only
    assert "SVG (vector drawing) files are not supported; supported formats are JPEG, PNG" in shown["text"]
    # the picture menu names the upload the same way
    assert page.locator('[data-testid="stSelectbox"] input').first.input_value() == f"Your upload: {HOSTILE}"
