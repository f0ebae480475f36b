"""Where a policy comes from: a local file (mtime-checked) or an HTTP endpoint (remote control).

A source's :meth:`load` returns the current policy or raises :class:`PolicyError`; its
:meth:`poll` returns a new policy only when the document changed, None when it did not, and
raises :class:`PolicyError` when the changed document is invalid or cannot be fetched. The
watcher (reload.py) applies, or logs once and keeps the previous policy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol

import yaml

from probe.sampling.errors import PolicyError
from probe.sampling.policy import Policy, load_policy, parse_policy

REMOTE_TIMEOUT_S = 2.0


class PolicySource(Protocol):
    name: str

    def load(self) -> Policy: ...

    def poll(self) -> Policy | None: ...


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class FileSource:
    """A YAML file; a change is a different (mtime, size)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self._stamp = _stamp(self.path)

    def load(self) -> Policy:
        self._stamp = _stamp(self.path)
        return load_policy(self.path)

    def poll(self) -> Policy | None:
        stamp = _stamp(self.path)
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        if stamp is None:
            raise PolicyError(f"{self.path}: sampling policy file disappeared")
        return load_policy(self.path)


class HttpSource:
    """A policy served over HTTP (e.g. the collector's ``GET /api/sampling/{service}``).

    The body is YAML or JSON (JSON is YAML). ``ETag`` / ``If-None-Match`` are honoured, and an
    unchanged body (by hash) is not re-applied. Fetching happens on the sampler's daemon thread.
    """

    def __init__(self, url: str, timeout_s: float = REMOTE_TIMEOUT_S) -> None:
        self.url = url
        self.name = url
        self._timeout = timeout_s
        self._etag: str | None = None
        self._digest: str | None = None

    def _fetch(self) -> bytes | None:
        import httpx

        headers = {"Accept": "application/yaml, application/json"}
        if self._etag:
            headers["If-None-Match"] = self._etag
        try:
            response = httpx.get(self.url, headers=headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise PolicyError(f"{self.url}: cannot fetch sampling policy: {exc}") from None
        if response.status_code == 304:
            return None
        if response.status_code != 200:
            raise PolicyError(
                f"{self.url}: cannot fetch sampling policy: HTTP {response.status_code}"
            )
        self._etag = response.headers.get("ETag")
        return response.content

    def _parse(self, body: bytes) -> Policy:
        try:
            data = yaml.safe_load(body.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise PolicyError(f"{self.url}: not valid YAML/JSON: {exc}") from None
        return parse_policy(data, self.url)

    def load(self) -> Policy:
        self._etag = None
        body = self._fetch() or b""
        policy = self._parse(body)
        self._digest = hashlib.sha256(body).hexdigest()
        return policy

    def poll(self) -> Policy | None:
        body = self._fetch()
        if body is None:
            return None
        digest = hashlib.sha256(body).hexdigest()
        if digest == self._digest:
            return None
        self._digest = digest
        return self._parse(body)


def source_for(location: str) -> PolicySource:
    """``http(s)://…`` → :class:`HttpSource`, anything else → :class:`FileSource`."""
    # pathlib collapses "http://h" to "http:/h" when a URL went through Path(); undo that.
    for scheme in ("http:", "https:"):
        if location.startswith(scheme + "/") and not location.startswith(scheme + "//"):
            location = scheme + "//" + location[len(scheme) + 1 :]
        if location.startswith(scheme + "//"):
            return HttpSource(location)
    return FileSource(location)
