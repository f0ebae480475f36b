"""Store DSNs: credentials are percent-decoded and never echoed in errors."""

from __future__ import annotations

import pytest

from collector.errors import ConfigError
from collector.storage.store import server_client_kwargs


def test_percent_encoded_credentials_are_decoded() -> None:
    kwargs = server_client_kwargs("clickhouse://ops%40team:s3cr%3At%40pw@ch.internal:9123/traces")
    assert kwargs["username"] == "ops@team"
    assert kwargs["password"] == "s3cr:t@pw"
    assert (kwargs["host"], kwargs["port"], kwargs["database"]) == ("ch.internal", 9123, "traces")
    assert kwargs["secure"] is False


def test_https_dsn_defaults_to_tls_port_and_default_user() -> None:
    kwargs = server_client_kwargs("https://ch.example")
    assert (kwargs["port"], kwargs["secure"], kwargs["username"]) == (8443, True, "default")
    assert kwargs["database"] == "default"


def test_unknown_scheme_error_hides_the_password() -> None:
    with pytest.raises(ConfigError) as err:
        server_client_kwargs("postgres://u:topsecret@db/x")
    assert "topsecret" not in str(err.value)
    assert "chdb, clickhouse, http or https" in str(err.value)
