"""apple declarative device management: the declarations and status of each device that gets
its policy by declarations

Revision ID: 0019_apple_declarations
Revises: 0018_apple_user_enrollment
Create Date: 2026-12-04 02:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0019_apple_declarations"
down_revision = "0018_apple_user_enrollment"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "apple_declarative_states",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("token_at", sa.DateTime(), nullable=False),
        sa.Column("sent_token", sa.String(length=64), nullable=True),
        sa.Column("synced_token", sa.String(length=64), nullable=True),
        sa.Column("remove_profile_due_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.JSON(), nullable=False),
        sa.Column("status_errors", sa.JSON(), nullable=False),
        sa.Column("status_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_apple_declarative_states_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_apple_declarative_states")),
    )


def downgrade():
    op.drop_table("apple_declarative_states")
