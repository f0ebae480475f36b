"""Outgoing HTTP for http-request nodes (and the web-reader plugin).

:meth:`HttpClient.send` is the one public entry point (the probe's ``http`` span target, see
docs/contracts.md): it takes a fully rendered :class:`HttpRequestSpec` and returns an
:class:`HttpResponseData`. Transports implement ``_send``; the default one uses httpx.

A *route map* rewrites URL prefixes before sending (``https://weather.cma.cn`` →
``http://127.0.0.1:8080``), so corpus workflows that name public hosts can run against a local
server in tests and offline demos. Nothing observability-related is added here: the probe
injects ``traceparent`` by wrapping :meth:`HttpClient.send`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import httpx

from workflow_core.errors import FlowscopeError

logger = logging.getLogger(__name__)

BodyKind = Literal["none", "json", "form-data", "x-www-form-urlencoded", "raw-text", "binary"]

#: Response content types whose body is returned as text; anything else is a file.
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript")


class HttpClientError(FlowscopeError):
    """A request could not be sent or was refused before reaching a server."""


@dataclass(frozen=True)
class Timeouts:
    """Seconds; Dify's defaults for http-request nodes."""

    connect: float = 10.0
    read: float = 600.0
    write: float = 600.0


@dataclass(frozen=True)
class FormFile:
    """A file part of a multipart body."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class HttpRequestSpec:
    """A fully rendered request: every template has already been resolved."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    body_kind: BodyKind = "none"
    #: json: the parsed value; raw-text: str; binary: bytes;
    #: form kinds: tuple of (key, str | FormFile) pairs.
    body: Any = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    verify_ssl: bool = True


@dataclass(frozen=True)
class HttpResponseData:
    status_code: int
    headers: dict[str, str]
    body: str
    content: bytes
    content_type: str
    is_file: bool

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


def parse_route_map(text: str) -> dict[str, str]:
    """Parse ``FLOWSCOPE_HTTP_ROUTES``: a JSON object or ``prefix=target`` pairs split by commas.

    >>> parse_route_map("https://a.example=http://127.0.0.1:9")
    {'https://a.example': 'http://127.0.0.1:9'}
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        loaded = json.loads(text)
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise HttpClientError(
                f"FLOWSCOPE_HTTP_ROUTES must map URL prefixes to URL prefixes, got {text!r}"
            )
        return dict(loaded)
    routes: dict[str, str] = {}
    for pair in text.split(","):
        prefix, sep, target = pair.strip().partition("=")
        if not sep or not prefix or not target:
            raise HttpClientError(
                f"FLOWSCOPE_HTTP_ROUTES: expected 'prefix=target' pairs, got {pair.strip()!r}"
            )
        routes[prefix.strip()] = target.strip()
    return routes


class HttpClient:
    """Sends :class:`HttpRequestSpec` requests with httpx (thread-safe, one pool per client)."""

    def __init__(self, routes: Mapping[str, str] | None = None) -> None:
        # Longest prefix first, so a specific route wins over a host-wide one.
        self._routes = sorted((routes or {}).items(), key=lambda kv: -len(kv[0]))
        self._clients: dict[bool, httpx.Client] = {}

    def send(self, request: HttpRequestSpec) -> HttpResponseData:
        """Send ``request``; transport failures raise :class:`HttpClientError`."""
        return self._send(self.route(request))

    def route(self, request: HttpRequestSpec) -> HttpRequestSpec:
        for prefix, target in self._routes:
            if request.url.startswith(prefix):
                url = target + request.url[len(prefix) :]
                logger.debug("routing %s to %s", request.url, url)
                return replace(request, url=url)
        return request

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def _client(self, verify: bool) -> httpx.Client:
        client = self._clients.get(verify)
        if client is None:
            client = self._clients[verify] = httpx.Client(verify=verify, follow_redirects=True)
        return client

    def _send(self, request: HttpRequestSpec) -> HttpResponseData:
        if not request.url.startswith(("http://", "https://")):
            raise HttpClientError(f"URL must start with http:// or https://, got {request.url!r}")
        t, what = request.timeouts, f"{request.method.upper()} {request.url}"
        timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.connect)
        try:
            response = self._client(request.verify_ssl).request(
                request.method.upper(),
                request.url,
                headers=list(request.headers),
                params=list(request.params) or None,
                timeout=timeout,
                **_body_arguments(request),
            )
        except httpx.TimeoutException as exc:
            raise HttpClientError(
                f"{request.method.upper()} {request.url} timed out: {exc}"
            ) from exc
        except httpx.HTTPError as exc:
            raise HttpClientError(f"{what} failed: {exc}") from exc
        return _response_data(response)


def _body_arguments(request: HttpRequestSpec) -> dict[str, Any]:
    kind, body = request.body_kind, request.body
    if kind == "none" or body is None:
        return {}
    if kind == "json":
        return {"json": body}
    if kind in ("raw-text", "binary"):
        return {"content": body}
    pairs: tuple[tuple[str, str | FormFile], ...] = body
    if kind == "x-www-form-urlencoded":
        return {"data": {k: v for k, v in pairs if isinstance(v, str)}}
    # multipart/form-data: text fields as parts without a filename, so httpx always writes
    # multipart even when no file is attached.
    parts: list[tuple[str, tuple[str | None, str | bytes, str | None]]] = [
        (k, (v.filename, v.content, v.mime_type) if isinstance(v, FormFile) else (None, v, None))
        for k, v in pairs
    ]
    return {"files": parts}


def _response_data(response: httpx.Response) -> HttpResponseData:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    disposition = response.headers.get("content-disposition", "").lower()
    is_file = "attachment" in disposition or not (
        content_type == "" or content_type.startswith(_TEXT_TYPES) or content_type.endswith("+json")
    )
    return HttpResponseData(
        status_code=response.status_code,
        headers=dict(response.headers),
        body="" if is_file else response.text,
        content=response.content,
        content_type=content_type,
        is_file=is_file,
    )


_default_lock = threading.Lock()
_default: HttpClient | None = None


def default_http_client() -> HttpClient:
    """The process's client when the runner was given none (routes from
    ``FLOWSCOPE_HTTP_ROUTES``, read on first use, never at import)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = HttpClient(parse_route_map(os.environ.get("FLOWSCOPE_HTTP_ROUTES", "")))
        return _default
