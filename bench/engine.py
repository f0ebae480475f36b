"""Engine overhead per node, workflow_core vs graphon: ``python -m bench.engine [--runs 10]``.

Runs in ``.venv-graphon`` (graphon needs Python >= 3.12), from the repository root:
``.venv-graphon/bin/python -m bench.engine``.

The same offline corpus workflows (``graphon_support.corpus.OFFLINE_WORKFLOWS``) run in both
engines with the same deterministic simulated LLM (latency 0) and the same code sandbox. For every
run we measure the wall time of the run (loading excluded, reported separately) and subtract the
time spent *inside* the model client and the sandbox — identical work in both engines — so what is
left is the engine's own cost: scheduling, variable pool, templating, events, threads. Divided by
the number of nodes executed, that is ``us_per_node``; the figure is the median over runs.

Four modes, interleaved run by run so a change in machine load hits all of them alike:
``ours``, ``graphon``, and each with the probe instrumented (every span kept, batched into an
exporter that discards them). Probe overhead per node = instrumented minus plain.

Target: ``ratio = ours_us_per_node / graphon_us_per_node <= 0.5``. The last stdout line is one
JSON object.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from graphon_support.corpus import OFFLINE_WORKFLOWS, SAMPLES
from graphon_support.loader import load_engine, run_engine
from workflow_core.dsl import load_app
from workflow_core.providers.base import LLMClient
from workflow_core.runner import WorkflowRunner
from workflow_core.sandbox import CodeSandbox

TARGET_RATIO = 0.5


class DiscardingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class WorkMeter:
    """Time spent inside the LLM client and the sandbox (any thread), to subtract from runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seconds = 0.0

    def wrap(self, owner: type, name: str) -> Callable[[], None]:
        original = owner.__dict__[name]
        meter = self

        @functools.wraps(original)  # keeps the signature the probe's targets check
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                with meter._lock:
                    meter.seconds += elapsed

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)

    def take(self) -> float:
        with self._lock:
            seconds, self.seconds = self.seconds, 0.0
        return seconds


def run_core(file: str) -> tuple[float, float, int]:
    """(load seconds, run seconds, executed nodes) of one workflow_core run."""
    sample = SAMPLES[file]
    started = time.perf_counter()
    runner = WorkflowRunner(load_app(sample.path))
    loaded = time.perf_counter()
    result = runner.run(sample.inputs, query=sample.query)
    done = time.perf_counter()
    if result.status != "succeeded":
        raise RuntimeError(f"{file}: workflow_core run {result.status}: {result.error}")
    return loaded - started, done - loaded, len(result.node_results)


def run_graphon(file: str) -> tuple[float, float, int]:
    """(load seconds, run seconds, executed nodes) of one graphon run."""
    sample = SAMPLES[file]
    started = time.perf_counter()
    engine = load_engine(sample.path, sample.inputs, query=sample.query)
    loaded = time.perf_counter()
    result = run_engine(engine)
    done = time.perf_counter()
    if result.status != "succeeded":
        raise RuntimeError(f"{file}: graphon run {result.status}: {result.error}")
    return loaded - started, done - loaded, len(result.executed_nodes)


@contextmanager
def instrumented() -> Iterator[None]:
    import probe
    from probe.settings import ProbeSettings

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DiscardingExporter()))
    settings = ProbeSettings(traces_exporter="none", metrics_exporter="none")
    probe.instrument(tracer_provider=provider, settings=settings)
    try:
        yield
    finally:
        probe.uninstrument()
        provider.shutdown()


def measure(runs: int, meter: WorkMeter) -> dict[str, dict[str, list[float]]]:
    engines = {"ours": run_core, "graphon": run_graphon}
    samples: dict[str, dict[str, list[float]]] = {}
    for _ in range(runs):
        for probed in (False, True):
            for engine, run in engines.items():
                mode = f"{engine}_probe" if probed else engine
                figures = samples.setdefault(mode, {"us_per_node": [], "load_us_per_node": []})
                with instrumented() if probed else _nothing():
                    for file in OFFLINE_WORKFLOWS:
                        meter.take()
                        load_s, run_s, nodes = run(file)
                        engine_s = run_s - meter.take()
                        figures["us_per_node"].append(engine_s / nodes * 1e6)
                        figures["load_us_per_node"].append(load_s / nodes * 1e6)
    return samples


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine")
    parser.add_argument("--runs", type=int, default=10, help="runs of each workflow per mode")
    args = parser.parse_args(argv)
    meter = WorkMeter()
    restore = [meter.wrap(LLMClient, "invoke"), meter.wrap(CodeSandbox, "execute")]
    try:
        for file in OFFLINE_WORKFLOWS:  # warm-up: imports, template caches, first sandbox
            run_core(file)
            run_graphon(file)
        samples = measure(args.runs, meter)
    finally:
        for undo in restore:
            undo()
    median = {
        mode: {k: round(statistics.median(v), 1) for k, v in figures.items()}
        for mode, figures in samples.items()
    }
    for mode, figures in median.items():
        print(
            f"{mode:14s} engine {figures['us_per_node']:9.1f} us/node   "
            f"load {figures['load_us_per_node']:9.1f} us/node"
        )
    ours, graphon = median["ours"]["us_per_node"], median["graphon"]["us_per_node"]
    ratio = ours / graphon if graphon else float("inf")
    result = {
        "bench": "engine",
        "workflows": list(OFFLINE_WORKFLOWS),
        "runs": args.runs,
        "ours_us_per_node": ours,
        "graphon_us_per_node": graphon,
        "ratio": round(ratio, 3),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
        "ours_load_us_per_node": median["ours"]["load_us_per_node"],
        "graphon_load_us_per_node": median["graphon"]["load_us_per_node"],
        "ours_probe_overhead_us_per_node": round(median["ours_probe"]["us_per_node"] - ours, 1),
        "graphon_probe_overhead_us_per_node": round(
            median["graphon_probe"]["us_per_node"] - graphon, 1
        ),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
