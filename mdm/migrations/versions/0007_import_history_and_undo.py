"""timetable imports: refused imports in the history, per-kind changes, warning summary, partial
dates; the plan before the last import (undo)

Revision ID: 0007_import_history_and_undo
Revises: 0006_school_auth_version
Create Date: 2026-12-03 19:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_import_history_and_undo"
down_revision = "0006_school_auth_version"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("timetable_imports", schema=None) as batch_op:
        batch_op.alter_column(
            "source", existing_type=sa.String(length=30), type_=sa.String(length=60)
        )
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), nullable=False, server_default="applied")
        )
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("warning_summary", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("kinds", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("partial_dates", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column("missing_pages", sa.JSON(), nullable=False, server_default="[]")
        )
    op.create_table(
        "plans_before_import",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["timetable_imports.id"],
            name=op.f("fk_plans_before_import_import_id_timetable_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_plans_before_import_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_plans_before_import")),
    )


def downgrade():
    op.drop_table("plans_before_import")
    with op.batch_alter_table("timetable_imports", schema=None) as batch_op:
        batch_op.drop_column("missing_pages")
        batch_op.drop_column("partial_dates")
        batch_op.drop_column("kinds")
        batch_op.drop_column("warning_summary")
        batch_op.drop_column("reason")
        batch_op.drop_column("status")
        batch_op.alter_column(
            "source", existing_type=sa.String(length=60), type_=sa.String(length=30)
        )
