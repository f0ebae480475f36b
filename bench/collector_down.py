"""A collector that is down never slows the host: ``python -m bench.collector_down [--runs 1000]``.

Three child processes run the same loop — ``--runs`` runs of ``SEO_Slug_Generator.yml`` with the
simulated LLM — and time it:

- ``no_probe``: plain Python (the baseline, measured in the same run);
- ``collector_up``: under ``auto-instrument`` exporting to a real collector process
  (``flowscope collector``, chDB in a temporary directory, a free loopback port);
- ``collector_down``: under ``auto-instrument`` after that collector was killed (its port
  refuses connections).

Each instrumented child then shuts the probe down (bounded by ``FLOWSCOPE_SHUTDOWN_TIMEOUT_MS``)
and reports the probe's span accounting (``probe.stats()``). The last stdout line is one JSON
object: loop times, ``down_up_ratio`` (target: about 1), the exit-flush times and the dropped
span counts (all spans of the down phase must be counted as dropped, none silently lost).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.sampling import collector, free_port

CORPUS = Path(
    os.environ.get("FLOWSCOPE_CORPUS")
    or os.environ.get("FLOWSCOPE_DSL_CORPUS")
    or Path(__file__).resolve().parents[2] / "shared" / "dify-dsl"  # ../shared/dify-dsl
)
WORKFLOW = CORPUS / "SEO_Slug_Generator.yml"
BIN = Path(sys.executable).parent


def child(runs: int) -> int:
    """The measured loop (run inside the child process)."""
    from workflow_core.dsl import load_app
    from workflow_core.runner import WorkflowRunner

    runner = WorkflowRunner(load_app(WORKFLOW))
    runner.run({"title": "warm-up"})
    started = time.perf_counter()
    for i in range(runs):
        result = runner.run({"title": f"How to brew coffee, take {i}"})
        if result.status != "succeeded":
            raise SystemExit(f"run {i} failed: {result.error}")
    loop_s = time.perf_counter() - started
    figures: dict[str, Any] = {"loop_s": round(loop_s, 3)}
    import probe

    if probe.is_instrumented():
        flush_started = time.perf_counter()
        stats = probe.stats()
        probe.uninstrument()  # the bounded exit flush, measured
        figures["exit_flush_s"] = round(time.perf_counter() - flush_started, 3)
        figures.update(probe.stats())
        figures["spans_ended_before_flush"] = stats.get("spans_ended", 0)
    print(json.dumps(figures))
    return 0


def _run_child(runs: int, endpoint: str | None, workdir: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.collector_down", "--child", "--runs", str(runs)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLOWSCOPE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1])])
    if endpoint is not None:
        command = [
            str(BIN / "auto-instrument"),
            "--service-name",
            "bench-collector-down",
            "--endpoint",
            endpoint,
            "--",
            *command,
        ]
        env["FLOWSCOPE_SHUTDOWN_TIMEOUT_MS"] = "2000"
        env["OTEL_METRICS_EXPORTER"] = "none"
    started = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=workdir, timeout=3600
    )
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"child failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    figures["process_s"] = round(wall, 3)
    figures["stderr_tail"] = completed.stderr.strip().splitlines()[-1:] if completed.stderr else []
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.collector_down")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.runs)

    with tempfile.TemporaryDirectory(prefix="flowscope-bench-") as tmp:
        workdir = Path(tmp)
        baseline = _run_child(args.runs, None, workdir)
        print(f"no probe:       {baseline}", file=sys.stderr)
        with collector(workdir) as url:
            up = _run_child(args.runs, url, workdir)
        print(f"collector up:   {up}", file=sys.stderr)
        # The collector process is gone: its port now refuses connections. A never-used port
        # is checked too, in case something else grabbed the old one.
        down_url = f"http://127.0.0.1:{free_port()}"
        down = _run_child(args.runs, down_url, workdir)
        print(f"collector down: {down}", file=sys.stderr)

    result = {
        "runs": args.runs,
        "no_probe_loop_s": baseline["loop_s"],
        "up_loop_s": up["loop_s"],
        "down_loop_s": down["loop_s"],
        "down_up_ratio": round(down["loop_s"] / up["loop_s"], 3),
        "up_overhead_ratio": round(up["loop_s"] / baseline["loop_s"], 3),
        "up_exit_flush_s": up.get("exit_flush_s"),
        "down_exit_flush_s": down.get("exit_flush_s"),
        "up_spans_ended": up.get("spans_ended"),
        "up_spans_dropped": up.get("spans_dropped"),
        "down_spans_ended": down.get("spans_ended"),
        "down_spans_dropped": down.get("spans_dropped"),
        "down_spans_queue_full": down.get("spans_queue_full"),
        "down_spans_export_failed": down.get("spans_export_failed"),
        "down_process_s": down["process_s"],
        "up_process_s": up["process_s"],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
