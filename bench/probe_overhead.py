"""Probe overhead per node call: ``python -m bench.probe_overhead [--calls 300] [--rounds 60]``.

One process, one run, several ways of calling the real ``WorkflowRunner.execute_node`` on an
iteration node over an empty list (small inputs and outputs, and — unlike leaf nodes, which the
runner runs on a helper thread to enforce timeouts — no thread start whose jitter would swamp
the figures):

- ``baseline``   — the original method, no probe;
- ``drop_path``  — the probe's wrapper, the node span sampled out by a real policy (rate 0);
  ``drop_path_const`` — the same with a constant sampler, i.e. the probe's own part of it;
- ``sampled``    — the probe's wrapper, the span kept (rate 1), inputs/outputs captured;
  ``sampled_no_capture`` — the same with ``FLOWSCOPE_CAPTURE_CONTENT=false``;
- ``otel_bare``  — the original method inside a bare SDK span (``start_as_current_span``) with
  the attributes the probe records for that node;
- ``otel_drop``  — the same with the SDK's own sampled-out path (``ALWAYS_OFF`` sampler).

"Per node call" cost of a mode = its time per call minus the baseline's (the cost *added* to the
node), estimated as the median over rounds of the difference to the baseline batch of the same
round: the modes are interleaved in small batches, so a change in machine load (this runs on
shared machines) hits both sides of each difference alike, and every other round runs them in
reverse order. After each re-instrumentation (the probe's modes differ in configuration) the
new wrapper gets ``--warm`` untimed calls: fresh code runs unspecialised at first, which would
otherwise charge a warm-up to every batch that the instrumented host pays once. Kept spans go
through a BatchSpanProcessor into an exporter that discards them, for the probe and the bare
SDK alike, and every batch starts with their queues flushed: a batch of ``--calls`` (below the
export batch size) then measures the calling thread's cost alone, not when an exporter thread
happened to wake (the warm-up spans' export would otherwise land in the probe's batches). Every
span is the child of a current root span, as a node's is in a real run.

Targets: ``drop_ratio = drop_path_us / otel_drop_us <= 0.2`` and
``sampled_ratio = sampled_us / otel_bare_us <= 1.15``. The last stdout line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

POLICY = """version: 1
rules:
  - id: {rule}
    rate: {rate}
"""


class DiscardingExporter(SpanExporter):
    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


class _ConstantDrop:
    """The cheapest possible SpanSampler: drops everything, records nothing."""

    _DROP: Any = None

    def decide(self, *args: Any) -> Any:
        if _ConstantDrop._DROP is None:
            from probe.sampling.api import Decision

            _ConstantDrop._DROP = Decision(False, 0.0, "constant")
        return _ConstantDrop._DROP

    def record(self, *args: Any) -> None:
        return None


def _provider(exporter: SpanExporter, **kwargs: Any) -> TracerProvider:
    provider = TracerProvider(shutdown_on_exit=False, **kwargs)
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 16))
    return provider


def _node_call() -> tuple[Callable[[], Any], Any, Any, Any]:
    """The original ``execute_node`` bound to a runner, a template-transform node and a ctx."""
    from workflow_core.context import RunContext
    from workflow_core.dsl import parse_app
    from workflow_core.runner import WorkflowRunner
    from workflow_core.settings import RunSettings
    from workflow_core.variables import VariablePool

    def node(node_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": "custom", "data": data}

    raw = {
        "kind": "app",
        "version": "0.1.5",
        "app": {"name": "Bench", "mode": "workflow"},
        "workflow": {
            "graph": {
                "nodes": [
                    node("start", {"type": "start", "title": "Start", "variables": []}),
                    node(
                        "iter",
                        {
                            "type": "iteration",
                            "title": "Each item",
                            "iterator_selector": ["start", "items"],
                            "output_selector": [],
                            "start_node_id": "iterstart",
                        },
                    ),
                    {
                        "id": "iterstart",
                        "type": "custom",
                        "parentId": "iter",
                        "data": {"type": "iteration-start", "title": ""},
                    },
                    node("end", {"type": "end", "title": "End", "outputs": []}),
                ],
                "edges": [
                    {"id": "e1", "source": "start", "target": "iter"},
                    {"id": "e2", "source": "iter", "target": "end"},
                ],
            }
        },
    }
    app = parse_app(raw, source="bench.yml")
    runner = WorkflowRunner(app, settings=RunSettings(max_workers=1))
    spec = app.node("iter")
    pool = VariablePool()
    pool.set(("start", "items"), [])
    # The runner's bookkeeping for one run, as ``run`` sets it up (private: bench only).
    from workflow_core.runner import _RunState

    runner._states["bench-run"] = _RunState(deadline=time.monotonic() + 1e6, max_steps=1 << 62)
    ctx = RunContext(
        app=app, run_id="bench-run", pool=pool, services=runner.services, executor=runner
    )
    original = WorkflowRunner.__dict__["execute_node"]
    original = getattr(original, "__wrapped__", original)
    return (lambda: original(runner, spec, ctx)), runner, spec, ctx


def _time(call: Callable[[], Any], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe_overhead")
    parser.add_argument("--calls", type=int, default=300, help="node calls per batch")
    parser.add_argument("--rounds", type=int, default=60, help="interleaved batches per mode")
    parser.add_argument(
        "--warm", type=int, default=500, help="untimed calls after each re-instrumentation"
    )
    args = parser.parse_args(argv)

    import probe
    from probe.sampling import load_sampler
    from probe.settings import ProbeSettings
    from probe.targets import WORKFLOW_CORE

    baseline_call, runner, spec, ctx = _node_call()
    with tempfile.TemporaryDirectory() as tmp:
        keep_file, drop_file = Path(tmp, "keep.yaml"), Path(tmp, "drop.yaml")
        keep_file.write_text(POLICY.format(rule="keep", rate=1.0), encoding="utf-8")
        drop_file.write_text(POLICY.format(rule="drop", rate=0.0), encoding="utf-8")
        keep = load_sampler(str(keep_file), watch=False)
        drop = load_sampler(str(drop_file), watch=False)

    def probe_call() -> Any:
        return runner.execute_node(spec, ctx)  # as the runner calls it: bound

    bare_provider = _provider(DiscardingExporter())
    off_provider = _provider(DiscardingExporter(), sampler=ALWAYS_OFF)
    probe_provider = _provider(DiscardingExporter())
    bare_tracer = bare_provider.get_tracer("bench")
    off_tracer = off_provider.get_tracer("bench")
    providers = (bare_provider, off_provider, probe_provider)

    # Node calls happen inside a kept workflow run: enter one, its root span current (the root
    # span itself is not part of the per-node cost). Every mode's span is then a child, as a
    # node's span is in a real run: none starts a trace of its own.
    from opentelemetry import context as otel_context
    from opentelemetry.trace import set_span_in_context

    from probe._wrappers import _SCOPE
    from probe.spec import Run, Scope

    root = probe_provider.get_tracer("bench").start_span("invoke_workflow Bench")
    run = Run(root.get_span_context().trace_id, "Bench", {"flowscope.workflow.name": "Bench"})
    run_scope = Scope(None, run, None)
    run_scope.sampled, run_scope.span = True, root
    _SCOPE.set(run_scope)
    otel_context.attach(set_span_in_context(root))

    # The attributes the probe records on this node's span, for the bare SDK spans.
    name = "iteration Each item"
    attributes = _probe_attributes(probe_call, keep)
    configs: dict[str, tuple[Any, bool]] = {
        "drop": (drop, True),
        "drop_const": (_ConstantDrop(), True),
        "keep": (keep, True),
        "keep_no_capture": (keep, False),
    }
    active: list[str] = []

    def use(config: str | None) -> None:
        """Instrument with ``config`` (the probe exactly as configured, no test doubles)."""
        if config is None or (active and active[0] == config):
            return
        probe.uninstrument()
        sampler, capture = configs[config]
        settings = ProbeSettings(
            traces_exporter="none", metrics_exporter="none", capture_content=capture
        )
        probe.instrument(
            settings=settings, tracer_provider=probe_provider, sampler=sampler,
            targets=[WORKFLOW_CORE],
        )  # fmt: skip
        active[:] = [config]
        for _ in range(args.warm):  # untimed: new wrappers run cold (no specialised bytecode)
            probe_call()

    def bare_call() -> Any:
        with bare_tracer.start_as_current_span(name, attributes=attributes):
            return baseline_call()

    def off_call() -> Any:
        with off_tracer.start_as_current_span(name, attributes=attributes):
            return baseline_call()

    modes: dict[str, tuple[Callable[[], Any], str | None]] = {
        "baseline": (baseline_call, None),
        "drop_path": (probe_call, "drop"),
        "drop_path_const": (probe_call, "drop_const"),
        "sampled": (probe_call, "keep"),
        "sampled_no_capture": (probe_call, "keep_no_capture"),
        "otel_bare": (bare_call, None),
        "otel_drop": (off_call, None),
    }
    for call, config in modes.values():  # warm-up
        use(config)
        _time(call, max(100, args.calls // 10))
    per_round: dict[str, list[float]] = {mode: [] for mode in modes}
    order = list(modes.items())
    for index in range(args.rounds):
        # Every other round in reverse order: a batch's position in the round (what ran just
        # before it, an exporter's wake-up) then biases no mode.
        for mode, (call, config) in order if index % 2 == 0 else reversed(order):
            use(config)
            for provider in providers:  # untimed: no batch pays for earlier spans' export
                provider.force_flush()
            per_round[mode].append(_time(call, args.calls))
    probe.uninstrument()

    # Added cost of a mode = median over rounds of (mode - baseline) in the same round: adjacent
    # batches see the same machine load, so the pairing cancels most of the drift.
    base_rounds = per_round["baseline"]
    added = {
        mode: max(statistics.median(t - b for t, b in zip(times, base_rounds, strict=True)), 1e-3)
        for mode, times in per_round.items()
        if mode != "baseline"
    }
    base = statistics.median(base_rounds)
    # Ratios are computed from the printed (rounded) figures, so the JSON line is consistent on
    # its own: ``drop_ratio == round(drop_path_us / otel_drop_us, 3)`` holds exactly.
    us = {mode: round(value, 3) for mode, value in added.items()}
    result = {
        "calls_per_round": args.calls,
        "rounds": args.rounds,
        "baseline_us": round(base, 3),
        "drop_path_us": us["drop_path"],
        "sampled_us": us["sampled"],
        "otel_bare_us": us["otel_bare"],
        "otel_drop_us": us["otel_drop"],
        "drop_ratio": round(us["drop_path"] / us["otel_drop"], 3),
        "sampled_ratio": round(us["sampled"] / us["otel_bare"], 3),
        # The probe's own drop path: a constant sampler (decide/record cost ~nothing), i.e.
        # drop_path_us minus the policy sampler's decide + record.
        "drop_path_const_sampler_us": us["drop_path_const"],
        "drop_const_sampler_ratio": round(us["drop_path_const"] / us["otel_drop"], 3),
        # Without payload capture (FLOWSCOPE_CAPTURE_CONTENT=false): the span work alone.
        "sampled_no_capture_us": us["sampled_no_capture"],
        "sampled_no_capture_ratio": round(us["sampled_no_capture"] / us["otel_bare"], 3),
        "drop_target": 0.2,
        "sampled_target": 1.15,
    }
    for mode, times in per_round.items():
        print(f"{mode:>10}: median {statistics.median(times):8.2f} us/call", file=sys.stderr)
    print(json.dumps(result))
    return 0


def _probe_attributes(call: Callable[[], Any], sampler: Any) -> dict[str, Any]:
    """The attributes of one kept node span (an in-memory exporter, then uninstrumented)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import probe
    from probe.settings import ProbeSettings

    memory = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    settings = ProbeSettings(traces_exporter="none", metrics_exporter="none")
    probe.instrument(settings=settings, tracer_provider=provider, sampler=sampler)
    call()
    probe.uninstrument()
    (span,) = memory.get_finished_spans()
    return dict(span.attributes or {})


if __name__ == "__main__":
    sys.exit(main())
