"""docker-compose.yml is checked with the compose CLI (no Docker engine runs here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose_cmd() -> list[str]:
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed; run scripts/system-deps.sh"
    )


def _config(*profile: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*_compose_cmd(), *profile, "config"]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CLICKHOUSE_")}
    full_env.update(env or {})
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120)


def _services(*profile: str) -> dict[str, Any]:
    proc = _config(*profile, env={"CLICKHOUSE_PASSWORD": "s3cret-from-env"})
    assert proc.returncode == 0, proc.stderr
    services: dict[str, Any] = yaml.safe_load(proc.stdout)["services"]
    return services


def test_compose_config_is_valid_and_binds_ports_to_localhost() -> None:
    services = _services()
    assert {"clickhouse", "jaeger", "collector", "dashboard", "workload"} <= set(services)
    for name, svc in services.items():
        for port in svc.get("ports", []):
            if isinstance(port, str):
                text = port
            else:
                text = f"{port.get('host_ip')}:{port.get('published')}"
            assert str(text).startswith("127.0.0.1:"), f"{name} publishes {port} beyond localhost"
    collector_env = services["collector"]["environment"]
    assert collector_env["FLOWSCOPE_STORE"].startswith("clickhouse://")
    assert collector_env["FLOWSCOPE_FORWARD_ENDPOINTS"] == "http://jaeger:4318"
    for name in ("clickhouse", "collector", "dashboard"):
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_compose_refuses_to_start_without_a_clickhouse_password() -> None:
    proc = _config()
    assert proc.returncode != 0
    assert "CLICKHOUSE_PASSWORD" in proc.stderr


def test_compose_file_holds_no_secrets() -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    data = yaml.safe_load(raw)
    for svc in data["services"].values():
        env = svc.get("environment", {}) if isinstance(svc, dict) else {}
        for key, value in env.items() if isinstance(env, dict) else []:
            if any(word in key for word in ("PASSWORD", "TOKEN", "SECRET")):
                assert str(value).startswith("${"), f"{key} is hard-coded in docker-compose.yml"


def test_cluster_profile_has_two_shards_two_replicas_keeper_and_two_collectors() -> None:
    services = _services("--profile", "cluster")
    shards = {n for n in services if n.startswith("ch-s")}
    assert shards == {"ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"}
    assert "keeper" in services
    collectors = [n for n in services if n.startswith("collector-")]
    assert len(collectors) == 2
    assert "http://ingest-lb:4318" in services["dashboard-cluster"]["command"]
    cluster_xml = (ROOT / "deploy/clickhouse/cluster/cluster.xml").read_text()
    assert cluster_xml.count("<shard>") == 2 and cluster_xml.count("<replica>") == 4


def test_cluster_collectors_start_after_the_on_cluster_schema_job_covers_every_shard() -> None:
    services = _services("--profile", "cluster")
    init = services["schema-init"]
    script, cluster, *dsns = init["command"][1:]
    assert script == "/app/deploy/cluster_schema.py"
    assert f"<{cluster}>" in (ROOT / "deploy/clickhouse/cluster/cluster.xml").read_text()
    shard_hosts = {dsn.split("@")[1].split(":")[0] for dsn in dsns}
    assert shard_hosts == {"ch-s1r1", "ch-s2r1"}  # one replica of each shard
    for name in ("collector-a", "collector-b"):
        condition = services[name]["depends_on"]["schema-init"]["condition"]
        assert condition == "service_completed_successfully"
        store_host = services[name]["environment"]["FLOWSCOPE_STORE"].split("@")[1].split(":")[0]
        assert store_host in shard_hosts


def test_every_flowscope_env_var_in_the_compose_file_is_read_by_the_code() -> None:
    """A variable the collector or dashboard never reads is a silent misconfiguration."""
    read = "".join(
        path.read_text()
        for package in ("collector", "dashboard", "probe", "workflow_core")
        for path in (ROOT / package).rglob("*.py")
    )
    read += (ROOT / "scripts/workload.sh").read_text()
    read += "".join(path.read_text() for path in (ROOT / "deploy").rglob("*.xml"))
    for name, svc in _services("--profile", "cluster").items():
        for key in svc.get("environment", {}):
            if key.startswith("FLOWSCOPE_"):
                assert key in read, f"{name}: {key} is set but nothing reads it"


def test_env_example_names_every_variable_the_compose_file_uses() -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", raw))
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / "deploy/env.example").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used <= example, f"missing from deploy/env.example: {sorted(used - example)}"


def test_cluster_schema_script_without_arguments_prints_its_usage() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "deploy/cluster_schema.py")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "DSN [DSN ...]" in proc.stderr


def test_cluster_nodes_authenticate_to_each_other_from_env_and_insert_synchronously() -> None:
    import xml.etree.ElementTree as ET

    cluster = ET.parse(ROOT / "deploy/clickhouse/cluster/cluster.xml").getroot()
    replicas = cluster.findall("./remote_servers/flowscope/shard/replica")
    assert len(replicas) == 4
    for replica in replicas:
        assert replica.find("user").get("from_env") == "CLICKHOUSE_USER"  # type: ignore[union-attr]
        password = replica.find("password")
        assert password is not None and password.get("from_env") == "CLICKHOUSE_PASSWORD"
        assert not (password.text or "").strip()  # never a literal password in the file
    users = ET.parse(ROOT / "deploy/clickhouse/cluster/users.xml").getroot()
    assert users.findtext("./profiles/default/distributed_foreground_insert") == "1"
    services = _services("--profile", "cluster")
    for name in ("ch-s1r1", "ch-s1r2", "ch-s2r1", "ch-s2r2"):
        mounts = " ".join(str(v) for v in services[name]["volumes"])
        assert "users.d/flowscope-profile.xml" in mounts, f"{name} lacks the insert profile"


def test_dockerfile_is_multi_stage_pinned_non_root_and_leaves_out_torch() -> None:
    text = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(froms) >= 2, "not multi-stage"
    assert all(re.search(r":\d+\.\d+\.\d+", image) for image in froms), froms  # pinned tags
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M), "runs as root"
    extras = re.search(r"pip wheel .*'\.\[([^\]]*)\]'", text)
    assert extras is not None
    assert set(extras.group(1).split(",")) == {"collector", "dashboard", "store"}
