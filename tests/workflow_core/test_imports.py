"""workflow_core never imports the observability side (the probe must stay invisible)."""

from __future__ import annotations

import json
import subprocess
import sys

from wfc_support import CORPUS

FORBIDDEN = ("probe", "collector", "dashboard", "opentelemetry")

SCRIPT = f"""
import json, sys
from workflow_core.cli import build_parser
from workflow_core.services import build_runner
runner = build_runner({str(CORPUS / "SEO_Slug_Generator.yml")!r}, environ={{}})
result = runner.run({{"title": "import check"}})
assert result.status == "succeeded", result.error
import workflow_core.nodes.iteration, workflow_core.nodes.loop, workflow_core.sandbox
print(json.dumps(sorted(sys.modules)))
"""


def test_running_a_workflow_imports_nothing_from_probe_collector_dashboard_or_otel() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "workflow_core.runner" in modules
    leaked = [m for m in modules if m.split(".")[0] in FORBIDDEN]
    assert leaked == []
