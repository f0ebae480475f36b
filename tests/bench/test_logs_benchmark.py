"""``python -m bench.logs`` runs end to end at a tiny size and keeps its contract keys.

The figures are reported from full-size runs (README); here only that the benchmark works
against a real collector, stores every record it sent and reads each sampled trace back whole
(the benchmark asserts both itself and would exit non-zero).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_logs_bench_stores_every_record_and_prints_its_contract_keys() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.logs", "--records", "3000", "--lookups", "5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["records"] == 3000 and result["lookups"] == 5
    for key in ("raw_rows_per_s", "e2e_records_per_s", "lookup_ms_p50", "lookup_ms_p95"):
        assert result[key] > 0, key
    assert result["ratio"] == round(result["e2e_records_per_s"] / result["raw_rows_per_s"], 3)
