"""Read queries: run history with filters and pages, one run, diffs, prompt versions, trends."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from workflow_core.dsl import load_app
from workflow_core.events import NodeFinished, RunFinished, RunStarted
from workflow_core.providers.base import Usage
from workflow_core.runner import WorkflowRunner
from workflow_core.store.errors import NotFoundError, StoreError
from workflow_core.store.models import WorkflowRun
from workflow_core.store.queries import RunHistory, jsonable
from workflow_core.store.sql_store import SqlRunStore

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "dify-dsl"  # ../shared
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _record(
    store: SqlRunStore,
    workflow: str,
    status: str,
    nodes: list[tuple[str, str, dict[str, object]]],
    at: float,
) -> str:
    run_id = str(uuid.uuid4())
    inputs = {"lang": "fr" if int(at) % 7200 == 0 else "de", "n": 1}
    store.on_run_start(RunStarted(run_id, "app", workflow, "workflow", inputs, None, None, at))
    for i, (node_id, node_status, outputs) in enumerate(nodes):
        store.on_node_finish(
            NodeFinished(
                run_id,
                node_id,
                "code",
                node_id,
                node_status,
                {},
                outputs,
                "boom" if node_status == "failed" else None,
                at + i,
                at + i + 0.5,
                1,
                Usage(),
            )
        )
    store.on_run_finish(RunFinished(run_id, status, {}, None, at, at + 10, Usage()))
    return run_id


@pytest.fixture
def history(engine: Engine) -> RunHistory:
    return RunHistory(engine)


def test_runs_are_listed_newest_first_filtered_and_paged(
    engine: Engine, history: RunHistory
) -> None:
    store = SqlRunStore(engine)
    ids = [
        _record(
            store,
            "alpha" if i % 2 else "beta",
            "failed" if i % 3 == 0 else "succeeded",
            [],
            (T0 + timedelta(hours=i)).timestamp(),
        )
        for i in range(10)
    ]
    page = history.list_runs(limit=4)
    assert [r.id for r in page.items] == ids[::-1][:4]
    walked = list(page.items)
    while page.next_cursor:
        page = history.list_runs(limit=4, cursor=page.next_cursor)
        walked.extend(page.items)
    assert [r.id for r in walked] == ids[::-1]

    alpha = history.list_runs(workflow="alpha", limit=100).items
    assert [r.id for r in alpha] == [ids[i] for i in (9, 7, 5, 3, 1)]
    failed = history.list_runs(status="failed", limit=100).items
    assert {r.id for r in failed} == {ids[i] for i in (0, 3, 6, 9)}
    window = history.list_runs(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=5)).items
    assert [r.id for r in window] == [ids[4], ids[3], ids[2]]
    assert window[0].started_at == T0 + timedelta(hours=4)
    french = history.list_runs(inputs={"lang": "fr"}, limit=100).items  # even hours
    assert [r.id for r in french] == [ids[i] for i in (8, 6, 4, 2, 0)]
    assert history.list_runs(inputs={"lang": "fr", "n": "2"}).items == []


def test_one_run_comes_with_its_nodes_in_order(engine: Engine, history: RunHistory) -> None:
    store = SqlRunStore(engine)
    app = load_app(CORPUS / "translation_workflow.yml")
    store.register_app(app)
    result = WorkflowRunner(app, listeners=[store]).run(
        {"country": "Peru", "source_lang": "English", "source_text": "Hi", "target_lang": "Spanish"}
    )
    detail = history.get_run(result.run_id)
    assert detail.run.status == "succeeded"
    assert detail.inputs["target_lang"] == "Spanish"
    assert [n.node_id for n in detail.nodes] == [r.node_id for r in result.node_results]
    assert [n.sequence for n in detail.nodes] == list(range(1, len(detail.nodes) + 1))
    with pytest.raises(NotFoundError, match="run 'nope' is not in the run store"):
        history.get_run("nope")


def test_two_runs_are_paired_node_by_node(engine: Engine, history: RunHistory) -> None:
    store = SqlRunStore(engine)
    at = T0.timestamp()
    left = _record(
        store,
        "w",
        "succeeded",
        [
            ("start", "succeeded", {"x": 1}),
            ("step", "succeeded", {"y": 1}),
            ("step", "succeeded", {"y": 2}),
            ("old", "succeeded", {}),
        ],
        at,
    )
    right = _record(
        store,
        "w",
        "failed",
        [
            ("start", "succeeded", {"x": 1}),
            ("step", "succeeded", {"y": 1}),
            ("step", "failed", {}),
            ("new", "succeeded", {}),
        ],
        at + 60,
    )
    diff = history.diff_runs(left, right)
    assert (diff.left.id, diff.right.id) == (left, right)
    summary = [(p.node_id, p.occurrence, p.changed) for p in diff.pairs]
    assert summary == [
        ("start", 1, ()),
        ("step", 1, ()),
        ("step", 2, ("status", "outputs", "error")),
        ("old", 1, ("missing",)),
        ("new", 1, ("missing",)),
    ]
    assert diff.pairs[3].right is None and diff.pairs[4].left is None


def test_prompt_versions_per_node_with_runs_and_cost(engine: Engine, history: RunHistory) -> None:
    store = SqlRunStore(engine)
    app = load_app(CORPUS / "translation_workflow.yml")
    inputs = {
        "country": "Peru",
        "source_lang": "English",
        "source_text": "Hi",
        "target_lang": "Spanish",
    }
    store.register_app(app)
    runner = WorkflowRunner(app, listeners=[store])
    for _ in range(2):
        runner.run(inputs)
    node = next(n for n in app.nodes if n.type == "llm")
    data = {
        **node.data,
        "prompt_template": [{"role": "user", "text": "Translate: {{#1721117927142.source_text#}}"}],
    }
    changed = app.model_copy(
        update={
            "nodes": tuple(
                n.model_copy(update={"data": data}) if n.id == node.id else n for n in app.nodes
            )
        }
    )
    store.register_app(changed)
    WorkflowRunner(changed, listeners=[store]).run(inputs)

    versions = history.prompt_versions(app.name, node.id)
    assert [(v.runs, v.executions) for v in versions] == [(2, 2), (1, 1)]
    assert versions[0].content_hash != versions[1].content_hash
    assert versions[1].template == data["prompt_template"]
    assert all(v.cost_usd is not None and v.cost_usd > 0 for v in versions)
    assert all(v.input_tokens > 0 and v.avg_elapsed_ms is not None for v in versions)
    assert versions[0].first_seen_at <= versions[0].last_seen_at <= versions[1].last_seen_at
    every_node = history.prompt_versions(app.name)
    assert {v.node_id for v in every_node} == {n.id for n in app.nodes if n.type == "llm"}


def test_runs_over_time_counts_runs_failures_and_cost_per_bucket(
    engine: Engine, history: RunHistory
) -> None:
    store = SqlRunStore(engine)
    offsets = [0, 10, 50, 61, 130]  # minutes after T0
    ids = [
        _record(
            store,
            "w",
            "failed" if m == 10 else "succeeded",
            [],
            (T0 + timedelta(minutes=m)).timestamp(),
        )
        for m in offsets
    ]
    with engine.begin() as connection:
        connection.execute(
            update(WorkflowRun).where(WorkflowRun.id == ids[0]).values(cost_usd=Decimal("0.25"))
        )
        connection.execute(
            update(WorkflowRun).where(WorkflowRun.id == ids[1]).values(cost_usd=Decimal("0.5"))
        )
    buckets = history.runs_over_time("hour", workflow="w")
    assert [(b.bucket, b.runs, b.failed) for b in buckets] == [
        (T0, 3, 1),
        (T0 + timedelta(hours=1), 1, 0),
        (T0 + timedelta(hours=2), 1, 0),
    ]
    assert buckets[0].cost_usd == Decimal("0.75")
    assert buckets[1].cost_usd is None
    daily = history.runs_over_time("day", since=T0 - timedelta(days=1))
    assert [(b.bucket, b.runs) for b in daily] == [(T0.replace(hour=0), 5)]
    with pytest.raises(StoreError, match="unit must be one of"):
        history.runs_over_time("decade")


def test_results_serialise_to_plain_json(engine: Engine, history: RunHistory) -> None:
    store = SqlRunStore(engine)
    run_id = _record(store, "w", "succeeded", [("a", "succeeded", {"v": 1})], T0.timestamp())
    with engine.begin() as connection:
        connection.execute(
            update(WorkflowRun).where(WorkflowRun.id == run_id).values(cost_usd=Decimal("0.125"))
        )
    page = jsonable(history.list_runs())
    detail = jsonable(history.get_run(run_id))
    assert json.loads(json.dumps(page)) == page  # nothing but JSON types
    assert page["items"][0]["started_at"] == "2026-11-20T08:00:00+00:00"
    assert page["items"][0]["cost_usd"] == 0.125
    assert page["next_cursor"] is None
    assert detail["nodes"][0]["outputs"] == {"v": 1}
