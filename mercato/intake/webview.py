"""The web market view: a page and its ES modules and stylesheet, served by intake itself.

The files are package data of ``mercato.intake`` (``web/``), so the Lambda asset that ships the code
ships them too. The page reads the public API with relative URLs, so it works wherever intake is
served: ``mercato up`` or the deployed function URL.
"""

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Final

WEB_FILE: Final = re.compile(r"^[a-z0-9-]+\.(js|css)$")
"""The names ``GET /web/{name}`` may ask for: no paths, no dot files."""

_CONTENT_TYPES: Final = {
    "html": "text/html; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "css": "text/css; charset=utf-8",
}

HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
"""The page loads only its own files and talks only to its own origin."""


@dataclass(frozen=True)
class WebFile:
    body: str
    content_type: str


def page() -> WebFile:
    """The page itself (``GET /``)."""
    return _files()["index.html"]


def web_file(name: str) -> WebFile | None:
    """A script or stylesheet of the page (``GET /web/{name}``); ``None`` if there is no such file.
    The name is only looked up among the files read at the first request: it never reaches the file
    system, and nothing is kept per name asked for (a reviewer found a 300-character name answered
    500, ENAMETOOLONG, and every unknown name cached for good)."""
    return _files().get(name) if WEB_FILE.match(name) else None


@cache
def _files() -> dict[str, WebFile]:
    """Every file of the page, read once."""
    found = {}
    for path in files("mercato.intake").joinpath("web").iterdir():
        kind = path.name.rsplit(".", 1)[-1]
        if path.is_file() and kind in _CONTENT_TYPES:
            found[path.name] = WebFile(path.read_text(encoding="utf-8"), _CONTENT_TYPES[kind])
    assert "index.html" in found, "index.html is package data of mercato.intake"
    return found
