"""Hot reload: a changed policy applies without a restart; an invalid one keeps the old policy."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest

from probe.sampling import load_sampler
from probe.sampling.sampler import PolicySampler

LLM_20 = [{"id": "llm", "match": {"kind": "llm"}, "rate": 0.2}, {"id": "d"}]
LLM_OFF = [{"id": "llm-off", "match": {"kind": "llm"}, "rate": 0.0}, {"id": "d"}]


def bump_mtime(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_changed_policy_file_applies_on_next_poll(tmp_path: Path, write_policy: Any) -> None:
    path = write_policy(tmp_path / "sampling.yaml", LLM_20)
    sampler = load_sampler(str(path), watch=False)
    assert isinstance(sampler, PolicySampler) and sampler.watcher is not None
    assert sampler.decide("llm", "wf", "llm", 0, True).reason == "llm"
    write_policy(path, LLM_OFF)
    bump_mtime(path)
    assert sampler.watcher.poll()
    decision = sampler.decide("llm", "wf", "llm", 0, True)
    assert not decision.sampled and decision.reason == "llm-off"
    assert not sampler.watcher.poll()  # unchanged file: nothing to do


def test_invalid_new_policy_logs_one_line_and_keeps_the_old_one(
    tmp_path: Path, write_policy: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_policy(tmp_path / "sampling.yaml", LLM_20)
    sampler = load_sampler(str(path), watch=False)
    assert isinstance(sampler, PolicySampler) and sampler.watcher is not None
    write_policy(path, [{"id": "llm", "match": {"kind": "llm"}, "rate": 7}, {"id": "d"}])
    bump_mtime(path)
    with caplog.at_level(logging.ERROR, logger="probe.sampling.reload"):
        assert not sampler.watcher.poll()
        assert not sampler.watcher.poll()  # the same bad file is reported once
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "sampling.yaml: rules[0].rate must be between 0 and 1, got 7" in errors[0].getMessage()
    assert "keeping the previous sampling policy" in errors[0].getMessage()
    assert sampler.decide("llm", "wf", "llm", 0, True) == (True, 0.2, "llm")


def test_deleted_policy_file_keeps_the_old_policy(tmp_path: Path, write_policy: Any) -> None:
    path = write_policy(tmp_path / "sampling.yaml", LLM_20)
    sampler = load_sampler(str(path), watch=False)
    assert isinstance(sampler, PolicySampler) and sampler.watcher is not None
    path.unlink()
    assert not sampler.watcher.poll()
    assert sampler.decide("llm", "wf", "llm", 0, True).reason == "llm"


def test_background_thread_reloads_within_a_few_seconds(tmp_path: Path, write_policy: Any) -> None:
    path = write_policy(tmp_path / "sampling.yaml", LLM_20, reload_interval_seconds=0.2)
    sampler = load_sampler(str(path))
    assert isinstance(sampler, PolicySampler)
    try:
        write_policy(path, LLM_OFF, reload_interval_seconds=0.2)
        bump_mtime(path)
        deadline = time.monotonic() + 10
        while sampler.decide("llm", "wf", "llm", 0, True).reason != "llm-off":
            assert time.monotonic() < deadline, "policy not reloaded within 10 s"
            time.sleep(0.05)
    finally:
        sampler.close()
    assert sampler.watcher is not None and sampler.watcher._thread is None


def test_reload_keeps_error_windows(tmp_path: Path, write_policy: Any) -> None:
    path = write_policy(tmp_path / "sampling.yaml", LLM_20)
    sampler = load_sampler(str(path), watch=False)
    assert isinstance(sampler, PolicySampler)
    for index in range(100):
        sampler.decide("workflow", "wf", None, 1, True)  # decide counts the span, record its error
        sampler.record("workflow", "wf", None, index >= 95)
    write_policy(path, LLM_OFF)
    bump_mtime(path)
    assert sampler.watcher is not None and sampler.watcher.poll()
    assert sampler.decide("llm", "wf", "llm", 0, True).reason == "error_boost"
