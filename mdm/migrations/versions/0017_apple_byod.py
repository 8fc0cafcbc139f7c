"""apple_devices: a personal device whose owner ended management through the API is still to
be told (one RemoveProfile of its enrollment profile) and may check out

Revision ID: 0017_apple_byod
Revises: 0016_admin_devices
Create Date: 2026-12-04 02:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0017_apple_byod"
down_revision = "0016_admin_devices"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("apple_devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("removal_requested_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("removal_due_at", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("apple_devices", schema=None) as batch_op:
        batch_op.drop_column("removal_due_at")
        batch_op.drop_column("removal_requested_at")
