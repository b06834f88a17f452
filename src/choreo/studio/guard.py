"""Who may talk to the studio: the host check, the proof that a state change comes from the studio's own page,
and the security headers on every answer.

Threats, and what answers each:

- **DNS rebinding** (a site points a host name of its own at 127.0.0.1): requests must name this machine as
  their host (:data:`LOCAL_HOSTS`, or the address served).
- **Cross-site requests** (a page elsewhere posts a form, or ``fetch``es with ``mode: 'no-cors'``; old
  browsers send no ``Origin`` at all): a state-changing request (anything but GET, HEAD, OPTIONS) must carry

  1. an ``Origin`` header naming this studio (a missing or ``null`` origin is refused, not waved through),
  2. no fetch metadata saying it came from elsewhere (``Sec-Fetch-Site`` other than ``same-origin``),
  3. the run's token in the :data:`TOKEN_HEADER` header. The token is minted when the app is made and written
     into the page the studio serves; a page on another site can neither read it (same-origin policy) nor send
     a custom header without a CORS preflight, which the studio never grants. A plain HTML form cannot send
     headers at all.

Refusals are ``403`` with a JSON ``{"error": ...}`` and happen before any route runs, so nothing is queued.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

#: host names a studio bound to this machine answers to (IPv6 without brackets).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
#: the header the page sends its token in.
TOKEN_HEADER = "X-Choreo-Token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def new_token() -> str:
    """A fresh per-run token (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def host_allowed(host_header: str, hosts: set[str]) -> bool:
    """Whether a ``Host`` header names one of ``hosts`` (lower-case, IPv6 without brackets; ``*``: any)."""
    if "*" in hosts:
        return True
    name = urlsplit("//" + host_header).hostname or ""
    return name.lower() in hosts


def refusal(method: str, headers: Mapping[str, str], token: str) -> str | None:
    """Why a request may not change the studio's state, or None when it may (see the module docstring).

    Args:
        method: the HTTP method; headers: the request's headers (case-insensitive mapping, as Starlette's);
        token: this run's token.
    """
    if method.upper() in SAFE_METHODS:
        return None
    origin = headers.get("origin")
    if not origin or origin == "null":
        return "requests that change the studio must come from its page (the request names no origin)"
    if urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
        return "requests from other sites are refused"
    site = headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return f"requests from other sites are refused (the browser says it came from a {site} page)"
    sent = headers.get(TOKEN_HEADER.lower(), "")
    if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
        return "this request lacks the studio page's token: reload the page (the studio may have been restarted)"
    return None


def guard(
    hosts: set[str], token: str, csp: str
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """The middleware's dispatch function: check the host and state changes, then add the security headers.

    Args:
        hosts: host names requests may address (lower-case, no brackets; ``*`` accepts any).
        token: this run's token; csp: the content security policy for HTML answers.
    """

    async def dispatch(request: Request, call_next) -> Response:
        if not host_allowed(request.headers.get("host", ""), hosts):
            return PlainTextResponse("Invalid host header", status_code=400)
        why = refusal(request.method, request.headers, token)
        if why is not None:
            return JSONResponse({"error": why}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin: the page's own requests keep their Origin (a "no-referrer" policy lets browsers send
        # "Origin: null", which the check above refuses); other sites learn nothing
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["Content-Security-Policy"] = csp
            response.headers["Cache-Control"] = "no-store"  # the page holds this run's token
        return response

    return dispatch
