"""The studio's JSON API: what the page reads (state, models, jobs, takes) and the actions it asks for (uploads,
dances, music, MP4s). Every problem a user can act on comes back as ``{"error": message}`` with a 4xx/503."""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from choreo.errors import ChoreoError
from choreo.studio.jobs import QueueFull
from choreo.studio.session import Studio
from choreo.studio.uploads import TooLarge, check_upload, receive, upload_kind

MAX_JSON_BYTES = 1 << 20  # the page's requests are a few hundred bytes


def error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def failure(studio: Studio, exc: Exception, name: str = "") -> JSONResponse:
    """The answer for a refused action: 413 over the upload limit, 503 when the queue is full, else 400.

    Args:
        name: the user's file the action was about (an upload): the message starts with it.
    """
    if not isinstance(exc, ChoreoError):
        raise exc
    status = 413 if isinstance(exc, TooLarge) else 503 if isinstance(exc, QueueFull) else 400
    message = studio.describe_error(exc) if status == 400 else exc.message
    if name and not message.startswith(f"{name}:"):
        message = f"{name}: {message}"
    return error(message, status)


async def json_body(request: Request) -> dict:
    """The request's JSON object (at most :data:`MAX_JSON_BYTES`), or a ChoreoError saying what is wrong."""
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


def api_routes(studio: Studio) -> list[BaseRoute]:
    """The ``/api/...`` routes over one studio (see :mod:`choreo.studio.server` for the table)."""

    def job_answer(job) -> JSONResponse:
        return JSONResponse(job.to_dict(studio.jobs.position(job)))

    async def state(request: Request) -> Response:
        try:
            models = await run_in_threadpool(studio.catalog.models)
        except ChoreoError as exc:
            return failure(studio, exc)
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
            return failure(studio, exc)
        return JSONResponse(info)

    async def upload(request: Request) -> Response:
        name = Path(request.query_params.get("name", "").replace("\\", "/")).name
        try:
            kind = upload_kind(name)
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > studio.max_upload_bytes:
                raise TooLarge(f"the file is larger than the upload limit of {studio.max_upload_bytes / 2**20:g} MB")
            path = await receive(request.stream(), studio.store, Path(name).suffix.lower(), studio.max_upload_bytes)
            up = await run_in_threadpool(check_upload, studio.store, path, name, kind, studio.catalog.targets)
            studio.add_upload(up)
            out = {"upload": up.to_dict()}
            if up.kind == "motion":
                take = await run_in_threadpool(studio.add_motion_take, up)
                out["take"] = take.to_dict()
        except ChoreoError as exc:
            return failure(studio, exc, name)  # named: the user may be uploading several files
        return JSONResponse(out)

    async def dance(request: Request) -> Response:
        try:
            job = await run_in_threadpool(studio.submit_dance, await json_body(request))
        except ChoreoError as exc:
            return failure(studio, exc)
        return job_answer(job)

    async def music(request: Request) -> Response:
        try:
            job = await run_in_threadpool(studio.submit_music, await json_body(request))
        except ChoreoError as exc:
            return failure(studio, exc)
        return job_answer(job)

    async def video(request: Request) -> Response:
        take = studio.takes.get(request.path_params["take"])
        if take is None:
            return error("no such take", 404)
        try:
            job = studio.submit_video(take)
        except ChoreoError as exc:
            return failure(studio, exc)
        return job_answer(job)

    async def job(request: Request) -> Response:
        j = studio.jobs.get(request.path_params["job"])
        return error("no such job", 404) if j is None else job_answer(j)

    async def take(request: Request) -> Response:
        t = studio.takes.get(request.path_params["take"])
        return error("no such take", 404) if t is None else JSONResponse(t.to_dict())

    return [
        Route("/api/state", state),
        Route("/api/model", model),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/dance", dance, methods=["POST"]),
        Route("/api/music", music, methods=["POST"]),
        Route("/api/jobs/{job}", job),
        Route("/api/takes/{take}", take),
        Route("/api/takes/{take}/video", video, methods=["POST"]),
    ]
