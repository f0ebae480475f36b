"""initial schema: workflows, runs, node executions, conversations, prompt versions, trigger events

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import workflow_core.store.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column(
            "state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("created_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("app_id", "id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "prompt_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("workflow_name", sa.String(length=255), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column(
            "template",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("first_seen_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("last_seen_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompt_versions")),
        sa.UniqueConstraint(
            "workflow_name", "node_id", "content_hash", name="uq_prompt_versions_node_hash"
        ),
    )
    op.create_table(
        "trigger_events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("trigger_id", sa.String(length=128), nullable=False),
        sa.Column("trigger_type", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_expires_at", workflow_core.store.types.UtcDateTime(), nullable=True),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("received_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("updated_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", workflow_core.store.types.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_events")),
        sa.UniqueConstraint("trigger_id", "idempotency_key", name="uq_trigger_events_idempotency"),
    )
    op.create_index(
        "ix_trigger_events_status_available",
        "trigger_events",
        ["status", "available_at"],
        unique=False,
    )

    op.create_table(
        "workflows",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column(
            "dsl",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("first_seen_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflows")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_workflows_content_hash")),
    )
    op.create_index(op.f("ix_workflows_name"), "workflows", ["name"], unique=False)

    op.create_table(
        "workflow_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "workflow_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("workflow_name", sa.String(length=255), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=True),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("trigger_event_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", workflow_core.store.types.UtcDateTime(), nullable=True),
        sa.Column("elapsed_ms", sa.Double(), nullable=True),
        sa.Column("node_count", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["trigger_event_id"],
            ["trigger_events.id"],
            name=op.f("fk_workflow_runs_trigger_event_id_trigger_events"),
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"], ["workflows.id"], name=op.f("fk_workflow_runs_workflow_id_workflows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_runs")),
    )
    op.create_index(
        op.f("ix_workflow_runs_conversation_id"), "workflow_runs", ["conversation_id"], unique=False
    )
    op.create_index(
        "ix_workflow_runs_status_started", "workflow_runs", ["status", "started_at"], unique=False
    )
    op.create_index(
        op.f("ix_workflow_runs_trigger_event_id"),
        "workflow_runs",
        ["trigger_event_id"],
        unique=False,
    )
    op.create_index(
        "ix_workflow_runs_workflow_started",
        "workflow_runs",
        ["workflow_name", "started_at"],
        unique=False,
    )

    op.create_table(
        "node_executions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("node_type", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "outputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", workflow_core.store.types.UtcDateTime(), nullable=False),
        sa.Column("finished_at", workflow_core.store.types.UtcDateTime(), nullable=True),
        sa.Column("elapsed_ms", sa.Double(), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.Column(
            "prompt_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["prompt_version_id"],
            ["prompt_versions.id"],
            name=op.f("fk_node_executions_prompt_version_id_prompt_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["workflow_runs.id"],
            name=op.f("fk_node_executions_run_id_workflow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_executions")),
    )
    op.create_index(
        op.f("ix_node_executions_prompt_version_id"),
        "node_executions",
        ["prompt_version_id"],
        unique=False,
    )
    op.create_index(
        "ix_node_executions_run_sequence", "node_executions", ["run_id", "sequence"], unique=False
    )


def downgrade() -> None:
    # Indexes go with their tables (MySQL refuses to drop one a foreign key still needs).
    for table in (
        "node_executions",
        "workflow_runs",
        "workflows",
        "trigger_events",
        "prompt_versions",
        "conversations",
    ):
        op.drop_table(table)
