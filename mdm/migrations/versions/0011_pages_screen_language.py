"""panel_settings: screen_language (the entrance-hall screen speaks the school's language)

Revision ID: 0011_pages_screen_language
Revises: 0010_school_data
Create Date: 2026-12-03 21:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_pages_screen_language"
down_revision = "0010_school_data"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("panel_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("screen_language", sa.String(length=2), nullable=False, server_default="de")
        )


def downgrade():
    with op.batch_alter_table("panel_settings", schema=None) as batch_op:
        batch_op.drop_column("screen_language")
