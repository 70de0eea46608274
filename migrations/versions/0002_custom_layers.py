"""Custom layers in one generic table, and the time each layer last changed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CORE = ("quartiers", "meeting_places", "offers", "projects")


def upgrade() -> None:
    # btree_gist lets one GiST index serve "this layer, this area" for every custom layer.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "features",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("layer", sa.Text, nullable=False),
        sa.Column("properties", postgresql.JSONB, nullable=False, server_default="{}"),
        sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=False), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("jsonb_typeof(properties) = 'object'", name="features_properties_object"),
    )
    op.execute("CREATE INDEX features_layer_geom_idx ON features USING gist (layer, geom)")
    op.execute("CREATE INDEX features_layer_id_idx ON features (layer, id)")
    op.execute(
        "CREATE TRIGGER features_touch BEFORE UPDATE ON features "
        "FOR EACH ROW EXECUTE FUNCTION geo_touch_updated_at()"
    )

    op.create_table(
        "layer_changes",
        sa.Column("layer", sa.Text, primary_key=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.execute(
        """
        CREATE FUNCTION geo_table_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          INSERT INTO layer_changes (layer, changed_at) VALUES (TG_TABLE_NAME, clock_timestamp())
          ON CONFLICT (layer) DO UPDATE SET changed_at = excluded.changed_at;
          RETURN NULL;
        END $$;

        CREATE FUNCTION geo_features_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          -- DISTINCT before clock_timestamp(): it differs per row, so one layer would appear
          -- twice and ON CONFLICT refuses to update the same row twice in one command.
          INSERT INTO layer_changes (layer, changed_at)
          SELECT layer, clock_timestamp() FROM (SELECT DISTINCT layer FROM changed_rows) AS changed
          ON CONFLICT (layer) DO UPDATE SET changed_at = excluded.changed_at;
          RETURN NULL;
        END $$;

        CREATE TRIGGER features_inserted AFTER INSERT ON features
          REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
          EXECUTE FUNCTION geo_features_changed();
        CREATE TRIGGER features_updated AFTER UPDATE ON features
          REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT
          EXECUTE FUNCTION geo_features_changed();
        CREATE TRIGGER features_deleted AFTER DELETE ON features
          REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT
          EXECUTE FUNCTION geo_features_changed();
        """
    )
    for table in CORE:
        op.execute(
            f"CREATE TRIGGER {table}_layer_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION geo_table_changed()"
        )
        op.execute(f"INSERT INTO layer_changes (layer) VALUES ('{table}')")


def downgrade() -> None:
    for table in CORE:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_layer_changed ON {table}")
    op.drop_table("layer_changes")
    op.drop_table("features")
    op.execute("DROP FUNCTION IF EXISTS geo_table_changed()")
    op.execute("DROP FUNCTION IF EXISTS geo_features_changed()")
