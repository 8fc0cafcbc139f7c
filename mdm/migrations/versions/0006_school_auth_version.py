"""schools: auth_version

Raised in the transaction of every change that may end a login of the school's users (a logout,
a password change, a changed or deleted account): workers compare it to tell whether the login
checks they remember are still good (mdm/accounts/auth.py).

Revision ID: 0006_school_auth_version
Revises: 0005_devices_hot_check_ins
Create Date: 2026-11-26 11:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0006_school_auth_version"
down_revision = "0005_devices_hot_check_ins"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auth_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("schools", schema=None) as batch_op:
        batch_op.drop_column("auth_version")
