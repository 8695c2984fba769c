"""Text that came from outside (a file's name, an error message that quotes a file) inside Streamlit Markdown,
shown as written: never a link, LaTeX, a colour, an emoji or an icon.

``name(text)``: a name, as inline code: nothing inside a code span is interpreted, whatever it holds.
``prose(text)``: a sentence in the surrounding text style, with every character that Markdown or Streamlit's
extensions could read as syntax neutralised.
"""

from __future__ import annotations

import re

# Control characters (a name may hold a newline or a tab): shown as a space, which cannot break the line or
# end a code span.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
# CommonMark lets any ASCII punctuation be escaped by a backslash, which shows it as itself.
_PUNCTUATION = re.compile(r"([!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~])")
# What survives escaping, because it is found in the text after parsing: emoji and icon codes (":smile:",
# ":material/home:"), bare web addresses ("www.x.org", "https://x.org") and e-mail addresses. A zero-width
# space after every colon and at-sign, and after "www.", breaks each of them.
_AFTER_PARSING = re.compile(r"\\[:@]|(?<![A-Za-z0-9])www\\\.", re.IGNORECASE)
_ZERO_WIDTH = "\u200b"


def name(text: str) -> str:
    """``text`` as an inline code span that shows it exactly (on one line)."""
    text = _CONTROL.sub(" ", str(text))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}" if text else "` `"


def prose(text: str) -> str:
    """``text`` as Markdown that shows exactly these characters (control characters as spaces)."""
    escaped = _PUNCTUATION.sub(r"\\\1", _CONTROL.sub(" ", str(text)))
    return _AFTER_PARSING.sub(lambda match: match.group(0) + _ZERO_WIDTH, escaped)
