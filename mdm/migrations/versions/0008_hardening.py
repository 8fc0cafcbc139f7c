"""users: login_generation (a password change ends every earlier login, also one of the same
second)

Revision ID: 0008_hardening
Revises: 0007_import_history_and_undo
Create Date: 2026-12-03 20:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008_hardening"
down_revision = "0007_import_history_and_undo"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("login_generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("login_generation")
