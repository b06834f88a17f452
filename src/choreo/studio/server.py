"""The studio's web app (Starlette), assembled from its parts: the page (:mod:`.page`), the JSON API
(:mod:`.api`), the file routes (:mod:`.downloads`) and the guard in front of them all (:mod:`.guard`).

=========================================  ===========================================================
route                                      what it does
=========================================  ===========================================================
``GET /``                                  the page (holding this run's token)
``GET /static/...``                        the page's scripts and the vendored three.js (no listing)
``GET /api/state``                         models, limits, takes, uploads and jobs, for the page to start
``GET /api/model?name=``                   what a packaged name or a typed checkpoint / run folder is
``POST /api/upload?name=FILE``             a song or a motion as the raw request body (size-limited)
``POST /api/dance``                        queue a dance, an edit, a continuation or an in-between
``POST /api/music``                        queue music for a take or an uploaded motion
``POST /api/takes/{id}/video``             queue the take's MP4
``GET /api/jobs/{id}``                     a job's state and progress
``GET /api/takes/{id}``                    a take: skeleton, beats, contacts, its GLB and music ids
``GET /api/takes/{id}/download/{fmt}``     the take as glb, bvh, npz, pkl (or mp4 once made)
``GET /files/{id}``                        a file the studio made, by its opaque id
=========================================  ===========================================================

Every POST must come from the studio's own page: same origin, and the run's token in ``X-Choreo-Token``
(:mod:`.guard` says why). The page runs under a strict content security policy.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware

from choreo.studio.api import api_routes
from choreo.studio.downloads import file_routes
from choreo.studio.guard import LOCAL_HOSTS, TOKEN_HEADER, guard, new_token
from choreo.studio.page import csp_for, page_routes, render_page
from choreo.studio.session import Studio

__all__ = ["LOCAL_HOSTS", "TOKEN_HEADER", "create_app"]


def create_app(studio: Studio, allowed_hosts: list[str] | None = None, token: str | None = None) -> Starlette:
    """The web app over a :class:`~choreo.studio.session.Studio`; closing the app closes the studio.

    Args:
        allowed_hosts: host names requests may address (default: this machine's loopback names; IPv6
            addresses with or without brackets). ``["*"]`` accepts any, for a studio served to a network.
        token: the token state-changing requests must carry (default: a fresh random one). The app keeps it
            as ``app.state.token``.
    """
    token = token or new_token()
    page = render_page(token)
    hosts = {h.strip("[]").lower() for h in (allowed_hosts or LOCAL_HOSTS)}

    @asynccontextmanager
    async def lifespan(app):
        yield
        studio.close()

    app = Starlette(
        routes=[*page_routes(page), *api_routes(studio), *file_routes(studio)],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=guard(hosts, token, csp_for(page)))],
        lifespan=lifespan,
    )
    app.state.token = token
    return app
