""""Fehler melden": reports on map entries for the layer's editors, and rate-limit counters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("feature_id", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, sa.CheckConstraint("length(message) BETWEEN 3 AND 2000"),
                  nullable=False),
        # Optional, given by the reporter for questions back; never shown on the map.
        sa.Column("contact", sa.Text, sa.CheckConstraint("length(contact) <= 200")),
        sa.Column("language", sa.Text),
        sa.Column("status", sa.Text, sa.CheckConstraint("status IN ('new', 'done', 'rejected')"),
                  nullable=False, server_default="new"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
    )
    op.create_index("reports_layer_status_idx", "reports", ["layer", "status", "created_at"])
    # One row per (client network hash or '*', hour): replicas share the count through the
    # database, incremented atomically with INSERT … ON CONFLICT.
    op.create_table(
        "report_counters",
        sa.Column("bucket", sa.Text, primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("hits", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_counters")
    op.drop_index("reports_layer_status_idx", table_name="reports")
    op.drop_table("reports")
