"""Sampling benchmark: kept fractions, exact totals and error-boost reaction, end to end.

``python -m bench.sampling [--runs 2000]`` starts a real collector process (``flowscope
collector``, chDB in a temporary directory, a free loopback port), builds the example knowledge
base (``examples/kb``) in the same temporary directory, then runs corpus workflows in this
process under ``probe.instrument()`` with the simulated LLM (latency 0) and the policy LLM 20 %,
retrieval 50 %, critical 100 % (``translation_workflow`` is critical):

- phase A: ``--runs`` runs; of every 5, 3 ``SEO_Slug_Generator``, 1 ``Document_chat_template``
  (LLM, question classifier, knowledge retrieval) and 1 critical ``translation_workflow``;
- phase B: ``SEO_Slug_Generator`` with every 10th LLM call failing, until the sampler's error
  boost switches the workflow to 100 %, then ``--after-boost`` runs more.

The truth comes from this process: the policy sampler is wrapped to count every span offered
(what a 100 % policy would export) and kept, and the simulated provider's responses are summed
(tokens, and cost priced per call with genai-prices). The stored side comes from the collector's
read API (``/api/stats/models``, ``/api/traces``, ``/api/stats/overview``, ``/api/stats/usage``).
The last stdout line is one JSON object; the baselines (the 100 % policy's span count, the OTel
SDK's sampled-out span) are measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

CORPUS = Path(
    os.environ.get("FLOWSCOPE_CORPUS")
    or os.environ.get("FLOWSCOPE_DSL_CORPUS")
    or Path(__file__).resolve().parents[2] / "shared" / "dify-dsl"
)
SEO_FILE = "SEO_Slug_Generator.yml"
CRITICAL_FILE = "translation_workflow.yml"
DOC_FILE = "Document_chat_template.yml"
DOC_QUESTIONS = (
    "How do I install flowscope?",
    "What is the architecture of the collector?",
    "Tell me about the research notes",
)
INPUTS = {
    SEO_FILE: {"title": "How to bake sourdough bread at home"},
    CRITICAL_FILE: {
        "target_lang": "French",
        "source_text": "Good morning!",
        "source_lang": "English",
    },
}
THRESHOLD = 0.01


def app_name(file: str) -> str:
    """The workflow name the probe reports (the DSL's ``app.name``, not the file name)."""
    return str(yaml.safe_load((CORPUS / file).read_text(encoding="utf-8"))["app"]["name"])


SEO = app_name(SEO_FILE)
CRITICAL = app_name(CRITICAL_FILE)
DOC = app_name(DOC_FILE)


def policy_document() -> dict[str, Any]:
    return {
        "version": 1,
        "settings": {
            # One window spans the whole bench, so the bench's own cumulative error count is the
            # window's count and the crossing run can be computed independently.
            "error_boost": {
                "threshold": THRESHOLD,
                "window_seconds": 3600,
                "buckets": 12,
                "min_spans": 20,
                "min_hold_seconds": 3600,
            },
            "adaptive": {"enabled": False},
        },
        "rules": [
            {"id": "critical", "match": {"workflow": CRITICAL}, "critical": True},
            {"id": "skeleton", "match": {"kind": ["workflow", "node", "iteration", "loop"]}},
            {"id": "llm", "match": {"kind": "llm"}, "rate": 0.2},
            {"id": "retrieval", "match": {"kind": ["retrieval", "embedding"]}, "rate": 0.5},
            {"id": "default", "rate": 1.0},
        ],
    }


class CountingSampler:
    """Delegates to the policy sampler and counts offered (decided) and kept spans."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.offered: Counter[tuple[str, str | None]] = Counter()
        self.kept: Counter[tuple[str, str | None]] = Counter()

    def decide(
        self,
        kind: str,
        workflow: str | None,
        node_type: str | None,
        trace_id: int,
        parent_sampled: bool,
        critical: bool = False,
    ) -> Any:
        decision = self.inner.decide(kind, workflow, node_type, trace_id, parent_sampled, critical)
        self.offered[(kind, workflow)] += 1
        if decision.sampled:
            self.kept[(kind, workflow)] += 1
        return decision

    def record(self, kind: str, workflow: str | None, node_type: str | None, error: bool) -> None:
        self.inner.record(kind, workflow, node_type, error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def bench_llm_class() -> type:
    """The simulated provider, recording every response and failing on demand."""
    from workflow_core.errors import ProviderError
    from workflow_core.providers.simulated import SimulatedLLM

    class BenchLLM(SimulatedLLM):
        def __init__(self) -> None:
            super().__init__(latency_ms=0.0)
            self.calls: list[tuple[str, str, int, int, int]] = []
            self.fail_every = 0
            self._count = 0

        def _invoke(self, request: Any) -> Any:
            self._count += 1
            if self.fail_every and self._count % self.fail_every == 0:
                raise ProviderError("bench: injected provider failure")
            response = super()._invoke(request)
            usage = response.usage
            self.calls.append(
                (
                    response.provider,
                    response.model,
                    usage.input_tokens,
                    usage.output_tokens,
                    getattr(usage, "cached_input_tokens", 0) or 0,
                )
            )
            return response

    return BenchLLM


def true_cost(calls: list[tuple[str, str, int, int, int]]) -> float:
    """Price every call on its own with genai-prices (provider first, then any provider)."""
    from genai_prices import Usage, calc_price

    total = 0.0
    for provider, model, input_tokens, output_tokens, cached in calls:
        usage = Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached or None
        )
        for provider_id in [provider, None] if provider else [None]:
            try:
                total += float(
                    calc_price(usage, model_ref=model, provider_id=provider_id).total_price
                )
                break
            except Exception:  # unknown to genai-prices under this provider id
                continue
    return total


def hot_path_figures(policy_path: Path, loops: int = 200_000) -> dict[str, float]:
    """Cost of ``decide`` + ``record`` (a dropped LLM span) vs the OTel SDK's sampled-out span."""
    import random
    import timeit

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

    from probe.sampling import load_sampler

    sampler = load_sampler(str(policy_path), watch=False)
    trace_id = random.Random(5).getrandbits(128) | (0xFFFF << 48)  # dropped at 20 %
    assert not sampler.decide("llm", SEO, "llm", trace_id, True).sampled

    def ours() -> None:
        sampler.decide("llm", SEO, "llm", trace_id, True)
        sampler.record("llm", SEO, "llm", False)

    tracer = TracerProvider(sampler=TraceIdRatioBased(0.0)).get_tracer("bench")
    attributes = {"gen_ai.request.model": "gpt-4o-mini", "flowscope.span.kind": "llm"}

    def sdk() -> None:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attributes):
            pass

    best = {}
    for name, fn in (("decide_record_us", ours), ("otel_drop_us", sdk)):
        best[name] = min(timeit.repeat(fn, number=loops // 10, repeat=5)) / (loops // 10) * 1e6
    best["decide_record_ratio"] = best["decide_record_us"] / best["otel_drop_us"]
    return {k: round(v, 3) for k, v in best.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def collector(workdir: Path) -> Iterator[str]:
    port = free_port()
    log = (workdir / "collector.log").open("wb")
    flowscope = shutil.which("flowscope", path=str(Path(sys.executable).parent)) or "flowscope"
    proc = subprocess.Popen(
        [
            flowscope,
            "collector",
            "--port",
            str(port),
            "--store",
            f"chdb://{workdir / 'chdb'}",
            "--spool-dir",
            str(workdir / "spool"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"collector exited with {proc.returncode}; see {log.name}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"collector not healthy after 120 s; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def get(url: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{url}{path}", params={k: v for k, v in params.items() if v}, timeout=60)
    response.raise_for_status()
    return response.json()


def wait_stored(url: str, service: str, expected_spans: int, timeout: float = 180) -> int:
    """Poll until the collector has stored the spans the probe kept (or the count is stable)."""
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while time.monotonic() < deadline:
        spans = int(get(url, "/api/stats/overview", service=service)["spans"])
        usage = get(url, "/api/stats/usage", service=service)["totals"]["calls"]
        if spans >= expected_spans and usage:
            return spans
        stable = stable + 1 if spans == last else 0
        if stable >= 10:
            return spans
        last = spans
        time.sleep(1)
    return last


def build_kb(workdir: Path) -> dict[str, str]:
    """A local knowledge base for ``Document_chat_template`` (the repo's example KB, bm25)."""
    repo = Path(__file__).resolve().parents[1]
    env = {
        "FLOWSCOPE_KB_CONFIG": str(repo / "examples" / "kb" / "kb.yaml"),
        "FLOWSCOPE_KB_DIR": str(workdir / "kb"),
    }
    flowscope = shutil.which("flowscope", path=str(Path(sys.executable).parent)) or "flowscope"
    subprocess.run(
        [flowscope, "kb", "add", "workflow-docs", str(repo / "examples" / "kb" / "docs")],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sampling", description=__doc__)
    parser.add_argument("--runs", type=int, default=2000, help="phase A runs (>= 2000)")
    parser.add_argument("--after-boost", type=int, default=100)
    parser.add_argument("--max-error-runs", type=int, default=2000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import probe
    from probe.sampling import load_sampler
    from probe.sampling.sampler import PolicySampler
    from probe.settings import ProbeSettings
    from workflow_core.services import build_runner

    workdir = Path(tempfile.mkdtemp(prefix="flowscope-bench-sampling-"))
    service = f"bench-sampling-{uuid.uuid4().hex[:8]}"
    policy_path = workdir / "sampling.yaml"
    policy_path.write_text(yaml.safe_dump(policy_document(), sort_keys=False))
    try:
        hot_path = hot_path_figures(policy_path)
        kb_env = build_kb(workdir)
        os.environ.update(kb_env)  # the retrieval service reads its config from the environment
        with collector(workdir) as url:
            inner = load_sampler(str(policy_path))
            assert isinstance(inner, PolicySampler)
            sampler = CountingSampler(inner)
            settings = ProbeSettings.from_env(
                {"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_SERVICE_NAME": service}
            )
            llm = bench_llm_class()()
            probe.instrument(settings=settings, sampler=sampler)
            try:
                runners = {}
                for file in (SEO_FILE, CRITICAL_FILE, DOC_FILE):
                    runner = build_runner(CORPUS / file, environ=kb_env)
                    runner.services.llm = llm
                    runners[file] = runner
                figures = run_phases(args, runners, sampler, inner, llm)
            finally:
                probe.uninstrument()
                inner.close()
            expected = sum(sampler.kept.values())
            stored_spans = wait_stored(url, service, expected)
            figures.update(read_back(url, service, sampler, llm, figures, stored_spans))
            figures.update(hot_path)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for key, value in figures.items():
        if not key.startswith("_"):
            print(f"{key:>34}: {value}", file=sys.stderr)
    print(json.dumps({k: v for k, v in figures.items() if not k.startswith("_")}))
    return 0


def workload(index: int) -> tuple[str, dict[str, Any]]:
    """Of every 5 runs: 3 SEO slugs, 1 document chat (retrieval), 1 critical translation."""
    slot = index % 5
    if slot == 4:
        return CRITICAL_FILE, INPUTS[CRITICAL_FILE]
    if slot == 2:
        return DOC_FILE, {"input": DOC_QUESTIONS[(index // 5) % len(DOC_QUESTIONS)]}
    return SEO_FILE, INPUTS[SEO_FILE]


def run_phases(
    args: argparse.Namespace,
    runners: dict[str, Any],
    sampler: CountingSampler,
    inner: Any,
    llm: Any,
) -> dict[str, Any]:
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    failed_a = 0
    for index in range(args.runs):
        file, inputs = workload(index)
        failed_a += runners[file].run(inputs).status == "failed"
    phase_a_seconds = time.perf_counter() - t0
    time.sleep(0.05)
    phase_a_end = datetime.now(UTC)
    time.sleep(0.05)
    offered_a = Counter(sampler.offered)
    kept_a = Counter(sampler.kept)

    # Phase B: every 10th LLM call fails. The window holds every run of the bench (1 h), so the
    # error rate the sampler sees is the cumulative one below; crossing = first run above 1 %.
    total = sampler.offered[("workflow", SEO)]
    errors = 0
    llm.fail_every = 10
    crossing = boosted = None
    error_runs = 0
    while error_runs < args.max_error_runs:
        result = runners[SEO_FILE].run(INPUTS[SEO_FILE])
        error_runs += 1
        total += 1
        errors += result.status == "failed"
        if crossing is None and total >= 20 and errors / total > THRESHOLD:
            crossing = error_runs
        if boosted is None and inner.boost.is_boosted(SEO, "llm"):
            boosted = error_runs
            boost_start = datetime.now(UTC)
            offered_before = sampler.offered[("llm", SEO)]
        if boosted is not None and error_runs >= boosted + args.after_boost:
            break
    llm.fail_every = 0
    figures: dict[str, Any] = {
        "runs": args.runs + error_runs,
        "phase_a_runs": args.runs,
        "phase_a_failed_runs": failed_a,
        "phase_a_seconds": round(phase_a_seconds, 2),
        "phase_b_runs": error_runs,
        "error_boost_crossing_run": crossing,
        "error_boost_boosted_run": boosted,
        "error_boost_reaction_runs": (
            boosted - crossing if boosted is not None and crossing is not None else None
        ),
        "_offered_a": offered_a,
        "_kept_a": kept_a,
        "_phase_a": (started.isoformat(), phase_a_end.isoformat()),
    }
    if boosted is not None:
        figures["_boost"] = (boost_start.isoformat(), offered_before)
    return figures


def stored_kinds(url: str, service: str, workflow: str, since: str, until: str) -> Counter[str]:
    """Spans per ``flowscope.span.kind`` stored for ``workflow``'s traces in the window."""
    kinds: Counter[str] = Counter()
    offset = 0
    while True:
        page = get(
            url,
            "/api/traces",
            workflow=workflow,
            service=service,
            since=since,
            until=until,
            limit=1000,
            offset=offset,
        )["traces"]
        for trace in page:
            for span in get(url, f"/api/traces/{trace['trace_id']}")["spans"]:
                kinds[str(span["attributes"].get("flowscope.span.kind", ""))] += 1
        if len(page) < 1000:
            return kinds
        offset += 1000


def read_back(
    url: str,
    service: str,
    sampler: CountingSampler,
    llm: Any,
    figures: dict[str, Any],
    stored_spans: int,
) -> dict[str, Any]:
    since, until = figures["_phase_a"]
    offered_a: Counter[tuple[str, str | None]] = figures["_offered_a"]
    kept_a: Counter[tuple[str, str | None]] = figures["_kept_a"]
    stored_llm = 0
    for workflow in (SEO, DOC):
        models = get(
            url, "/api/stats/models", workflow=workflow, service=service, since=since, until=until
        )
        stored_llm += sum(int(m["sampled_calls"]) for m in models["models"])
    offered_llm = offered_a[("llm", SEO)] + offered_a[("llm", DOC)]
    doc_kinds = stored_kinds(url, service, DOC, since, until)
    critical = get(url, "/api/stats/overview", workflow=CRITICAL, service=service)
    critical_offered = sum(n for (kind, wf), n in sampler.offered.items() if wf == CRITICAL)
    usage = get(url, "/api/stats/usage", service=service)["totals"]
    true_tokens = sum(c[2] + c[3] for c in llm.calls)
    true_cost_usd = true_cost(llm.calls)
    stored_tokens = int(usage["input_tokens"]) + int(usage["output_tokens"])
    offered_total = sum(sampler.offered.values())
    out: dict[str, Any] = {
        "llm_kept_fraction": round(stored_llm / offered_llm, 4),
        "llm_spans_offered": offered_llm,
        "llm_kept_fraction_decided": round(
            (kept_a[("llm", SEO)] + kept_a[("llm", DOC)]) / offered_llm, 4
        ),
        "retrieval_kept_fraction": round(doc_kinds["retrieval"] / offered_a[("retrieval", DOC)], 4),
        "retrieval_spans_offered": offered_a[("retrieval", DOC)],
        "critical_kept_fraction": round(int(critical["spans"]) / critical_offered, 4),
        "cost_total_error": abs(float(usage["cost_usd"]) - true_cost_usd) / true_cost_usd,
        "tokens_total_error": abs(stored_tokens - true_tokens) / true_tokens,
        "true_cost_usd": true_cost_usd,
        "stored_cost_usd": float(usage["cost_usd"]),
        "true_tokens": true_tokens,
        "stored_tokens": stored_tokens,
        "true_llm_calls": len(llm.calls),
        "stored_llm_calls": int(usage["calls"]),
        "spans_offered": offered_total,
        "spans_kept": sum(sampler.kept.values()),
        "spans_stored": stored_spans,
        "spans_exported_ratio": round(stored_spans / offered_total, 4),
    }
    if "_boost" in figures:
        boost_since, offered_before = figures["_boost"]
        offered = sampler.offered[("llm", SEO)] - offered_before
        boosted = get(url, "/api/stats/models", workflow=SEO, service=service, since=boost_since)
        stored = sum(int(m["sampled_calls"]) for m in boosted["models"])
        out["boosted_llm_kept_fraction"] = round(stored / offered, 4) if offered else None
    return out


if __name__ == "__main__":
    raise SystemExit(main())
