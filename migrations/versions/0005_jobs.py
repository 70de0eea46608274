"""Jobs: long work (imports first) whose state is a row, so any replica can report it and a retry
with the same Idempotency-Key finds the first job instead of doing the work twice.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        # Random, so a job's address cannot be guessed; access is checked against the key anyway.
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.Text, sa.CheckConstraint("kind IN ('import')"), nullable=False),
        sa.Column("layer", sa.Text, nullable=False),
        # The status words of OGC API - Processes.
        sa.Column("status", sa.Text,
                  sa.CheckConstraint("status IN ('accepted', 'running', 'successful', 'failed', "
                                     "'dismissed')"),
                  nullable=False, server_default="accepted"),
        sa.Column("key_id", sa.BigInteger, sa.ForeignKey("api_keys.id")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.Text, sa.CheckConstraint("length(idempotency_key) <= 255")),
        # SHA-256 of the request (file and parameters): the same key with another file is refused.
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("params", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        # Renewed by the process holding the job; a job whose heartbeat stopped is reported
        # failed by whichever replica looks next, and its late commit is refused.
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("total", sa.Integer),
        sa.Column("imported", sa.Integer),
        sa.Column("replaced", sa.Integer),
        sa.Column("rejected", sa.Integer),
        # The HTTP status and body the import answers (the report, its rejections truncated).
        sa.Column("http_status", sa.SmallInteger),
        sa.Column("result", postgresql.JSONB),
    )
    op.create_index("jobs_idempotency_idx", "jobs",
                    [sa.text("coalesce(key_id, 0)"), "idempotency_key"], unique=True,
                    postgresql_where=sa.text("idempotency_key IS NOT NULL"))
    op.create_index("jobs_unfinished_idx", "jobs", ["heartbeat_at"],
                    postgresql_where=sa.text("status IN ('accepted', 'running')"))
    op.create_index("jobs_created_idx", "jobs", ["created_at"])


def downgrade() -> None:
    op.drop_table("jobs")
