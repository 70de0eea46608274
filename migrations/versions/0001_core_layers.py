"""Core layers: quartiers, meeting places, offers, projects.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _timestamps() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def _geom(kind: str, nullable: bool = False, name: str = "geom") -> sa.Column:
    return sa.Column(name, Geometry(kind, srid=4326, spatial_index=False), nullable=nullable)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    text_array = postgresql.ARRAY(sa.Text)

    op.create_table(
        "quartiers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("municipality", sa.Text, nullable=False),
        sa.Column("district", sa.Text, nullable=False),
        sa.Column("population", sa.Integer, sa.CheckConstraint("population >= 0")),
        sa.Column("description", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("licence", sa.Text, nullable=False),
        _geom("MULTIPOLYGON"),
        *_timestamps(),
    )
    op.create_table(
        "meeting_places",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("address", sa.Text),
        sa.Column("postcode", sa.Text),
        sa.Column("town", sa.Text),
        sa.Column("operator", sa.Text),
        sa.Column("opening_hours", sa.Text),
        sa.Column("wheelchair", sa.Text),
        sa.Column("languages", text_array),
        sa.Column("phone", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("website", sa.Text, sa.CheckConstraint("website ~* '^https?://'")),
        sa.Column("contact_person", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("position_source", sa.Text),
        sa.Column("last_checked", sa.Date),
        sa.Column("quartier_id", sa.BigInteger, sa.ForeignKey("quartiers.id", ondelete="SET NULL")),
        sa.Column("quartier", sa.Text),
        _geom("POINT"),
        *_timestamps(),
    )
    op.create_table(
        "offers",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("target_groups", text_array),
        sa.Column("languages", text_array),
        sa.Column("free", sa.Boolean),
        sa.Column("cost", sa.Text),
        sa.Column("schedule", sa.Text),
        sa.Column("recurrence", sa.Text),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("description", sa.Text),
        sa.Column("organiser", sa.Text),
        sa.Column("phone", sa.Text),
        sa.Column("email", sa.Text),
        sa.Column("website", sa.Text, sa.CheckConstraint("website ~* '^https?://'")),
        sa.Column(
            "meeting_place_id", sa.BigInteger, sa.ForeignKey("meeting_places.id", ondelete="SET NULL")
        ),
        sa.Column("meeting_place", sa.Text),
        sa.Column("quartier_id", sa.BigInteger, sa.ForeignKey("quartiers.id", ondelete="SET NULL")),
        _geom("MULTIPOLYGON", nullable=True, name="area"),
        _geom("GEOMETRY"),
        *_timestamps(),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("programme", sa.Text),
        sa.Column("organisation", sa.Text),
        sa.Column("start_date", sa.Date),
        sa.Column("end_date", sa.Date),
        sa.Column("description", sa.Text),
        sa.Column("website", sa.Text, sa.CheckConstraint("website ~* '^https?://'")),
        _geom("GEOMETRY"),
        *_timestamps(),
        sa.CheckConstraint("end_date IS NULL OR start_date IS NULL OR end_date >= start_date"),
    )

    for table in ("quartiers", "meeting_places", "offers", "projects"):
        op.execute(f"CREATE INDEX {table}_geom_idx ON {table} USING gist (geom)")
    # Distances in metres: KNN and radius queries run on geography.
    for table in ("meeting_places", "offers"):
        op.execute(f"CREATE INDEX {table}_geog_idx ON {table} USING gist ((geom::geography))")
    op.execute("CREATE INDEX offers_meeting_place_idx ON offers (meeting_place_id)")
    op.execute("CREATE INDEX meeting_places_quartier_idx ON meeting_places (quartier_id)")

    op.execute(
        """
        CREATE FUNCTION geo_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN NEW.updated_at := now(); RETURN NEW; END $$;

        -- The quartier of a meeting place is derived from its position, never typed by hand.
        CREATE FUNCTION geo_meeting_place_quartier() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          SELECT q.id, q.name INTO NEW.quartier_id, NEW.quartier
            FROM quartiers q WHERE ST_Covers(q.geom, NEW.geom)
            ORDER BY ST_Area(q.geom) LIMIT 1;
          IF NOT FOUND THEN NEW.quartier_id := NULL; NEW.quartier := NULL; END IF;
          RETURN NEW;
        END $$;

        -- A quartier that is drawn, moved or renamed re-derives the meeting places it touches.
        CREATE FUNCTION geo_quartier_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE meeting_places m SET geom = m.geom
           WHERE (TG_OP <> 'DELETE' AND ST_Covers(NEW.geom, m.geom))
              OR (TG_OP <> 'INSERT' AND (m.quartier_id = OLD.id OR ST_Covers(OLD.geom, m.geom)));
          RETURN NULL;
        END $$;

        -- An offer lies where it is held, else in its own area, else in its quartier.
        CREATE FUNCTION geo_offer_geometry() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE place_geom geometry; place_name text;
        BEGIN
          IF NEW.meeting_place_id IS NOT NULL THEN
            SELECT geom, name INTO place_geom, place_name FROM meeting_places
             WHERE id = NEW.meeting_place_id;
          END IF;
          NEW.meeting_place := place_name;
          NEW.geom := coalesce(
            place_geom, NEW.area,
            (SELECT geom FROM quartiers WHERE id = NEW.quartier_id), NEW.geom);
          IF NEW.geom IS NULL THEN
            RAISE EXCEPTION 'an offer needs a meeting place, an area or a quartier'
              USING ERRCODE = 'check_violation';
          END IF;
          RETURN NEW;
        END $$;

        CREATE FUNCTION geo_meeting_place_moved() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE offers SET meeting_place_id = meeting_place_id WHERE meeting_place_id = NEW.id;
          RETURN NULL;
        END $$;

        CREATE TRIGGER meeting_places_quartier BEFORE INSERT OR UPDATE OF geom ON meeting_places
          FOR EACH ROW EXECUTE FUNCTION geo_meeting_place_quartier();
        CREATE TRIGGER quartiers_changed AFTER INSERT OR DELETE OR UPDATE OF geom, name ON quartiers
          FOR EACH ROW EXECUTE FUNCTION geo_quartier_changed();
        CREATE TRIGGER offers_geometry BEFORE INSERT OR UPDATE ON offers
          FOR EACH ROW EXECUTE FUNCTION geo_offer_geometry();
        CREATE TRIGGER meeting_places_moved AFTER UPDATE OF geom, name ON meeting_places
          FOR EACH ROW EXECUTE FUNCTION geo_meeting_place_moved();
        """
    )
    for table in ("quartiers", "meeting_places", "offers", "projects"):
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION geo_touch_updated_at()"
        )


def downgrade() -> None:
    for table in ("projects", "offers", "meeting_places", "quartiers"):
        op.drop_table(table)
    for fn in (
        "geo_touch_updated_at", "geo_meeting_place_quartier", "geo_quartier_changed",
        "geo_offer_geometry", "geo_meeting_place_moved",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
