"""Helpers for the core-ext tests: a loopback HTTP server, CLI subprocesses, paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
CORPUS = (REPO / "../shared/dify-dsl").resolve()
FLOWSCOPE = str(Path(sys.executable).with_name("flowscope"))


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    """A real HTTP server on 127.0.0.1:<free port>; handlers keyed by (METHOD, path)."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    routes: dict[tuple[str, str], Callable[[Recorded], tuple[int, dict[str, str], bytes]]] = field(
        default_factory=dict
    )

    def json_route(self, method: str, path: str, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.routes[(method, path)] = lambda _r: (
            status,
            {"content-type": "application/json"},
            body,
        )


def start_server(state: LoopbackServer) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Recorded(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            server.requests.append(request)
            route = server.routes.get((self.command, self.path.split("?")[0]))
            status, headers, body = route(request) if route else (404, {}, b"not found")
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``flowscope ARGS`` in a subprocess (chDB allows one data directory per process)."""
    return subprocess.run(
        [FLOWSCOPE, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=300,
        check=False,
    )


def last_json(stdout: str) -> Any:
    return json.loads(stdout.strip().splitlines()[-1])


def app_from(
    name: str, nodes: list[dict[str, Any]], edges: list[tuple[str, str]], mode: str = "workflow"
) -> Any:
    """A synthetic Dify app: ``nodes`` as ``{id, data}``, ``edges`` as (source, target)."""
    from workflow_core.dsl import parse_app

    raw = {
        "app": {"name": name, "mode": mode},
        "kind": "app",
        "version": "0.1.5",
        "workflow": {
            "graph": {
                "nodes": nodes,
                "edges": [{"id": f"{s}-{t}", "source": s, "target": t} for s, t in edges],
            }
        },
    }
    return parse_app(raw, source=f"{name}.yml")


def start_node(variables: dict[str, str], *, required: bool = True) -> dict[str, Any]:
    """A start node declaring ``{name: input type}``."""
    declared = [
        {"variable": name, "label": name, "type": kind, "required": required}
        for name, kind in variables.items()
    ]
    return {"id": "start", "data": {"type": "start", "title": "S", "variables": declared}}


def end_node(outputs: dict[str, list[str]]) -> dict[str, Any]:
    """An end node publishing ``{name: selector}``."""
    rows = [{"variable": name, "value_selector": sel} for name, sel in outputs.items()]
    return {"id": "end", "data": {"type": "end", "title": "E", "outputs": rows}}
