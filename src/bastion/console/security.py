"""What every console response carries (a strict CSP, no framing, no caching, no
referrer to other sites) and what every console POST must pass: a same-origin check
and a bounded URL-encoded form body."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl

from starlette.requests import Request

from bastion.errors import PermissionDenied, RequestRejected

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS: Mapping[str, str] = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    # not no-referrer: with it browsers send `Origin: null` on the console's own form
    # posts, which check_same_origin must refuse; same-origin keeps URLs from other sites
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}
"""Headers on every console response (static files override only ``cache-control``)."""
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FIELDS = 200


def check_same_origin(request: Request) -> None:
    """Refuse a POST whose ``Origin`` (when the browser sends one) is another site."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        raise PermissionDenied(
            "This form was sent from another site; open the console and try again.",
            code="console_cross_origin",
        )


async def read_form(request: Request, max_bytes: int) -> dict[str, str]:
    """The POST body's fields (URL-encoded only; the last value of a repeated name)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype != FORM_TYPE:
        raise RequestRejected(
            f"Console forms are sent as {FORM_TYPE}.", status=415, code="unsupported_media_type"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestRejected(
            "The form could not be read (UTF-8, at most 200 fields).", code="invalid_form"
        ) from exc
    return dict(pairs)


def _too_large(limit: int) -> RequestRejected:
    return RequestRejected(
        f"The form is larger than {limit} bytes.", status=413, code="request_too_large"
    )
