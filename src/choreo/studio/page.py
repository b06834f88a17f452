"""The page the studio serves: ``index.html`` with this run's token written in, its content security policy,
and the static files (the page's scripts and the vendored three.js; no listings)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

#: where the page reads its token from (``<meta name="choreo-token" content="...">``).
TOKEN_META = '<meta name="choreo-token" content="">'


def static_dir() -> Path:
    return Path(str(resources.files("choreo.studio") / "static"))


def csp_for(page: str) -> str:
    """The content security policy, allowing the page's one inline script (its import map) by hash."""
    hashes = []
    for body in re.findall(r"<script type=\"importmap\">(.*?)</script>", page, re.S):
        digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    return (
        "default-src 'self'; "
        f"script-src 'self' {' '.join(hashes)}; "
        "style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' blob: data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    )


def render_page(token: str) -> str:
    """``index.html`` holding ``token`` for the page's scripts to send with every state change."""
    page = (static_dir() / "index.html").read_text(encoding="utf-8")
    if TOKEN_META not in page:
        raise RuntimeError(f"index.html lacks {TOKEN_META}")  # a packaging bug, not a user's problem
    return page.replace(TOKEN_META, f'<meta name="choreo-token" content="{html.escape(token)}">')


def page_routes(page: str) -> list[BaseRoute]:
    """``GET /`` (the page) and ``/static/...``."""

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    return [Route("/", index), Mount("/static", StaticFiles(directory=static_dir()), name="static")]
