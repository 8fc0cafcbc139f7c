"""apple scep: each school's SCEP responder, the pending devices' one-time challenges

Revision ID: 0014_apple_scep
Revises: 0013_apple_mdm
Create Date: 2026-12-03 22:50:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_apple_scep"
down_revision = "0013_apple_mdm"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "apple_scep_responders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        sa.Column("key_pem", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_apple_scep_responders_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apple_scep_responders")),
        sa.UniqueConstraint("school_id", name=op.f("uq_apple_scep_responders_school_id")),
    )
    op.create_table(
        "apple_scep_challenges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("transaction_id", sa.String(length=128), nullable=True),
        sa.Column("public_key_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("credential_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["device_credentials.id"],
            name=op.f("fk_apple_scep_challenges_credential_id_device_credentials"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_apple_scep_challenges_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_apple_scep_challenges_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apple_scep_challenges")),
        sa.UniqueConstraint("challenge_hash", name=op.f("uq_apple_scep_challenges_challenge_hash")),
        sa.UniqueConstraint("device_id", name=op.f("uq_apple_scep_challenges_device_id")),
    )
    with op.batch_alter_table("apple_scep_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apple_scep_challenges_school_id"), ["school_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("apple_scep_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apple_scep_challenges_school_id"))

    op.drop_table("apple_scep_challenges")
    op.drop_table("apple_scep_responders")
