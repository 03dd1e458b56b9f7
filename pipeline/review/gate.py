"""The review page's front door: what every request must be before any other code reads it.

An ASGI layer outside everything else (asgi-csrf, sessions, routing), so that nothing behind it
meets a request it was not written for:

- only GET, HEAD and POST; a POST body is JSON or a URL-encoded form (ASCII, as browsers send
  it), capped at ``MAX_BODY`` by its Content-Length *before* a byte of it is read, or while
  reading when it comes in chunks;
- only this page's own cookies pass: a cookie another app on the same host set (with ``@``,
  ``/`` or bytes a cookie parser chokes on in its name) is dropped here, so it cannot break the
  page or hide this page's CSRF cookie;
- every reply carries the security headers, and the log gets one line per request: method,
  path, status; never content.

Refusals are JSON ``{"error": ...}`` with a 4xx status that says what to send instead.
"""

from __future__ import annotations

import json
import logging
import re

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
METHODS = ("GET", "HEAD", "POST")
# Signed cookie values (Starlette's session, asgi-csrf's token) use only these characters.
COOKIE_VALUE = re.compile(r"[A-Za-z0-9._=+/-]{1,8192}")
# Inline styles and scripts are refused: the page's CSS and modules are files under /static.
HEADERS = [
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; media-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    ),
]


def _own_cookies(headers: list[tuple[bytes, bytes]], names: set[str]) -> bytes:
    """This page's cookies from every Cookie header, parsed leniently; everything else dropped."""
    kept = []
    for key, value in headers:
        if key != b"cookie":
            continue
        for chunk in value.decode("latin-1").split(";"):
            name, _, val = chunk.partition("=")
            name, val = name.strip(), val.strip().strip('"')
            if name in names and COOKIE_VALUE.fullmatch(val):
                kept.append(f"{name}={val}")
    return "; ".join(kept).encode("latin-1")


class Gate:
    """See the module's docstring; ``cookie_names`` are the only cookies the app may see."""

    def __init__(self, app, cookie_names: set[str], max_body: int = MAX_BODY):
        self.app, self.cookie_names, self.max_body = app, cookie_names, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(event):
            if (
                event["type"] == "http.response.start"
            ):  # logged before the reply leaves, so in order
                log.info("review page %s %s -> %s", scope["method"], scope["path"], event["status"])
                event = {**event, "headers": list(event.get("headers") or []) + HEADERS}
            await send(event)

        headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"cookie"]
        cookie = _own_cookies(scope.get("headers") or [], self.cookie_names)
        if cookie:
            headers.append((b"cookie", cookie))
        scope = {**scope, "headers": headers}
        refused = self._refusal(scope, dict(headers))
        if refused is None and scope["method"] == "POST":
            refused, receive = await self._body(scope, dict(headers), receive)
        if refused is not None:
            status, message = refused
            body = json.dumps({"error": message}).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope, headers: dict[bytes, bytes]) -> tuple[int, str] | None:
        if scope["method"] not in METHODS:
            return 405, f"the review page answers {', '.join(METHODS)} only"
        if scope["method"] != "POST":
            return None
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        if kind not in (JSON_TYPE, FORM_TYPE):
            return 415, f"send {JSON_TYPE} (the page's API) or {FORM_TYPE} (the login form)"
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                return 400, "Content-Length is not a number"
            if int(length) > self.max_body:
                return 413, f"the request is larger than {self.max_body // 1024} KiB"
        return None

    async def _body(self, scope, headers: dict[bytes, bytes], receive):
        """Read a form, or a body of unknown length, here (capped); pass a sized JSON body on."""
        is_form = headers.get(b"content-type", b"").lower().startswith(FORM_TYPE.encode())
        if b"content-length" in headers and not is_form:
            return None, receive
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return (400, "the client went away before sending the whole request"), receive
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return (413, f"the request is larger than {self.max_body // 1024} KiB"), receive
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if is_form and not body.isascii():
            return (400, "a form must be sent URL-encoded (only ASCII characters)"), receive
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return None, replay
