"""calendars: feeds and their secret links, school events, calendar sources and their last good
copy, what each feed event last looked like

Revision ID: 0009_calendars
Revises: 0008_hardening
Create Date: 2026-12-03 21:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_calendars"
down_revision = "0008_hardening"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_event_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("significant_hash", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("modified_at", sa.DateTime(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_calendar_event_states_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_event_states")),
        sa.UniqueConstraint(
            "school_id", "uid", name=op.f("uq_calendar_event_states_school_id_uid")
        ),
    )
    with op.batch_alter_table("calendar_event_states", schema=None) as batch_op:
        batch_op.create_index(
            "ix_calendar_event_states_school_day", ["school_id", "last_day"], unique=False
        )

    op.create_table(
        "school_calendars",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("events_version", sa.Integer(), nullable=False),
        sa.Column("events_updated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_calendars_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_school_calendars")),
    )
    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("teacher", sa.String(length=40), nullable=False),
        sa.Column("class_name", sa.String(length=40), nullable=False),
        sa.Column("courses", sa.JSON(), nullable=False),
        sa.Column("include_cancelled", sa.Boolean(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_calendar_feeds_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_calendar_feeds_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feeds_token_hash")),
    )
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calendar_feeds_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "calendar_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("url", sa.LargeBinary(), nullable=True),
        sa.Column("url_host", sa.String(length=255), nullable=False),
        sa.Column("refresh_minutes", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("http_last_modified", sa.String(length=64), nullable=False),
        sa.Column("next_fetch_at", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("content_changed_at", sa.DateTime(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_calendar_sources_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_calendar_sources_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_sources")),
    )
    with op.batch_alter_table("calendar_sources", schema=None) as batch_op:
        batch_op.create_index("ix_calendar_sources_due", ["kind", "next_fetch_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_calendar_sources_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "school_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("recurrence", sa.String(length=500), nullable=False),
        sa.Column("excluded_dates", sa.JSON(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_school_events_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_school_events_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_events")),
    )
    with op.batch_alter_table("school_events", schema=None) as batch_op:
        batch_op.create_index("ix_school_events_school", ["school_id"], unique=False)

    op.create_table(
        "calendar_source_copies",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["calendar_sources.id"],
            name=op.f("fk_calendar_source_copies_source_id_calendar_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_calendar_source_copies")),
    )


def downgrade():
    op.drop_table("calendar_source_copies")
    with op.batch_alter_table("school_events", schema=None) as batch_op:
        batch_op.drop_index("ix_school_events_school")

    op.drop_table("school_events")
    with op.batch_alter_table("calendar_sources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_sources_owner_id"))
        batch_op.drop_index("ix_calendar_sources_due")

    op.drop_table("calendar_sources")
    with op.batch_alter_table("calendar_feeds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_feeds_owner_id"))

    op.drop_table("calendar_feeds")
    op.drop_table("school_calendars")
    with op.batch_alter_table("calendar_event_states", schema=None) as batch_op:
        batch_op.drop_index("ix_calendar_event_states_school_day")

    op.drop_table("calendar_event_states")
