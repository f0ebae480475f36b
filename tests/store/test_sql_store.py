"""SqlRunStore as the runner's listener and conversation store, on all three databases."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from workflow_core.conversation import ConversationState, Turn
from workflow_core.dsl import load_app
from workflow_core.events import NodeFinished, RunFinished, RunStarted
from workflow_core.providers.base import Usage
from workflow_core.runner import WorkflowRunner
from workflow_core.store.errors import StoreError
from workflow_core.store.models import (
    Conversation,
    NodeExecution,
    PromptVersion,
    Workflow,
    WorkflowRun,
)
from workflow_core.store.payload import TRUNCATED_KEY, PayloadPolicy, is_truncated
from workflow_core.store.redaction import REDACTED, Redactor
from workflow_core.store.sql_store import SqlRunStore
from workflow_core.store.types import utcnow

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"  # ../shared
TRANSLATION_INPUTS = {
    "country": "France",
    "source_lang": "English",
    "source_text": "The weather is lovely today.",
    "target_lang": "French",
}
CARD_API_KEY = "282856915996906898.lqe1hPL1OpFHfNAoMc1PdOToeximcTrw"


@pytest.fixture
def store(engine: Engine) -> Iterator[SqlRunStore]:
    yield SqlRunStore(engine, policy=PayloadPolicy(Redactor(), max_bytes=2048))


def _start(run_id: str, **kw: object) -> RunStarted:
    values: dict[str, object] = {
        "run_id": run_id,
        "app_id": "app-1",
        "app_name": "demo",
        "mode": "workflow",
        "inputs": {},
        "query": None,
        "conversation_id": None,
        "started_at": time.time(),
    }
    values.update(kw)
    return RunStarted(**values)  # type: ignore[arg-type]


def _node(run_id: str, node_id: str, **kw: object) -> NodeFinished:
    now = time.time()
    values: dict[str, object] = {
        "run_id": run_id,
        "node_id": node_id,
        "node_type": "code",
        "title": node_id,
        "status": "succeeded",
        "inputs": {},
        "outputs": {},
        "error": None,
        "started_at": now,
        "finished_at": now + 0.01,
        "attempts": 1,
        "usage": Usage(),
    }
    values.update(kw)
    return NodeFinished(**values)  # type: ignore[arg-type]


def _finish(run_id: str, status: str = "succeeded") -> RunFinished:
    now = time.time()
    return RunFinished(run_id, status, {"ok": True}, None, now - 1, now, Usage(3, 4))


def test_a_real_run_is_kept_with_its_node_executions_tokens_cost_and_prompts(
    store: SqlRunStore, engine: Engine
) -> None:
    app = load_app(CORPUS / "translation_workflow.yml")
    version = store.register_app(app)
    result = WorkflowRunner(app, listeners=[store]).run(TRANSLATION_INPUTS)
    assert result.status == "succeeded"

    with engine.connect() as connection:
        run = connection.execute(select(WorkflowRun).where(WorkflowRun.id == result.run_id)).one()
        nodes = connection.execute(
            select(NodeExecution).where(NodeExecution.run_id == result.run_id)
        ).all()
    assert run.status == "succeeded"
    assert run.workflow_id == version.workflow_id
    assert run.node_count == len(result.node_results) == len(nodes)
    assert sorted(n.node_id for n in nodes) == sorted(r.node_id for r in result.node_results)
    assert sorted(n.sequence for n in nodes) == list(range(1, len(nodes) + 1))
    llm_nodes = [n for n in nodes if n.node_type == "llm"]
    assert llm_nodes and all(n.prompt_version_id is not None for n in llm_nodes)
    assert all(n.prompt_version_id == version.prompt_versions[n.node_id] for n in llm_nodes)
    total_in = sum(r.usage.input_tokens for r in result.node_results)
    assert run.input_tokens == total_in > 0
    assert sum(n.input_tokens for n in nodes) == total_in
    assert run.cost_usd is not None and run.cost_usd > 0
    assert run.cost_usd == sum(n.cost_usd for n in llm_nodes)
    assert run.inputs == TRANSLATION_INPUTS


def test_the_same_dsl_is_one_version_and_a_changed_prompt_a_new_prompt_version(
    store: SqlRunStore, engine: Engine
) -> None:
    app = load_app(CORPUS / "translation_workflow.yml")
    first = store.register_app(app)
    again = store.register_app(app)
    assert again == first

    node = next(n for n in app.nodes if n.type == "llm")
    changed_data = dict(node.data)
    changed_data["prompt_template"] = [{"role": "system", "text": "Translate tersely."}]
    changed_nodes = tuple(
        n.model_copy(update={"data": changed_data}) if n.id == node.id else n for n in app.nodes
    )
    second = store.register_app(app.model_copy(update={"nodes": changed_nodes}))
    assert second.workflow_id != first.workflow_id
    assert second.prompt_versions[node.id] != first.prompt_versions[node.id]
    others = set(first.prompt_versions) - {node.id}
    assert all(second.prompt_versions[n] == first.prompt_versions[n] for n in others)
    with engine.connect() as connection:
        workflows = connection.execute(select(Workflow.content_hash)).scalars().all()
        versions = connection.execute(
            select(PromptVersion.content_hash).where(PromptVersion.node_id == node.id)
        ).all()
    assert len(workflows) == 2
    assert len(versions) == 2


def test_secrets_never_reach_the_database(store: SqlRunStore, engine: Engine) -> None:
    app = load_app(CORPUS / "Text_to_Card_Iteration.yml")
    store.register_app(app)
    run_id = str(uuid.uuid4())
    store.on_run_start(
        _start(run_id, inputs={"author": "me", "openai_api_key": "sk-abcdefghijklmnopqrstuvwx"})
    )
    store.on_node_finish(
        _node(
            run_id,
            "http",
            node_type="http-request",
            inputs={
                "headers": {"Authorization": "Bearer abcdefghijklmnop", "X-API-Key": CARD_API_KEY},
                "body": "token=supersecretvalue&x=1",
            },
            error=f"401 with key {CARD_API_KEY}",
        )
    )
    store.on_run_finish(_finish(run_id))
    with engine.connect() as connection:
        dumped = json.dumps(
            [
                [list(r) for r in connection.execute(select(t)).all()]
                for t in (Workflow, WorkflowRun, NodeExecution)
            ],
            default=str,
            ensure_ascii=False,
        )
        node = connection.execute(select(NodeExecution.inputs, NodeExecution.error)).one()
    for secret in (
        CARD_API_KEY,
        "sk-abcdefghijklmnopqrstuvwx",
        "abcdefghijklmnop",
        "supersecretvalue",
    ):
        assert secret not in dumped
    assert node.inputs["headers"] == {"Authorization": REDACTED, "X-API-Key": REDACTED}
    assert node.inputs["body"] == f"token={REDACTED}&x=1"
    assert node.error == f"401 with key {REDACTED}"


def test_large_payloads_are_capped_with_a_clear_marker(store: SqlRunStore, engine: Engine) -> None:
    run_id = str(uuid.uuid4())
    store.on_run_start(_start(run_id))
    big = {"text": "é" * 5000}
    store.on_node_finish(_node(run_id, "big", outputs=big, inputs={"small": 1}, error="x" * 5000))
    store.on_run_finish(_finish(run_id))
    with engine.connect() as connection:
        row = connection.execute(
            select(NodeExecution.inputs, NodeExecution.outputs, NodeExecution.error)
        ).one()
    assert row.inputs == {"small": 1}
    assert is_truncated(row.outputs)
    assert row.outputs[TRUNCATED_KEY] is True
    assert row.outputs["original_bytes"] == len(
        json.dumps(big, ensure_ascii=False, separators=(",", ":")).encode()
    )
    assert row.outputs["preview"].startswith('{"text":"éé')
    assert len(row.outputs["preview"].encode()) <= 2048
    assert row.error.endswith("…[truncated, 5000 bytes]")


def test_a_node_of_an_unknown_run_is_refused_with_its_ids(store: SqlRunStore) -> None:
    with pytest.raises(StoreError, match="node n1 \\(code\\) finished in run r-404"):
        store.on_node_finish(_node("r-404", "n1"))


def test_run_status_and_totals_are_set_when_the_run_finishes(
    store: SqlRunStore, engine: Engine
) -> None:
    run_id = str(uuid.uuid4())
    store.on_run_start(_start(run_id))
    with engine.connect() as connection:
        assert connection.execute(select(WorkflowRun.status)).scalar_one() == "running"
    store.on_node_finish(_node(run_id, "a"))
    store.on_node_finish(_node(run_id, "b", status="failed", error="boom"))
    store.on_run_finish(_finish(run_id, "failed"))
    with engine.connect() as connection:
        run = connection.execute(select(WorkflowRun)).one()
    assert (run.status, run.node_count, run.input_tokens, run.output_tokens) == ("failed", 2, 3, 4)
    assert run.finished_at > run.started_at
    assert run.elapsed_ms == pytest.approx(1000.0, rel=1e-3)


def test_conversations_persist_between_chat_turns(store: SqlRunStore) -> None:
    app = load_app(CORPUS / "simple-kimi.yml")
    runner = WorkflowRunner(app, listeners=[store], conversation_store=store)
    first = runner.run({}, query="hello")
    assert first.conversation_id is not None
    runner.run({}, query="and again", conversation_id=first.conversation_id)

    state = store.load(app.app_id, first.conversation_id)
    assert state is not None
    assert [t.query for t in state.turns] == ["hello", "and again"]
    assert store.load(app.app_id, "no-such-conversation") is None


def test_conversation_state_round_trips_verbatim(store: SqlRunStore) -> None:
    state = ConversationState(
        inputs={"lang": "fr"}, variables={"memo": ["a", 1]}, turns=[Turn("q1", "r1")]
    )
    store.save("app", "c-1", state)
    store.save(
        "app",
        "c-1",
        ConversationState(state.inputs, {"memo": []}, [*state.turns, Turn("q2", "r2")]),
    )
    loaded = store.load("app", "c-1")
    assert loaded == ConversationState(
        {"lang": "fr"}, {"memo": []}, [Turn("q1", "r1"), Turn("q2", "r2")]
    )
    assert store.load("other-app", "c-1") is None


def test_characters_a_database_refuses_do_not_lose_the_row(
    store: SqlRunStore, engine: Engine
) -> None:
    run_id = str(uuid.uuid4())
    store.on_run_start(_start(run_id, query="q\x00"))
    store.on_node_finish(
        _node(
            run_id,
            "odd",
            outputs={"nul": "a\x00b", "lone": "x\ud800y", "k\x00": float("nan")},
            error="bad\x00byte",
        )
    )
    store.on_run_finish(_finish(run_id))
    store.save("app", "c-odd", ConversationState({"q": "\x00"}, {}, [Turn("t\x00", "r")]))
    with engine.connect() as connection:
        node = connection.execute(select(NodeExecution.outputs, NodeExecution.error)).one()
        query = connection.execute(select(WorkflowRun.query)).scalar_one()
    assert node.outputs == {"nul": "a\ufffdb", "lone": "x\ufffdy", "k\ufffd": "nan"}
    assert node.error == "bad\ufffdbyte"
    assert query == "q\ufffd"
    loaded = store.load("app", "c-odd")
    assert loaded is not None and loaded.turns == [Turn("t\ufffd", "r")]


def test_a_malformed_conversation_state_is_named(store: SqlRunStore, engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(Conversation).values(
                app_id="app",
                id="broken",
                state={"turns": []},
                turns=0,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    with pytest.raises(StoreError, match="conversation broken of app app has a malformed state"):
        store.load("app", "broken")
