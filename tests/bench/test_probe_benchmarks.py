"""The probe's benchmarks still run and print their contract keys (tiny sizes: no figures checked).

The figures themselves are reported by running the benchmarks at full size (README); this only
proves that ``python -m bench.NAME`` works end to end and that its last line keeps the keys that
tools outside the code rely on.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _last_json_line(*args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_probe_overhead_bench_prints_its_contract_keys() -> None:
    result = _last_json_line("bench.probe_overhead", "--calls", "20", "--rounds", "2")
    for key in ("drop_path_us", "sampled_us", "otel_bare_us", "otel_drop_us"):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["drop_ratio"] == round(result["drop_path_us"] / result["otel_drop_us"], 3)
    assert result["sampled_ratio"] == round(result["sampled_us"] / result["otel_bare_us"], 3)


def test_sampling_bench_counts_every_offered_span_against_a_real_collector() -> None:
    result = _last_json_line("bench.sampling", "--runs", "60", "--after-boost", "10")
    assert result["phase_a_failed_runs"] == 0
    # every decided span is offered, kept or not (a sampler that skips ``record`` for
    # successes must not hide them): more llm spans offered than kept at the 20 % rule
    assert result["llm_spans_offered"] > result["llm_kept_fraction_decided"] * 60 > 0
    assert result["spans_offered"] > result["spans_kept"]
    assert result["tokens_total_error"] == 0.0
    assert result["spans_stored"] == result["spans_kept"]
