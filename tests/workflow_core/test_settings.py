"""Run settings: explicit argument > environment > default, with clear errors."""

from __future__ import annotations

import pytest

from workflow_core.errors import InputError
from workflow_core.settings import RunSettings


def test_environment_overrides_defaults_and_arguments_override_environment() -> None:
    env = {
        "FLOWSCOPE_MAX_WORKERS": "2",
        "FLOWSCOPE_MAX_STEPS": "50",
        "FLOWSCOPE_CODE_NO_SLEEP": "1",
    }
    settings = RunSettings.from_env(env, max_workers=8)
    assert settings.max_workers == 8
    assert settings.max_steps == 50
    assert settings.code_patch_sleep is True
    assert settings.max_run_seconds == 1200.0
    assert RunSettings.from_env({}).max_workers == 4


def test_non_numeric_setting_names_the_variable() -> None:
    with pytest.raises(InputError, match="FLOWSCOPE_MAX_WORKERS must be a number, got 'many'"):
        RunSettings.from_env({"FLOWSCOPE_MAX_WORKERS": "many"})


def test_out_of_range_setting_is_refused() -> None:
    with pytest.raises(InputError, match="max_workers must be at least 1, got 0"):
        RunSettings.from_env({"FLOWSCOPE_MAX_WORKERS": "0"})


def test_env_value_overrides_feed_environment_variables() -> None:
    settings = RunSettings.from_env({"FLOWSCOPE_ENV_api_key": "k"})
    assert dict(settings.env_values) == {"api_key": "k"}
