"""devices: no index on last_seen_at, fillfactor 80, so check-ins update rows in place

Revision ID: 0005_devices_hot_check_ins
Revises: 0004_password_changed_at
Create Date: 2026-11-26 09:15:00

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_devices_hot_check_ins"
down_revision = "0004_password_changed_at"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_school_last_seen")
    if op.get_bind().dialect.name == "postgresql":
        # Room in each page for the updated row version: check-ins become HOT updates.
        op.execute("ALTER TABLE devices SET (fillfactor = 80)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE devices RESET (fillfactor)")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_devices_school_last_seen", ["school_id", "last_seen_at"], unique=False
        )
