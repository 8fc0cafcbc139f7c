"""apple_devices: the Apple MDM state of a device (UDID, topic, UnlockToken, supervision)

Revision ID: 0013_apple_mdm
Revises: 0012_policies_commands
Create Date: 2026-12-03 22:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0013_apple_mdm"
down_revision = "0012_policies_commands"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "apple_devices",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("udid", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("authenticated_at", sa.DateTime(), nullable=True),
        sa.Column("token_updated_at", sa.DateTime(), nullable=True),
        sa.Column("checked_out_at", sa.DateTime(), nullable=True),
        sa.Column("unlock_token", sa.LargeBinary(), nullable=True),
        sa.Column("supervised", sa.Boolean(), nullable=False),
        sa.Column("inventory_due_at", sa.DateTime(), nullable=True),
        sa.Column("policy_left_out", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_apple_devices_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_apple_devices")),
        sa.UniqueConstraint("udid", name=op.f("uq_apple_devices_udid")),
    )


def downgrade():
    op.drop_table("apple_devices")
