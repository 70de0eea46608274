"""Editing: API keys, change history, consent for personal data, shared rate-limit counters.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text_array = postgresql.ARRAY(sa.Text)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        # The public part of a key (shown in lists); the secret is stored only as a hash.
        sa.Column("prefix", sa.Text, nullable=False, unique=True),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, sa.CheckConstraint("role IN ('editor', 'admin')"), nullable=False),
        sa.Column("layers", text_array, nullable=False, server_default="{}"),
        sa.Column("districts", text_array, nullable=False, server_default="{}"),
        sa.Column("organisation", sa.Text),
        sa.Column("label", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("feature_id", sa.BigInteger, nullable=False),
        sa.Column("action", sa.Text,
                  sa.CheckConstraint("action IN ('create', 'update', 'delete', 'restore', 'import', 'erase')"),
                  nullable=False),
        sa.Column("key_id", sa.BigInteger, sa.ForeignKey("api_keys.id")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("before", postgresql.JSONB),
        sa.Column("after", postgresql.JSONB),
    )
    op.create_index("history_feature_idx", "history", ["layer", "feature_id", "id"])
    op.create_table(
        "consents",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("feature_id", sa.BigInteger, nullable=False),
        sa.Column("given_by", sa.Text, nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("recorded_by", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("consents_feature_idx", "consents", ["layer", "feature_id"])
    op.create_table(
        "privacy_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("feature_id", sa.BigInteger, nullable=False),
        sa.Column("fields", postgresql.ARRAY(sa.Text), nullable=False),
        sa.Column("history_rows", sa.Integer, nullable=False),
    )
    # Counters shared by every replica: one row per (bucket, minute), incremented atomically.
    op.create_table(
        "rate_counters",
        sa.Column("bucket", sa.Text, primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
    )
    op.add_column("meeting_places", sa.Column("contact_person_phone", sa.Text))
    op.add_column("meeting_places", sa.Column("contact_person_email", sa.Text))


def downgrade() -> None:
    op.drop_column("meeting_places", "contact_person_email")
    op.drop_column("meeting_places", "contact_person_phone")
    for table in ("rate_counters", "privacy_log", "consents", "history", "api_keys"):
        op.drop_table(table)
