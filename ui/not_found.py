"""An address that is no page of the app gets a message and the way back, never a blank page.

Two halves:

* the page (:func:`render_not_found`, at ``/page-not-found``, hidden from the navigation): the address asked for is
  not a page of the tour, here are its chapters and tools;
* the server's half (:class:`UnknownPaths`, ASGI middleware that ``app.py`` hands ``st.App``). Streamlit answers
  every address it has no route for with its own page, whose scripts are named relative to the address: under two
  path segments (``/why-look-inside/zoom``, ``/etc/passwd``) the browser asks for
  ``/why-look-inside/static/js/...``, gets that page again instead of a script, and shows a blank white page.
  The middleware sends such a navigation, and one to an unknown single segment (``/nope``), on to the page above,
  with the address it asked for (``/page-not-found?path=/etc/passwd``). It looks only at navigations that would be
  answered with that page (a browser asking for HTML and getting Streamlit's page back) or with Streamlit's bare
  "Bad Request" (an address it refuses to look up: ``/..%2Fetc``, ``/C:/x``); Streamlit's own routes
  (``/_stcore/...``, ``/static/...``, ``/media/...``, ...) and the tour's pages pass untouched.

Without the middleware (``AppTest``, or a host that runs the script without ``streamlit run``'s ASGI mode) an
unknown single segment still gets Streamlit's own "Page not found" and the first chapter; only the deep addresses
stay blank.
"""

from __future__ import annotations

from urllib.parse import quote

PATH = "page-not-found"  # this page's url path
TITLE = "No page at this address"
# The first path segments of Streamlit's own routes (streamlit.web.server.starlette): never a page of the app.
STREAMLIT_ROUTES = frozenset({"_stcore", "static", "media", "component", "app", "auth", "oauth2callback"})
LONGEST_PATH = 200  # characters of the asked-for address carried to the page


def page_paths() -> frozenset[str]:
    """The single path segments that are pages: the front door (``""``), the tour's chapters and tools, this page."""
    from ui.tour import TOOLS, TOUR

    return frozenset({"", PATH, *(stop.url_path for stop in (*TOUR, *TOOLS) if stop.url_path)})


def is_unknown(path: str, pages: frozenset[str]) -> bool:
    """Whether ``path`` (``/why-look-inside/zoom``, relative to the app's base) is an address that no page and no
    Streamlit route serves."""
    segments = [s for s in path.split("/") if s]
    if not segments:
        return False
    if segments[0] in STREAMLIT_ROUTES:
        return False
    return len(segments) > 1 or segments[0] not in pages


def redirect_to(path: str, base: str = "") -> str:
    """Where an unknown ``path`` is sent: this page, with the address asked for (clipped)."""
    asked = "/" + "/".join(s for s in path.split("/") if s)
    return f"{base.rstrip('/')}/{PATH}?path={quote(asked[:LONGEST_PATH], safe='/')}"


class UnknownPaths:
    """ASGI middleware: a browser's navigation to an unknown address, which Streamlit would answer with its page
    (HTML, 200) or a bare 400, is redirected (302) to :data:`PATH` instead. ``base`` is the app's base URL path
    (``server.baseUrlPath``), if any."""

    def __init__(self, app, base: str = "") -> None:
        self.app = app
        self.base = "/" + base.strip("/") if base.strip("/") else ""
        self.pages = page_paths()

    async def __call__(self, scope, receive, send) -> None:
        if scope.get("type") != "http" or scope.get("method") not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self.base and (path == self.base or path.startswith(self.base + "/")):
            path = path[len(self.base) :]
        accept = dict(scope.get("headers") or []).get(b"accept", b"")
        if b"text/html" not in accept or not is_unknown(path, self.pages):
            await self.app(scope, receive, send)
            return
        redirected = False

        async def answer(message) -> None:
            nonlocal redirected
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                status, kind = message.get("status"), headers.get(b"content-type", b"")
                if (status == 200 and kind.startswith(b"text/html")) or status == 400:  # its page, or "Bad Request"
                    redirected = True
                    location = redirect_to(path, self.base).encode("latin-1")
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 302,
                            "headers": [
                                (b"location", location),
                                (b"cache-control", b"no-cache"),
                                (b"content-length", b"0"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
            if not redirected:
                await send(message)

        await self.app(scope, receive, answer)


def render_not_found() -> None:
    """The page: which address is not a page (as plain text), and links to every page of the tour."""
    import streamlit as st

    from ui import links
    from ui.tour import TOOLS, chapters

    st.title(TITLE)
    asked = st.query_params.get("path")
    if asked:
        st.markdown(f"This app has no page at {links.shown(asked)}. Its pages are these:")
    else:
        st.markdown("This address is not a page of this app. Its pages are these:")
    for stop in (*chapters(), *TOOLS):
        st.page_link(stop.page, label=stop.title, icon=stop.icon)
