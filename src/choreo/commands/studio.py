"""``choreo studio``: the local web app (make, watch, edit and export dances; music for dances)."""

from __future__ import annotations

NAME = "studio"


def add_parser(sub) -> None:
    p = sub.add_parser(
        NAME,
        help="a local web app to make, watch, edit and export dances",
        description="Serve choreo studio, a web app on this machine: drop a song, dance to it, watch it in 3D "
        "with the music, edit it, make music for a dance, and download MP4, BVH, GLB, npz or pkl. "
        "Open the printed address in a browser; Ctrl-C stops it and deletes the files it made.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 serves your network)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--max-upload-mb", type=float, default=100.0, metavar="N", help="largest upload (default 100 MB)")
    p.add_argument("--threads", type=int, help="CPU threads for generation (default: the cores available)")
    p.set_defaults(func=run)


def run(args) -> int:
    from choreo.errors import ChoreoError
    from choreo.studio.serve import serve

    if not 0 < args.port < 65536:
        raise ChoreoError(f"--port must be 1..65535, got {args.port}")
    if not args.max_upload_mb > 0:
        raise ChoreoError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    if args.threads is not None and args.threads < 1:
        raise ChoreoError(f"--threads must be at least 1, got {args.threads}")
    return serve(args.host, args.port, int(args.max_upload_mb * 2**20), args.threads)
