"""Shared helpers for the sampling tests: a simulated clock and policy builders."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from probe.sampling.policy import Policy, parse_policy
from probe.sampling.sampler import PolicySampler


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _policy(rules: list[dict[str, Any]], **settings: Any) -> Policy:
    return parse_policy({"version": 1, "settings": settings, "rules": rules}, "test.yaml")


class MakeSampler(Protocol):
    def __call__(
        self, rules: list[dict[str, Any]], clock: FakeClock | None = None, **settings: Any
    ) -> PolicySampler: ...


class WritePolicy(Protocol):
    def __call__(self, path: Path, rules: list[dict[str, Any]], **settings: Any) -> Path: ...


@pytest.fixture
def make_sampler() -> MakeSampler:
    def make(
        rules: list[dict[str, Any]], clock: FakeClock | None = None, **settings: Any
    ) -> PolicySampler:
        return PolicySampler(_policy(rules, **settings), clock=clock or FakeClock())

    return make


@pytest.fixture
def write_policy() -> WritePolicy:
    def write(path: Path, rules: list[dict[str, Any]], **settings: Any) -> Path:
        path.write_text(yaml.safe_dump({"version": 1, "settings": settings, "rules": rules}))
        return path

    return write


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _restore_probe_log_level() -> Iterator[None]:
    """An error boost turns the "probe" logger to DEBUG; never leak that into other tests."""
    probe_logger = logging.getLogger("probe")
    level = probe_logger.level
    yield
    probe_logger.setLevel(level)
