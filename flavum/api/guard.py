"""Request guards in front of the API: body size, cross-site requests, operator auth, rates.

An ASGI middleware, so each check runs before FastAPI reads or parses anything:

- **Body size.** A request whose declared length is over its route's limit is refused with 413
  before a byte of it is read; a body streamed past the limit is cut off and refused the same
  way. ONNX uploads (`POST /v1/models/compile`) have their own, larger limit.
- **Cross-site.** A browser request from another origin can never change anything: a write
  whose `Origin` is not the node's own (the `Host` it was sent to, under one of the node's own
  host names, so a rebound DNS name does not pass either) is refused (403), and a write with a
  body must say it is JSON (415), which a form or a `text/plain` fetch cannot do without a
  CORS preflight that this API never grants.
- **Operator endpoints** (sealing a batch) need `Authorization: Bearer <token>`, the token
  being the `api-token` file in the node's home (0600, made at start). Signed rollup
  transactions stay open to anyone: their signature is their authority.
- **Rates.** Expensive endpoints have a token bucket per client address; past it, 429 with
  `Retry-After` (nothing was done, so the client may simply retry then).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_FILE = "api-token"
OPERATOR_ROUTES = (("POST", re.compile(r"/v1/batches/seal")),)
UPLOAD_ROUTES = (("POST", re.compile(r"/v1/models/compile")),)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` requests at once, refilled at `per_s` a second."""

    burst: float
    per_s: float


# Expensive endpoints: compiling a model or a trainable architecture, committing data (and
# training rows: /v1/data/commit-row), verifying a proof, submitting.
RATES = (
    ("POST", re.compile(r"/v1/models/compile"), Rate(8, 0.2)),
    ("POST", re.compile(r"/v1/models/trainable"), Rate(8, 0.2)),
    ("POST", re.compile(r"/v1/data/commit(-row)?"), Rate(60, 20)),
    ("POST", re.compile(r"/v1/traces/[^/]+/verify"), Rate(20, 5)),
    ("POST", re.compile(r"/v1/transactions"), Rate(2000, 1000)),
)


@dataclass(frozen=True)
class GuardSettings:
    """The limits (config.toml `[api]`) and the origins the node answers on."""

    max_body_bytes: int = 1 << 20  # 1 MiB: any JSON request but an upload
    max_upload_bytes: int = 96 << 20  # an ONNX file (base64) with its calibration rows
    hosts: frozenset[str] = frozenset({"127.0.0.1", "localhost"})  # the node's own names
    token: str = ""  # the operator's bearer token


def load_token(home: Path) -> str:
    """The operator token of the node whose home is `home`, made (0600) on first use."""
    path = home / TOKEN_FILE
    if not path.exists():
        # O_EXCL and mode 0600 at creation: never readable by others, even for an instant.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


@dataclass
class _Buckets:
    levels: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    def take(self, key: tuple[str, str], rate: Rate, now: float) -> float:
        """0 when a request may go now, else the seconds until one may."""
        level, at = self.levels.get(key, (rate.burst, now))
        level = min(rate.burst, level + (now - at) * rate.per_s)
        if level < 1:
            self.levels[key] = (level, now)
            return (1 - level) / rate.per_s
        self.levels[key] = (level - 1, now)
        return 0.0


class RequestGuard:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app: App, settings: GuardSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.buckets = _Buckets()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        refusal = self._refusal(method, path, headers, scope)
        if refusal is not None:
            await _reply(send, *refusal)
            return
        limit = (self.settings.max_upload_bytes if _matches(UPLOAD_ROUTES, method, path)
                 else self.settings.max_body_bytes)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _reply(send, 413, "body_too_large",
                         f"the request body is {declared} bytes, over this endpoint's limit "
                         f"of {limit} bytes", close=True)
            return
        body = await _read_body(receive, limit)
        if body is None:
            await _reply(send, 413, "body_too_large",
                         f"the request body is over this endpoint's limit of {limit} bytes",
                         close=True)
            return
        await self.app(scope, _replay(body, receive), send)

    def _own_origin(self, origin: str, host: str) -> bool:
        return (origin in (f"http://{host}", f"https://{host}")
                and _host_name(host) in self.settings.hosts)

    def _refusal(self, method: str, path: str, headers: dict[str, str],
                 scope: Scope) -> tuple[int, str, str, dict[str, str]] | None:
        if method in WRITE_METHODS:
            origin = headers.get("origin")
            if origin is not None and not self._own_origin(origin, headers.get("host", "")):
                return (403, "cross_origin",
                        f"requests from {origin} may not change this node", {})
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            content_type = headers.get("content-type", "").split(";")[0].strip()
            if has_body and content_type != "application/json":
                return (415, "not_json", "a request body must be application/json", {})
        if _matches(OPERATOR_ROUTES, method, path):
            given = headers.get("authorization", "")
            expected = f"Bearer {self.settings.token}"
            if not self.settings.token or not secrets.compare_digest(given, expected):
                return (401, "unauthorized",
                        f"{path} is an operator endpoint: send the node's api-token "
                        "(Authorization: Bearer ...; the CLI reads it from the home)", {})
        client = (scope.get("client") or ("?", 0))[0]
        for rate_method, pattern, rate in RATES:
            if rate_method == method and pattern.fullmatch(path):
                wait = self.buckets.take((client, pattern.pattern), rate, self.clock())
                if wait > 0:
                    seconds = max(1, int(wait + 0.999))
                    return (429, "rate_limited",
                            f"too many requests to {path} from {client}: retry in {seconds} s",
                            {"retry-after": str(seconds)})
        return None


def _host_name(host: str) -> str:
    """`host` ("name:port", "[::1]:port") without its port."""
    if host.startswith("["):
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _matches(routes: tuple[tuple[str, re.Pattern[str]], ...], method: str, path: str) -> bool:
    return any(m == method and pattern.fullmatch(path) for m, pattern in routes)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it runs past `limit` (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, rest: Receive) -> Receive:
    """The body read, then the connection's own messages: a disconnect only when the client
    goes (a streamed response, such as a static file, stops at the first disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await rest()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reply(send: Send, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, *, close: bool = False) -> None:
    body = json.dumps({"error": code, "message": message}).encode()
    raw_headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    if close:  # the unread rest of the body must not be taken for the next request
        raw_headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
