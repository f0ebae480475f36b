"""DSL versions and prompt versions, identified by the SHA-256 of their canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from workflow_core.dsl import DifyApp
from workflow_core.store.base import AppVersion
from workflow_core.store.models import Base, PromptVersion, Workflow
from workflow_core.store.portable import upsert
from workflow_core.store.redaction import Redactor

PROMPT_NODE_TYPES = ("llm",)


def content_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (sorted keys, no whitespace)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def table_of(model: type[Base]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):  # pragma: no cover - every model maps one table
        raise TypeError(f"{model.__name__} is not mapped to a table")
    return table


def record_app(
    connection: Connection,
    app: DifyApp,
    dsl: Mapping[str, Any],
    digest: str,
    redactor: Redactor,
    now: datetime,
) -> AppVersion:
    """Insert the DSL version (unless known) and the prompt version of every llm node."""
    connection.execute(
        upsert(
            connection.dialect.name,
            table_of(Workflow),
            {
                "content_hash": digest,
                "name": app.name,
                "app_id": app.app_id,
                "mode": app.mode,
                "dsl": redactor.redact(dsl),
                "first_seen_at": now,
            },
            key=["content_hash"],
        )
    )
    workflow_id = connection.execute(
        select(Workflow.id).where(Workflow.content_hash == digest)
    ).scalar_one()
    prompts = {
        node.id: record_prompt(connection, app.name, node.id, node.data, redactor, now)
        for node in app.nodes
        if node.type in PROMPT_NODE_TYPES and "prompt_template" in node.data
    }
    return AppVersion(workflow_id, app.name, digest, prompts)


def record_prompt(
    connection: Connection,
    workflow: str,
    node_id: str,
    data: Mapping[str, Any],
    redactor: Redactor,
    now: datetime,
) -> int:
    """Insert (or mark seen) the prompt version of one llm node; returns its id."""
    template = redactor.redact(data["prompt_template"])
    digest = content_hash(template)
    model = data.get("model")
    model_name = model.get("name") if isinstance(model, Mapping) else None
    connection.execute(
        upsert(
            connection.dialect.name,
            table_of(PromptVersion),
            {
                "workflow_name": workflow,
                "node_id": node_id,
                "content_hash": digest,
                "model": model_name,
                "template": template,
                "first_seen_at": now,
                "last_seen_at": now,
            },
            key=["workflow_name", "node_id", "content_hash"],
            overwrite=["model", "last_seen_at"],
        )
    )
    prompt_id: int = connection.execute(
        select(PromptVersion.id).where(
            PromptVersion.workflow_name == workflow,
            PromptVersion.node_id == node_id,
            PromptVersion.content_hash == digest,
        )
    ).scalar_one()
    return prompt_id
