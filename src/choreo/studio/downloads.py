"""The studio's file routes: a take's downloads by format, and the files it made (GLB, WAV, MP4) by opaque id.

Only ids minted by the store reach files: nothing in a URL becomes part of a path."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from choreo.errors import ChoreoError
from choreo.studio.api import error, failure
from choreo.studio.session import Studio
from choreo.studio.store import StoredFile


def send(entry: StoredFile, download: bool) -> Response:
    """The file, as an attachment under its download name or inline (the viewer's GLB, the player's WAV)."""
    return FileResponse(
        entry.path,
        media_type=entry.media_type,
        filename=entry.download_name if download else None,
        content_disposition_type="attachment" if download else "inline",
    )


def file_routes(studio: Studio) -> list[BaseRoute]:
    """``GET /api/takes/{id}/download/{fmt}`` and ``GET /files/{id}``."""

    async def download(request: Request) -> Response:
        t = studio.takes.get(request.path_params["take"])
        if t is None:
            return error("no such take", 404)
        fmt = request.path_params["fmt"].lower()
        if fmt in ("mp4", "wav"):
            entry = t.files.get(fmt)
            if entry is None:
                return error("make the MP4 first" if fmt == "mp4" else "this take has no music", 404)
        else:
            try:
                entry = await run_in_threadpool(studio.takes.export, t, fmt)
            except ChoreoError as exc:
                return failure(studio, exc)
        return send(entry, True)

    async def files(request: Request) -> Response:
        entry = studio.store.get(request.path_params["file"])
        if entry is None:
            return error("no such file", 404)
        return send(entry, request.query_params.get("download") == "1")

    return [Route("/api/takes/{take}/download/{fmt}", download), Route("/files/{file}", files)]
