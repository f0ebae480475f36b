"""Test-only ClickHouse HTTP interface served from chDB, as a separate process.

No modern ClickHouse server package exists for this machine, so the tests exercise the
collector's server code path (clickhouse-connect's HTTP client) against this front. It speaks
the part of ClickHouse's HTTP protocol that clickhouse-connect uses:

- ``GET /ping`` → ``Ok.``;
- ``GET|POST /`` with the query in the ``query`` URL parameter, in the body, or in a
  multipart form field; ``param_NAME`` values bound server-side (``{NAME:Type}``);
- ``database``, ``default_format`` and per-query settings as URL parameters;
- inserts: ``query=INSERT ... FORMAT X`` plus the data as the body (optionally
  ``Content-Encoding: lz4|gzip|deflate``), ingested with ``INSERT ... FROM INFILE``;
- credentials as HTTP basic auth, ``X-ClickHouse-User``/``X-ClickHouse-Key`` headers or
  ``user``/``password`` parameters, checked against ``--user``/``--password`` (516 otherwise);
- ``X-ClickHouse-Format``, ``-Timezone``, ``-Query-Id``, ``-Summary`` response headers and
  ``X-ClickHouse-Exception-Code`` plus ``Code: N. DB::Exception: ...`` bodies on errors.

What it is not: a ClickHouse server. Replicated engines, Keeper, Distributed tables, users and
grants, TLS, HTTP compression of responses and sessions are not served here.

Run: ``python tests/deploy/chdb_http_front.py --port P --data DIR [--database D]
[--user U --password P]``; it prints ``ready`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import email.policy
import gzip
import json
import os
import re
import sys
import tempfile
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlparse

import chdb

# URL parameters that are part of the HTTP transport, never ClickHouse settings.
TRANSPORT_PARAMS = frozenset(
    {
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "wait_end_of_query",
        "client_protocol_version",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
        "buffer_size",
        "quota_key",
        "role",
    }
)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
INSERT_FORMAT = re.compile(
    r"^\s*INSERT\s+INTO\s+(?P<target>.+?)\s+FORMAT\s+(?P<fmt>\w+)\s*$", re.I | re.S
)
INSERT_HEAD = re.compile(rb"^(\s*INSERT\s+INTO\s+.+?\s+FORMAT\s+\w+)[ \t]*\r?\n", re.I | re.S)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.I)
ERROR_CODE = re.compile(r"Code: (\d+)")


class FrontError(Exception):
    def __init__(self, code: int, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _decompress(body: bytes, encoding: str) -> bytes:
    if not encoding or encoding == "identity":
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "lz4":  # clickhouse-connect sends one LZ4 frame per block, concatenated
        import lz4.frame

        out, rest = bytearray(), body
        while rest:
            decompressor = lz4.frame.LZ4FrameDecompressor()
            out += decompressor.decompress(rest)
            rest = decompressor.unused_data
        return bytes(out)
    raise FrontError(36, f"unsupported Content-Encoding {encoding!r}", 400)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name:
            fields[str(name)] = payload.decode()
    return fields


class Engine:
    """One chDB connection, serialised (chDB handles are not reentrant)."""

    def __init__(self, path: str, database: str) -> None:
        self.conn = chdb.connect(path)
        self.lock = threading.Lock()
        self.conn.query(f"CREATE DATABASE IF NOT EXISTS `{database}`")

    def run(
        self,
        sql: str,
        *,
        database: str,
        fmt: str,
        settings: dict[str, str],
        params: dict[str, str],
        data: bytes | None,
    ) -> tuple[bytes, str]:
        clause = ", ".join(f"{k} = {_quote(v)}" for k, v in settings.items())
        infile = None
        if data is not None:
            match = INSERT_FORMAT.match(sql)
            if not match:
                raise FrontError(62, "data in the body needs query=INSERT INTO ... FORMAT X", 400)
            fd, infile = tempfile.mkstemp(suffix=".bin")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            sql = f"INSERT INTO {match['target']} FROM INFILE {_quote(infile)}"
            sql += f" SETTINGS {clause}" if clause else ""
            sql += f" FORMAT {match['fmt']}"
        elif clause:
            trailing = TRAILING_FORMAT.search(sql)
            head = sql[: trailing.start()] if trailing else sql
            if " SETTINGS " not in head.upper():
                sql = f"{head} SETTINGS {clause}" + (f" {trailing.group(0)}" if trailing else "")
        trailing = TRAILING_FORMAT.search(sql)
        out_fmt = trailing.group(1) if trailing else fmt
        try:
            with self.lock:
                self.conn.query(f"USE `{database}`")
                result = self.conn.query(sql, out_fmt, params=params or None)
                return bytes(result.bytes() or b""), out_fmt
        except Exception as exc:
            text = str(exc)
            start = text.find("Code: ")
            message = text[start:] if start >= 0 else text
            found = ERROR_CODE.search(message)
            raise FrontError(int(found.group(1)) if found else 1000, message) from exc
        finally:
            if infile:
                os.unlink(infile)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine: Engine
    user: str
    password: str
    default_database: str

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("CHDB_FRONT_LOG"):
            sys.stderr.write(format % args + "\n")

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(chunks)
            chunks += self.rfile.read(size)
            self.rfile.readline()

    def _credentials(self, params: dict[str, str]) -> tuple[str, str]:
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user, password
        if self.headers.get("X-ClickHouse-User"):
            return self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        return params.get("user", "default"), params.get("password", "")

    def _handle(self) -> None:
        url = urlparse(self.path)
        body = self._body()
        if url.path in ("/ping", "/ping/"):
            self._send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"})
            return
        query_id = str(uuid.uuid4())
        base_headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Server-Display-Name": "chdb-http-front",
        }
        try:
            self._query(url.query, body, base_headers)
        except Exception as exc:  # every failure answers like ClickHouse, never a dropped socket
            if not isinstance(exc, FrontError):
                exc = FrontError(1001, f"{type(exc).__name__}: {exc}")
            message = str(exc)
            if not message.startswith("Code:"):
                message = f"Code: {exc.code}. DB::Exception: {message}"
            self._send(
                exc.status,
                message.encode() + b"\n",
                {
                    **base_headers,
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": str(exc.code),
                },
            )

    def _query(self, raw_query: str, body: bytes, headers: dict[str, str]) -> None:
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            params.update(_form_fields(content_type, body))
            body = b""
        user, password = self._credentials(params)
        if (user, password) != (self.user, self.password):
            raise FrontError(516, f"{user}: Authentication failed: password is incorrect", 403)
        body = _decompress(body, self.headers.get("Content-Encoding", ""))
        # ClickHouse reads the query as `query` parameter + body; for an insert, the data starts
        # after the whitespace that ends `FORMAT name` (in the parameter or at the body's head).
        sql = params.get("query", "")
        data: bytes | None = None
        if sql and INSERT_FORMAT.match(sql):
            data = body
        else:
            head = INSERT_HEAD.match(body)
            if head:
                sql, data = f"{sql} {head.group(1).decode()}".strip(), body[head.end() :]
            elif body:
                sql = f"{sql}\n{body.decode()}" if sql else body.decode()
        if not sql.strip():
            raise FrontError(62, "Empty query", 400)
        settings = {
            k: v
            for k, v in params.items()
            if k not in TRANSPORT_PARAMS and not k.startswith("param_")
        }
        for name in settings:
            if not SETTING_NAME.match(name):
                raise FrontError(115, f"Unknown setting {name!r}", 400)
        bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        out, fmt = self.engine.run(
            sql,
            database=params.get("database") or self.default_database,
            fmt=params.get("default_format") or "TabSeparated",
            settings=settings,
            params=bound,
            data=data,
        )
        summary = {"read_rows": "0", "written_rows": "0", "result_rows": "0"}
        self._send(
            200,
            out,
            {
                **headers,
                "Content-Type": "application/octet-stream",
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Summary": json.dumps(summary),
            },
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="chDB data directory")
    parser.add_argument("--database", default="default")
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    args = parser.parse_args(argv)
    Handler.engine = Engine(args.data, args.database)
    Handler.user, Handler.password = args.user, args.password
    Handler.default_database = args.database
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
