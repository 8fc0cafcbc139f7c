"""account-driven User Enrollment of personal iPhones and iPads: the EnrollmentID an Apple
device authenticates with instead of a UDID, and the one-time access tokens of the enrollment's
login

Revision ID: 0018_apple_user_enrollment
Revises: 0017_apple_byod
Create Date: 2026-12-04 02:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0018_apple_user_enrollment"
down_revision = "0017_apple_byod"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("apple_devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("user_enrollment", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("enrollment_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_apple_devices_enrollment_id"), ["enrollment_id"]
        )
    op.create_table(
        "apple_access_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("notice_version", sa.Integer(), nullable=False),
        sa.Column("managed_apple_id", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_apple_access_tokens_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["privacy_notices.id"],
            name=op.f("fk_apple_access_tokens_notice_id_privacy_notices"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_apple_access_tokens_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["enrollment_tokens.id"],
            name=op.f("fk_apple_access_tokens_token_id_enrollment_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_apple_access_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apple_access_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_apple_access_tokens_token_hash")),
    )
    with op.batch_alter_table("apple_access_tokens", schema=None) as batch_op:
        for column in ("device_id", "school_id", "token_id", "user_id"):
            batch_op.create_index(
                batch_op.f(f"ix_apple_access_tokens_{column}"), [column], unique=False
            )


def downgrade():
    op.drop_table("apple_access_tokens")
    with op.batch_alter_table("apple_devices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_apple_devices_enrollment_id"), type_="unique")
        batch_op.drop_column("enrollment_id")
        batch_op.drop_column("user_enrollment")
