"""Child side of the code sandbox. Run as ``python -I _sandbox_child.py`` with a JSON payload on
stdin; prints one JSON line ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": ...}``.
Standard library only: it must not import flowscope."""

import io
import json
import resource
import sys
import traceback
from typing import Any, TextIO

_BLOCKED_PREFIXES = (
    "socket.",
    "subprocess.",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "pty.",
    "os.kill",
    "os.killpg",
    "sys.remote_exec",
)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event.startswith(_BLOCKED_PREFIXES):
        kind = "network access" if event.startswith("socket.") else "process control"
        raise PermissionError(f"{kind} is not allowed in code nodes ({event})")


def _fail(out: TextIO, message: str) -> None:
    out.write(json.dumps({"ok": False, "error": message}) + "\n")
    out.flush()


def main() -> None:
    out = sys.stdout
    payload = json.loads(sys.stdin.read())
    sys.path.extend(payload.get("site_paths") or [])  # started with -S: no site processing
    limit = int(payload["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(payload["cpu_seconds"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    if payload.get("patch_sleep"):
        import time

        time.sleep = lambda seconds: None
    sys.stdout = io.StringIO()  # user prints must not corrupt the result line
    sys.addaudithook(_audit)
    namespace: dict[str, Any] = {"__name__": "__flowscope_code__"}
    try:
        exec(compile(payload["code"], "<code node>", "exec"), namespace)
        entry = namespace.get("main")
        if not callable(entry):
            _fail(out, "the code must define a function main(...)")
            return
        result = entry(**payload["inputs"])
    except MemoryError:
        _fail(out, f"code exceeded the memory limit of {payload['memory_mb']} MB")
        return
    except PermissionError as exc:
        _fail(out, str(exc))
        return
    except BaseException as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        line = next((f.lineno for f in reversed(frames) if f.filename == "<code node>"), None)
        where = f" (line {line})" if line else ""
        _fail(out, f"code raised {type(exc).__name__}{where}: {exc}")
        return
    if not isinstance(result, dict) or not all(isinstance(k, str) for k in result):
        _fail(out, f"main() must return a dict with string keys, got {type(result).__name__}")
        return
    try:
        text = json.dumps({"ok": True, "result": result}, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        _fail(out, f"main() returned a value that is not JSON-serialisable: {exc}")
        return
    out.write(text + "\n")
    out.flush()


if __name__ == "__main__":
    main()
