"""The case study end to end on real parts: `flowscope kb add` builds the shard KBs in chDB, the
RAG workflow runs under the probe (in a subprocess: chDB allows one data directory per process)
with the broken, then the fixed KB config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from workflow_core.retrieval.base import KnowledgeError
from workflow_core.retrieval.config import load_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "case_study"
BIN = Path(sys.executable).parent
QUESTION = "How long do refunds take?"
DATASET = "5d0c1f3e-6a2b-4c1e-9f4d-2b7a8e3c9d10"


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three shard KBs of the example, built with `flowscope kb add` as the demo does."""
    path = tmp_path_factory.mktemp("case-study") / "kb"
    for name, docs in (
        ("handbook-shard-1", "shard-1"),
        ("handbook-shard-2", "shard-2"),
        ("handbook-shard-2-replica", "shard-2"),
    ):
        subprocess.run(
            [BIN / "flowscope", "kb", "--kb-dir", path, "add", name, EXAMPLE / "docs" / docs],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return path


def run_configs(kb_dir: Path, *configs: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [
            sys.executable,
            Path(__file__).with_name("case_run.py"),
            kb_dir,
            EXAMPLE / "rag_support.yml",
            QUESTION,
            *configs,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    report: list[dict[str, Any]] = json.loads(proc.stdout.splitlines()[-1])
    return report


def variant(tmp_path: Path, name: str, **changes: Any) -> Path:
    """The broken example config with ``changes`` applied to its sharded `handbook` index."""
    raw = yaml.safe_load((EXAMPLE / "kb-broken.yaml").read_text())
    raw["sharded"]["handbook"].update(changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_broken_config_succeeds_with_empty_retrieval_and_shard_timeout_on_span(
    kb_dir: Path,
) -> None:
    [broken] = run_configs(kb_dir, EXAMPLE / "kb-broken.yaml")
    assert broken["status"] == "succeeded", broken["error"]  # silently: the run "works"
    assert broken["sources"] == []
    [span] = broken["retrieval"]
    assert span["flowscope.retrieval.result_count"] == 0
    assert span["flowscope.retrieval.shard_errors"] == [
        "shard handbook-shard-2 attempt 1: timed out after 300 ms"
    ]
    assert span["flowscope.retrieval.shards_lost"] == ["handbook-shard-2"]
    assert span["flowscope.retrieval.dataset_ids"] == [DATASET]


def test_fixed_config_retries_then_falls_back_to_the_replica(kb_dir: Path) -> None:
    [fixed] = run_configs(kb_dir, EXAMPLE / "kb-fixed.yaml")
    assert fixed["status"] == "succeeded", fixed["error"]
    assert fixed["sources"][0] == "refunds.md"
    [span] = fixed["retrieval"]
    assert span["flowscope.retrieval.result_count"] == len(fixed["sources"]) > 0
    # The slow primary still failed twice (first try + one retry); the replica answered.
    assert span["flowscope.retrieval.shard_errors"] == [
        "shard handbook-shard-2 attempt 1: timed out after 300 ms",
        "shard handbook-shard-2 attempt 2: timed out after 300 ms",
    ]
    assert "flowscope.retrieval.shards_lost" not in span


def test_transient_timeout_is_recovered_by_retry_alone_and_errors_mode_fails_loudly(
    kb_dir: Path, tmp_path: Path
) -> None:
    transient = variant(
        tmp_path,
        "transient",
        retry={"attempts": 1, "backoff_ms": 10},
        shards=[
            {"kb": "handbook-shard-1"},
            {"kb": "handbook-shard-2", "fault": {"delay_ms": 2000, "attempts": 1}},
        ],
    )
    loud = variant(tmp_path, "loud", on_shard_failure="error")
    healthy = variant(
        tmp_path, "healthy", shards=[{"kb": "handbook-shard-1"}, {"kb": "handbook-shard-2"}]
    )
    retried, failed, ok = run_configs(kb_dir, transient, loud, healthy)

    assert retried["status"] == "succeeded" and retried["sources"][0] == "refunds.md"
    assert retried["retrieval"][0]["flowscope.retrieval.shard_errors"] == [
        "shard handbook-shard-2 attempt 1: timed out after 300 ms"
    ]
    assert failed["status"] == "failed"
    assert "shard(s) ['handbook-shard-2'] did not answer" in failed["error"]
    assert "node retrieve (knowledge-retrieval)" in failed["error"]
    assert ok["sources"][0] == "refunds.md"
    assert "flowscope.retrieval.shard_errors" not in ok["retrieval"][0]


def test_missing_shard_kb_is_a_configuration_error_naming_it(kb_dir: Path, tmp_path: Path) -> None:
    typo = variant(tmp_path, "typo", shards=[{"kb": "handbook-shard-1"}, {"kb": "handbok-shard-2"}])
    [result] = run_configs(kb_dir, typo)
    assert result["status"] == "failed"
    assert "sharded knowledge base 'handbook'" in result["error"]
    assert "['handbok-shard-2'] do not exist" in result["error"]


def test_fallback_without_any_replica_is_refused_at_load(tmp_path: Path) -> None:
    bad = variant(tmp_path, "bad", fallback=True, shards=[{"kb": "a"}, {"kb": "b"}])
    with pytest.raises(
        KnowledgeError, match=r"bad\.yaml: sharded\.handbook: .*no shard names a `replica:`"
    ):
        load_config(bad)
    zero = variant(tmp_path, "zero", timeout_ms=0)
    with pytest.raises(KnowledgeError, match=r"sharded\.handbook\.timeout_ms"):
        load_config(zero)


def test_example_configs_differ_only_in_the_retry_policy_and_fallback() -> None:
    broken = load_config(EXAMPLE / "kb-broken.yaml").sharded["handbook"]
    fixed = load_config(EXAMPLE / "kb-fixed.yaml").sharded["handbook"]
    assert broken.shards == fixed.shards and broken.timeout_ms == fixed.timeout_ms
    assert (broken.retry.attempts, broken.fallback) == (0, False)
    assert (fixed.retry.attempts, fixed.fallback) == (1, True)
