"""Isolated execution of code nodes: one ``python -I`` subprocess per call.

Isolation (see docs/workflow_core.md, "Code sandbox"):

* a separate process, started with an empty environment (no secrets inherited) in isolated mode
  (``-I``: no ``PYTHON*`` variables, no user site, no script directory on ``sys.path``);
* a wall-clock timeout, after which the whole process group is killed;
* ``RLIMIT_AS`` (address space) and ``RLIMIT_FSIZE`` set by the child on itself before user code
  runs, so a runaway allocation fails inside the child with ``MemoryError``;
* no network: where unprivileged user namespaces work (probed once), the child runs under
  ``unshare --user --net`` in an empty network namespace; in every case an audit hook installed
  before user code refuses socket creation, subprocesses and ``exec*``/``fork`` (a guard in
  depth that ``ctypes`` could bypass; the process boundary and the namespace are the walls);
* inputs and the result cross a JSON boundary; the result must be a dict with string keys.

``CodeSandbox.execute`` is the probe's ``code`` span target (docs/contracts.md).
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import signal
import site
import subprocess
import sys
from pathlib import Path
from typing import Any

from workflow_core.errors import SandboxError

_CHILD = Path(__file__).with_name("_sandbox_child.py")
_OUTPUT_LIMIT = 16 * 1024 * 1024


class CodeSandbox:
    """Runs a code node's ``main(**inputs)`` in a fresh, limited Python process."""

    def __init__(
        self,
        *,
        timeout_seconds: float = 15.0,
        memory_mb: int = 512,
        python: str | None = None,
        patch_sleep: bool = False,
        isolate_network: bool = True,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.python = python or sys.executable
        #: Make ``time.sleep`` a no-op in user code (SPEC §7.6: Jina_Reader_Jinja sleeps 13 s).
        self.patch_sleep = patch_sleep
        #: Run the child in an empty network namespace when the host allows it.
        self.isolate_network = isolate_network
        same_interpreter = os.path.realpath(self.python) == os.path.realpath(sys.executable)
        self._site_paths = site.getsitepackages() if same_interpreter else []

    def execute(self, code: str, inputs: dict[str, Any], *, language: str) -> dict[str, Any]:
        """Run ``code``'s ``main(**inputs)`` and return its dict result."""
        if language not in ("python3", "python"):
            raise SandboxError(
                f"code_language {language!r} is not supported; only python3 code nodes run here"
            )
        try:
            payload = json.dumps(
                {
                    "code": code,
                    "inputs": inputs,
                    "memory_mb": self.memory_mb,
                    "cpu_seconds": math.ceil(self.timeout_seconds) + 1,
                    "patch_sleep": self.patch_sleep,
                    "site_paths": self._site_paths,
                },
                ensure_ascii=False,
            )
        except (TypeError, ValueError) as exc:
            raise SandboxError(f"inputs are not JSON-serialisable: {exc}") from exc
        prefix = _netns_prefix() if self.isolate_network else []
        # -S skips site's .pth processing (~100 ms per start); the child adds site-packages itself.
        flags = ["-I", "-S"] if self._site_paths else ["-I"]
        proc = subprocess.Popen(
            [*prefix, self.python, *flags, str(_CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={},
            cwd="/",
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(payload.encode("utf-8"), self.timeout_seconds)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise SandboxError(
                f"code timed out after {self.timeout_seconds:g} s and was killed"
            ) from None
        finally:
            if proc.poll() is None:
                _kill_group(proc)
        return self._result(proc.returncode, stdout, stderr)

    def _result(self, returncode: int, stdout: bytes, stderr: bytes) -> dict[str, Any]:
        if returncode < 0:
            name = signal.Signals(-returncode).name
            raise SandboxError(f"code process was killed by {name}: {_tail(stderr)}")
        if len(stdout) > _OUTPUT_LIMIT:
            raise SandboxError(f"code result is larger than {_OUTPUT_LIMIT} bytes")
        try:
            reply = json.loads(stdout.decode("utf-8").strip().splitlines()[-1])
        except (ValueError, IndexError) as exc:
            raise SandboxError(
                f"code process exited with status {returncode} without a result: {_tail(stderr)}"
            ) from exc
        if not reply.get("ok"):
            raise SandboxError(str(reply.get("error")))
        result = reply["result"]
        if not isinstance(result, dict):  # pragma: no cover - the child checks this
            raise SandboxError("main() must return a dict")
        return result


@functools.cache
def _netns_prefix() -> list[str]:
    """``unshare`` arguments for an empty network namespace, or ``[]`` when unavailable."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    command = [unshare, "--user", "--map-root-user", "--net"]
    try:
        probe = subprocess.run([*command, "true"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return command if probe.returncode == 0 else []


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(stderr: bytes, limit: int = 500) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text[-limit:] or "(no output)"
