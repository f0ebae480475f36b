"""The run store's tables (SQLAlchemy 2 declarative models).

Alembic's migrations under ``migrations/versions`` are generated from, and checked against, these
models (``flowscope db check``). Timestamps are :class:`~workflow_core.store.types.UtcDateTime`;
documents (inputs, outputs, state, payloads) are portable JSON, redacted and size-capped before
they get here (see :mod:`workflow_core.store.payload`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from workflow_core.store.types import JsonDoc, UtcDateTime, utcnow

# Deterministic constraint names: migrations can drop what they created, on every dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# An auto-increment key that is BIGINT on servers and INTEGER (rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Cost = Numeric(20, 10)
"""US dollars, exact (``Decimal``)."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Workflow(Base):
    """One version of a workflow's DSL, identified by the SHA-256 of its content."""

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    app_id: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(32))
    dsl: Mapped[Any | None] = mapped_column(JsonDoc)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Execution:
    """Columns shared by runs and node executions: what went in and out, when, and at what cost."""

    inputs: Mapped[Any | None] = mapped_column(JsonDoc)
    outputs: Mapped[Any | None] = mapped_column(JsonDoc)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    elapsed_ms: Mapped[float | None] = mapped_column(Double)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal | None] = mapped_column(Cost)


class WorkflowRun(Execution, Base):
    """One run of a workflow, from start to its final status."""

    __tablename__ = "workflow_runs"
    __table_args__ = (
        Index("ix_workflow_runs_workflow_started", "workflow_name", "started_at"),
        Index("ix_workflow_runs_status_started", "status", "started_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    workflow_id: Mapped[int | None] = mapped_column(ForeignKey("workflows.id"))
    workflow_name: Mapped[str] = mapped_column(String(255))
    app_id: Mapped[str | None] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(32), default="workflow")
    status: Mapped[str] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(String(64), index=True)
    trigger_event_id: Mapped[str | None] = mapped_column(
        ForeignKey("trigger_events.id"), index=True
    )
    query: Mapped[str | None] = mapped_column(Text)
    node_count: Mapped[int] = mapped_column(Integer, default=0)


class NodeExecution(Execution, Base):
    """One execution of one node in a run (each iteration / loop round adds a row).

    ``sequence`` numbers a run's node executions in the order they finished; ``scope`` is the
    iteration / loop container the node ran in (``None`` at top level).
    """

    __tablename__ = "node_executions"
    __table_args__ = (Index("ix_node_executions_run_sequence", "run_id", "sequence"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("workflow_runs.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(String(64))
    node_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(32))
    sequence: Mapped[int] = mapped_column(Integer)
    scope: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    model: Mapped[str | None] = mapped_column(String(128))
    prompt_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("prompt_versions.id"), index=True
    )


class Conversation(Base):
    """Chat state of an advanced-chat conversation (first inputs, variables, turns)."""

    __tablename__ = "conversations"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[Any] = mapped_column(JsonDoc)
    turns: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PromptVersion(Base):
    """An llm node's prompt as written in the DSL, by content hash, with first / last use."""

    __tablename__ = "prompt_versions"
    __table_args__ = (
        UniqueConstraint(
            "workflow_name", "node_id", "content_hash", name="uq_prompt_versions_node_hash"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workflow_name: Mapped[str] = mapped_column(String(255))
    node_id: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    template: Mapped[Any] = mapped_column(JsonDoc)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TriggerEvent(Base):
    """An event received by a trigger (webhook call, schedule slot): a durable work item.

    ``(trigger_id, idempotency_key)`` is unique, so a re-delivered webhook or a schedule slot
    claimed by two instances is stored once. Workers claim an event by taking its lease
    (``lease_owner`` / ``lease_expires_at``); an expired lease makes it claimable again.
    """

    __tablename__ = "trigger_events"
    __table_args__ = (
        UniqueConstraint("trigger_id", "idempotency_key", name="uq_trigger_events_idempotency"),
        Index("ix_trigger_events_status_available", "status", "available_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    trigger_id: Mapped[str] = mapped_column(String(128))
    trigger_type: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    payload: Mapped[Any | None] = mapped_column(JsonDoc)
    headers: Mapped[Any | None] = mapped_column(JsonDoc)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_run_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
