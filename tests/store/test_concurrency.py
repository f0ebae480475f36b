"""8 threads writing node executions of parallel branches: nothing lost, no deadlock."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from sqlalchemy import Engine, func, select

from workflow_core.dsl import parse_app
from workflow_core.events import NodeFinished, RunFinished, RunStarted
from workflow_core.providers.base import Usage
from workflow_core.runner import WorkflowRunner
from workflow_core.settings import RunSettings
from workflow_core.store.models import NodeExecution, WorkflowRun
from workflow_core.store.sql_store import SqlRunStore

THREADS = 8
NODES_PER_THREAD = 40
RUNS = 3
JOIN_TIMEOUT_S = 240  # a deadlock shows as a thread still blocked after this


def test_parallel_branches_lose_no_node_execution_and_never_deadlock(engine: Engine) -> None:
    store = SqlRunStore(engine)
    runs = [str(uuid.uuid4()) for _ in range(RUNS)]
    for run_id in runs:
        store.on_run_start(
            RunStarted(run_id, "app", "parallel", "workflow", {"n": 1}, None, None, time.time())
        )
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def branch(b: int) -> None:
        try:
            barrier.wait(timeout=60)
            for i in range(NODES_PER_THREAD):
                now = time.time()
                store.on_node_finish(
                    NodeFinished(
                        run_id=runs[i % RUNS],
                        node_id=f"branch{b}-node{i}",
                        node_type="llm",
                        title=f"branch {b} node {i}",
                        status="succeeded",
                        inputs={"branch": b, "i": i},
                        outputs={"text": "x" * 200},
                        error=None,
                        started_at=now,
                        finished_at=now + 0.001,
                        attempts=1,
                        usage=Usage(10, 5),
                    )
                )
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [
        threading.Thread(target=branch, args=(b,), name=f"branch-{b}") for b in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads blocked (deadlock?): {stuck}"
    assert not errors, errors
    for run_id in runs:
        now = time.time()
        store.on_run_finish(RunFinished(run_id, "succeeded", {}, None, now - 1, now, Usage()))

    with engine.connect() as connection:
        rows = connection.execute(
            select(NodeExecution.run_id, NodeExecution.node_id, NodeExecution.sequence)
        ).all()
        counts = dict(connection.execute(select(WorkflowRun.id, WorkflowRun.node_count)).all())
        total_tokens = connection.execute(select(func.sum(NodeExecution.input_tokens))).scalar()
    expected = {
        (runs[i % RUNS], f"branch{b}-node{i}")
        for b in range(THREADS)
        for i in range(NODES_PER_THREAD)
    }
    assert len(rows) == THREADS * NODES_PER_THREAD
    assert {(r.run_id, r.node_id) for r in rows} == expected
    per_run = Counter(r.run_id for r in rows)
    for run_id in runs:
        sequences = sorted(r.sequence for r in rows if r.run_id == run_id)
        assert sequences == list(range(1, per_run[run_id] + 1))  # no gap, no duplicate
        assert counts[run_id] == per_run[run_id]
    assert total_tokens == 10 * THREADS * NODES_PER_THREAD
    assert store.retries == 0, f"{store.retries} transactions were aborted (deadlock / lock wait)"


def _fan_out_app(branches: int) -> dict[str, object]:
    """A workflow DSL: start → ``branches`` parallel llm nodes → end."""
    llm = [
        {
            "id": f"llm{b}",
            "data": {
                "type": "llm",
                "title": f"Branch {b}",
                "model": {"provider": "openai", "name": "gpt-4o-mini", "mode": "chat"},
                "prompt_template": [
                    {"role": "system", "text": f"You are branch {b}."},
                    {"role": "user", "text": "Write about {{#start.topic#}}."},
                ],
                "context": {"enabled": False, "variable_selector": []},
                "vision": {"enabled": False},
                "variables": [],
            },
        }
        for b in range(branches)
    ]
    nodes = [
        {
            "id": "start",
            "data": {
                "type": "start",
                "title": "Start",
                "variables": [
                    {"variable": "topic", "label": "topic", "type": "text-input", "required": True}
                ],
            },
        },
        *llm,
        {
            "id": "end",
            "data": {
                "type": "end",
                "title": "End",
                "outputs": [
                    {"variable": f"b{b}", "value_selector": [f"llm{b}", "text"]}
                    for b in range(branches)
                ],
            },
        },
    ]
    edges = [
        {"id": f"e-{s}-{t}", "source": s, "target": t, "sourceHandle": "source"}
        for b in range(branches)
        for s, t in (("start", f"llm{b}"), (f"llm{b}", "end"))
    ]
    return {
        "kind": "app",
        "version": "0.1.2",
        "app": {"name": "fan-out", "mode": "workflow"},
        "workflow": {"graph": {"nodes": nodes, "edges": edges}},
    }


def test_a_real_run_with_8_parallel_branches_keeps_every_node(engine: Engine) -> None:
    app = parse_app(_fan_out_app(THREADS), source="fan-out.yml")
    store = SqlRunStore(engine)
    store.register_app(app)
    runner = WorkflowRunner(app, settings=RunSettings(max_workers=THREADS), listeners=[store])
    results = [runner.run({"topic": f"topic {i}"}) for i in range(3)]
    assert all(r.status == "succeeded" for r in results)
    with engine.connect() as connection:
        stored = Counter(
            connection.execute(select(NodeExecution.run_id).where(NodeExecution.node_type == "llm"))
            .scalars()
            .all()
        )
    assert stored == {r.run_id: THREADS for r in results}
    assert store.retries == 0
