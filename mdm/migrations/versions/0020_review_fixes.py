"""apple_access_tokens: login_generation (a password change ends the access tokens of User
Enrollment made before it, as it ends every earlier login) and login_hash (one login makes one
access token)

Revision ID: 0020_review_fixes
Revises: 0019_apple_declarations
Create Date: 2026-12-04 03:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0020_review_fixes"
down_revision = "0019_apple_declarations"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("apple_access_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("login_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("login_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_apple_access_tokens_login_hash"), ["login_hash"]
        )


def downgrade():
    with op.batch_alter_table("apple_access_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_apple_access_tokens_login_hash"), type_="unique")
        batch_op.drop_column("login_hash")
        batch_op.drop_column("login_generation")
