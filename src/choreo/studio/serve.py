"""Running the studio: the app under uvicorn until Ctrl-C, then everything it made is deleted."""

from __future__ import annotations

import socket
import sys

from choreo.errors import ChoreoError
from choreo.studio.guard import LOCAL_HOSTS
from choreo.studio.server import create_app
from choreo.studio.session import Studio


def allowed_hosts(host: str) -> list[str]:
    """Host names requests may address: loopback names, plus the address served when it is not a wildcard."""
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return list(dict.fromkeys([*LOCAL_HOSTS, host.strip("[]")]))


def _check_port(host: str, port: int) -> None:
    """A clear message when the port is taken, before anything is started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ChoreoError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); try another --port") from None


def serve(host: str, port: int, max_upload_bytes: int, threads: int | None = None) -> int:
    """Serve until interrupted. Returns the exit status."""
    import uvicorn

    _check_port(host, port)
    studio = Studio(max_upload_bytes=max_upload_bytes, threads=threads)
    app = create_app(studio, allowed_hosts(host))
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    print(f"choreo studio: http://{shown}:{port}/  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        # uvicorn handles SIGINT/SIGTERM itself: it stops accepting, finishes the lifespan (which deletes the
        # studio's files) and returns; the job worker is a daemon thread and ends with the process
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    finally:
        studio.close()
    return 0
