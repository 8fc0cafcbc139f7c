"""users: language (the admin pages' language, a user setting)

Revision ID: 0015_admin_pages
Revises: 0014_apple_scep
Create Date: 2026-12-03 22:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0015_admin_pages"
down_revision = "0014_apple_scep"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("language")
