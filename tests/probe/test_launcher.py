"""``auto-instrument`` end to end: real subprocesses exporting to a local OTLP receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from otlp_receiver import ReceivedSpan, Receiver, otlp_receiver

from probe.launcher.cli import SITE_DIR

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"  # ../shared
BIN = Path(sys.executable).parent
TITLE = "How to brew great coffee at home"


@pytest.fixture
def receiver() -> Receiver:
    with otlp_receiver() as running:
        yield running  # type: ignore[misc]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLOWSCOPE_"))}
    env["FLOWSCOPE_SHUTDOWN_TIMEOUT_MS"] = "5000"
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(extra)
    return env


def _launch(receiver: Receiver, *command: str, cwd: Path | None = None, **env: str) -> str:
    completed = subprocess.run(
        [
            str(BIN / "auto-instrument"),
            "--service-name",
            "probe-e2e",
            "--endpoint",
            receiver.url,
            "--",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=_env(**env),
        cwd=cwd,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def _roots(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in spans if s.attributes.get("flowscope.span.kind") == "workflow"]


def test_flowscope_run_console_script_exports_workflow_node_and_llm_spans(
    receiver: Receiver,
) -> None:
    out = _launch(
        receiver,
        "flowscope",
        "run",
        str(CORPUS / "SEO_Slug_Generator.yml"),
        "--input",
        f"title={TITLE}",
        "--json",
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["status"] == "succeeded"
    spans = receiver.wait_for(5)
    (root,) = _roots(spans)
    assert root.name == "invoke_workflow SEO Slug Generator"
    assert root.parent_span_id == ""
    assert root.resource["service.name"] == "probe-e2e"
    assert root.attributes["flowscope.workflow.run_id"] == result["run_id"]
    nodes = {s.name: s for s in spans if s.attributes.get("flowscope.span.kind") == "node"}
    assert set(nodes) == {"start Start", "llm LLM", "end End"}
    assert all(n.parent_span_id == root.span_id for n in nodes.values())
    assert all(s.trace_id == root.trace_id for s in spans)
    (chat,) = [s for s in spans if s.attributes.get("flowscope.span.kind") == "llm"]
    assert chat.parent_span_id == nodes["llm LLM"].span_id
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    assert chat.attributes["flowscope.node.id"] == "1721110597868"


SCRIPT = textwrap.dedent(
    """
    import subprocess, sys
    from workflow_core.dsl import load_app
    from workflow_core.runner import WorkflowRunner

    app = load_app(sys.argv[1])
    WorkflowRunner(app).run({"title": "parent process"})
    if len(sys.argv) > 2:
        subprocess.run([sys.executable, __file__, sys.argv[1]], check=True)
    """
)


def test_python_script_and_its_child_process_are_both_traced(
    receiver: Receiver, tmp_path: Path
) -> None:
    script = tmp_path / "two_runs.py"
    script.write_text(SCRIPT, encoding="utf-8")
    _launch(receiver, sys.executable, str(script), str(CORPUS / "SEO_Slug_Generator.yml"), "child")
    roots = _roots(receiver.wait_for(10))
    assert len(roots) == 2
    assert len({r.trace_id for r in roots}) == 2


def test_python_dash_m_module_is_traced_and_existing_sitecustomize_still_runs(
    receiver: Receiver, tmp_path: Path
) -> None:
    own_site = tmp_path / "own_site"
    own_site.mkdir()
    marker = tmp_path / "marker.txt"
    (own_site / "sitecustomize.py").write_text(
        f"open({str(marker)!r}, 'w').write('chained')\n", encoding="utf-8"
    )
    _launch(
        receiver,
        sys.executable,
        "-m",
        "workflow_core.cli",
        "run",
        str(CORPUS / "SEO_Slug_Generator.yml"),
        "--input",
        f"title={TITLE}",
        PYTHONPATH=str(own_site),
    )
    assert len(_roots(receiver.wait_for(5))) == 1
    assert marker.read_text(encoding="utf-8") == "chained"


def test_launcher_sets_environment_from_flags(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrules:\n- id: all\n  rate: 1.0\n", encoding="utf-8")
    code = (
        "import os; e = os.environ; print(e['OTEL_SERVICE_NAME'], e['OTEL_EXPORTER_OTLP_ENDPOINT'],"
        " e['FLOWSCOPE_SAMPLING_POLICY'], e['PYTHONPATH'].split(os.pathsep)[0])"
    )
    completed = subprocess.run(
        [
            str(BIN / "auto-instrument"),
            "--service-name",
            "svc",
            "--endpoint",
            "http://127.0.0.1:9",
            "--policy",
            str(policy),
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(OTEL_TRACES_EXPORTER="none"),
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["svc", "http://127.0.0.1:9", str(policy), str(SITE_DIR)]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ([], 2, "COMMAND is required"),
        (["--", "no-such-command-xyz"], 127, "command not found: no-such-command-xyz"),
        (["--policy", "/nonexistent.yaml", "python"], 2, "--policy /nonexistent.yaml"),
    ],
)
def test_launcher_usage_errors(args: list[str], code: int, message: str) -> None:
    completed = subprocess.run(
        [str(BIN / "auto-instrument"), *args], capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == code
    assert message in completed.stderr


def test_traceparent_from_the_environment_parents_the_workflow_root(receiver: Receiver) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    _launch(
        receiver,
        "flowscope", "run", str(CORPUS / "SEO_Slug_Generator.yml"), "--input", f"title={TITLE}",
        TRACEPARENT=f"00-{trace_id}-{parent_id}-01",
    )  # fmt: skip
    (root,) = _roots(receiver.wait_for(5))
    assert root.trace_id == trace_id
    assert root.parent_span_id == parent_id


def test_process_that_imports_no_target_library_loads_no_sdk(receiver: Receiver) -> None:
    code = (
        "import sys; print(sorted(m for m in sys.modules"
        " if m.startswith(('probe.', 'opentelemetry.sdk'))))"
    )
    out = _launch(receiver, sys.executable, "-c", code)
    assert out.strip() == "['probe.launcher', 'probe.launcher.libraries']"
