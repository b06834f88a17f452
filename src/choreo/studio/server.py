"""The studio's HTTP routes (Starlette): the page, its static files, and a small JSON API.

=========================================  ===========================================================
route                                      what it does
=========================================  ===========================================================
``GET /``                                  the page
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

Security: only ids minted by the store reach files; requests must name this machine as their host (so a
web page elsewhere cannot reach the studio through DNS tricks) and state-changing requests from another
origin are refused; the page runs under a strict content security policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from choreo.errors import ChoreoError
from choreo.studio.jobs import QueueFull
from choreo.studio.session import Studio
from choreo.studio.uploads import TooLarge, check_upload, receive, upload_kind

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_JSON_BYTES = 1 << 20  # the page's requests are a few hundred bytes


def static_dir() -> Path:
    return Path(str(resources.files("choreo.studio") / "static"))


def _csp(page: str) -> str:
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


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(studio: Studio, allowed_hosts: list[str] | None = None) -> Starlette:
    """The web app over a :class:`~choreo.studio.session.Studio`.

    Args:
        allowed_hosts: host names requests may address (default: this machine's loopback names; IPv6
            addresses with or without brackets). ``["*"]`` accepts any, for a studio served to a network.
    """
    page = (static_dir() / "index.html").read_text(encoding="utf-8")
    csp = _csp(page)

    def fail(exc: Exception) -> JSONResponse:
        if isinstance(exc, TooLarge):
            return _error(exc.message, 413)
        if isinstance(exc, QueueFull):
            return _error(exc.message, 503)
        if isinstance(exc, ChoreoError):
            return _error(studio.describe_error(exc))
        raise exc

    async def json_body(request: Request) -> dict:
        size = request.headers.get("content-length", "")
        if size.isdigit() and int(size) > MAX_JSON_BYTES:
            raise ChoreoError("the request is too large")
        try:
            body = await request.json()
        except ValueError:
            raise ChoreoError("the request is not JSON") from None
        if not isinstance(body, dict):
            raise ChoreoError("the request must be a JSON object")
        return body

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def state(request: Request) -> Response:
        try:
            models = await run_in_threadpool(studio.catalog.models)
        except ChoreoError as exc:
            return fail(exc)
        return JSONResponse(
            {
                "models": models,
                "max_upload_mb": studio.max_upload_bytes / 2**20,
                "songs": [u.to_dict() for u in studio.uploads() if u.kind == "audio"],
                "takes": [t.to_dict() for t in studio.takes.all()],
                "jobs": [j.to_dict(studio.jobs.position(j)) for j in studio.jobs.jobs()],
            }
        )

    async def model(request: Request) -> Response:
        produces = request.query_params.get("produces", "dance")
        try:
            info = await run_in_threadpool(studio.catalog.describe, request.query_params.get("name", ""), produces)
        except ChoreoError as exc:
            return fail(exc)
        return JSONResponse(info)

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name", "")
        try:
            kind = upload_kind(name)
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > studio.max_upload_bytes:
                raise TooLarge(f"the file is larger than the upload limit of {studio.max_upload_bytes / 2**20:g} MB")
            suffix = Path(name.replace("\\", "/")).suffix.lower()
            path = await receive(request.stream(), studio.store, suffix, studio.max_upload_bytes)
            up = await run_in_threadpool(check_upload, studio.store, path, Path(name.replace("\\", "/")).name, kind)
            studio.add_upload(up)
            out = {"upload": up.to_dict()}
            if up.kind == "motion":
                take = await run_in_threadpool(studio.add_motion_take, up)
                out["take"] = take.to_dict()
        except (ChoreoError, QueueFull) as exc:
            return fail(exc)
        return JSONResponse(out)

    async def dance(request: Request) -> Response:
        try:
            job = await run_in_threadpool(studio.submit_dance, await json_body(request))
        except ChoreoError as exc:
            return fail(exc)
        return JSONResponse(job.to_dict(studio.jobs.position(job)))

    async def music(request: Request) -> Response:
        try:
            job = await run_in_threadpool(studio.submit_music, await json_body(request))
        except ChoreoError as exc:
            return fail(exc)
        return JSONResponse(job.to_dict(studio.jobs.position(job)))

    async def video(request: Request) -> Response:
        take = studio.takes.get(request.path_params["take"])
        if take is None:
            return _error("no such take", 404)
        try:
            job = studio.submit_video(take)
        except ChoreoError as exc:
            return fail(exc)
        return JSONResponse(job.to_dict(studio.jobs.position(job)))

    async def job(request: Request) -> Response:
        j = studio.jobs.get(request.path_params["job"])
        if j is None:
            return _error("no such job", 404)
        return JSONResponse(j.to_dict(studio.jobs.position(j)))

    async def take(request: Request) -> Response:
        t = studio.takes.get(request.path_params["take"])
        if t is None:
            return _error("no such take", 404)
        return JSONResponse(t.to_dict())

    def send(entry, download: bool) -> Response:
        return FileResponse(
            entry.path,
            media_type=entry.media_type,
            filename=entry.download_name if download else None,
            content_disposition_type="attachment" if download else "inline",
        )

    async def download(request: Request) -> Response:
        t = studio.takes.get(request.path_params["take"])
        if t is None:
            return _error("no such take", 404)
        fmt = request.path_params["fmt"].lower()
        if fmt in ("mp4", "wav"):
            entry = t.files.get(fmt)
            if entry is None:
                return _error("make the MP4 first" if fmt == "mp4" else "this take has no music", 404)
        else:
            try:
                entry = await run_in_threadpool(studio.takes.export, t, fmt)
            except ChoreoError as exc:
                return fail(exc)
        return send(entry, True)

    async def files(request: Request) -> Response:
        entry = studio.store.get(request.path_params["file"])
        if entry is None:
            return _error("no such file", 404)
        return send(entry, request.query_params.get("download") == "1")

    hosts = {h.strip("[]").lower() for h in (allowed_hosts or LOCAL_HOSTS)}

    async def guard(request: Request, call_next):
        # only requests addressed to this machine by name: a page elsewhere cannot reach the studio by pointing
        # a host name of its own at 127.0.0.1 (DNS rebinding)
        name = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        if "*" not in hosts and name.lower() not in hosts:
            return PlainTextResponse("Invalid host header", status_code=400)
        # a page on another site may not make this studio work for it (simple cross-origin POSTs need no
        # preflight): state changes must come from the studio's own page
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            origin = request.headers.get("origin")
            if origin and urlsplit(origin).netloc != request.headers.get("host"):
                return _error("requests from other sites are refused", 403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = csp
        return response

    @asynccontextmanager
    async def lifespan(app):
        yield
        studio.close()

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/model", model),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/dance", dance, methods=["POST"]),
        Route("/api/music", music, methods=["POST"]),
        Route("/api/jobs/{job}", job),
        Route("/api/takes/{take}", take),
        Route("/api/takes/{take}/video", video, methods=["POST"]),
        Route("/api/takes/{take}/download/{fmt}", download),
        Route("/files/{file}", files),
        Mount("/static", StaticFiles(directory=static_dir()), name="static"),
    ]
    middleware = [Middleware(BaseHTTPMiddleware, dispatch=guard)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
