"""Collector settings from the environment reach the parts they configure."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.app import build_runtime
from collector.errors import ConfigError
from collector.settings import load_settings


def test_batch_size_limits_from_environment_reach_the_spool_writer(tmp_path: Path) -> None:
    env = {
        "FLOWSCOPE_SPOOL_DIR": str(tmp_path / "spool"),
        "FLOWSCOPE_BATCH_MAX_BYTES": str(3 << 20),
        "FLOWSCOPE_BATCH_MAX_REQUESTS": "17",
    }
    settings = load_settings(env=env, store_dsn=f"chdb://{tmp_path / 'store'}")
    writer = build_runtime(settings).writer
    assert (writer.batch_max_bytes, writer.batch_max_records) == (3 << 20, 17)
    assert load_settings(env={}).batch_max_bytes == 8 << 20


def test_bad_batch_size_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="FLOWSCOPE_BATCH_MAX_BYTES must be an integer"):
        load_settings(env={"FLOWSCOPE_BATCH_MAX_BYTES": "8MiB"})
