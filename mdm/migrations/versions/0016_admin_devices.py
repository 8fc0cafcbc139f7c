"""enrollment tokens: the name of the device a token enrolls (a trolley's slot); which device
enrolled with which token (backfilled from the audit log's enrollment events); timetable uploads
kept between their preview and applying them on the admin pages

Revision ID: 0016_admin_devices
Revises: 0015_admin_pages
Create Date: 2026-12-03 22:30:00

"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0016_admin_devices"
down_revision = "0015_admin_pages"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_name", sa.String(length=120), nullable=True))
    op.create_table(
        "enrollment_token_devices",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_enrollment_token_devices_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_enrollment_token_devices_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["enrollment_tokens.id"],
            name=op.f("fk_enrollment_token_devices_token_id_enrollment_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_enrollment_token_devices")),
    )
    with op.batch_alter_table("enrollment_token_devices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrollment_token_devices_school_id"), ["school_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_enrollment_token_devices_token_id"), ["token_id"], unique=False
        )
    op.create_table(
        "timetable_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("file_format", sa.String(length=20), nullable=False),
        sa.Column("archive", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_timetable_uploads_created_by_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_timetable_uploads_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timetable_uploads")),
    )
    with op.batch_alter_table("timetable_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_timetable_uploads_school_id"), ["school_id"], unique=False
        )
    # Enrollments before this revision are known from their audit events (device.enroll with
    # the token's id in its details), for the devices and tokens that still exist.
    connection = op.get_bind()
    devices = dict(connection.execute(sa.text("SELECT id, school_id FROM devices")).all())
    tokens = {row[0] for row in connection.execute(sa.text("SELECT id FROM enrollment_tokens"))}
    audit_events = sa.table(
        "audit_events",
        sa.column("action", sa.String()),
        sa.column("target_type", sa.String()),
        sa.column("target_id", sa.String()),
        sa.column("details", sa.JSON()),
        sa.column("at", sa.DateTime()),
    )
    events = connection.execute(
        sa.select(audit_events.c.target_id, audit_events.c.details, audit_events.c.at).where(
            audit_events.c.action == "device.enroll", audit_events.c.target_type == "device"
        )
    )
    rows = {}
    for target_id, details, enrolled_at in events:
        details = json.loads(details) if isinstance(details, str) else details or {}
        device_id = int(target_id) if target_id and target_id.isdigit() else None
        token_id = details.get("token_id")
        if device_id in devices and token_id in tokens:
            rows[device_id] = {
                "device_id": device_id,
                "token_id": token_id,
                "school_id": devices[device_id],
                "enrolled_at": enrolled_at,
            }
    if rows:
        table = sa.table(
            "enrollment_token_devices",
            sa.column("device_id", sa.Integer()),
            sa.column("token_id", sa.Integer()),
            sa.column("school_id", sa.Integer()),
            sa.column("enrolled_at", sa.DateTime()),
        )
        op.bulk_insert(table, list(rows.values()))


def downgrade():
    with op.batch_alter_table("timetable_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timetable_uploads_school_id"))
    op.drop_table("timetable_uploads")
    with op.batch_alter_table("enrollment_token_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollment_token_devices_token_id"))
        batch_op.drop_index(batch_op.f("ix_enrollment_token_devices_school_id"))
    op.drop_table("enrollment_token_devices")
    with op.batch_alter_table("enrollment_tokens", schema=None) as batch_op:
        batch_op.drop_column("device_name")
