"""devices: serial number and IMEIs from the inventory (searchable per school); each school's
inventory policy; users: the id of the school office software (CSV import); groups: the class a
group is kept in sync with

Revision ID: 0010_school_data
Revises: 0009_calendars
Create Date: 2026-12-03 21:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_school_data"
down_revision = "0009_calendars"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_users_school_id_role_external_id"), ["school_id", "role", "external_id"]
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("serial_number", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("imei", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("imei2", sa.String(length=16), nullable=True))
        batch_op.create_index(
            "ix_devices_school_serial_number", ["school_id", "serial_number"], unique=False
        )
        batch_op.create_index("ix_devices_school_imei", ["school_id", "imei"], unique=False)
        batch_op.create_index("ix_devices_school_imei2", ["school_id", "imei2"], unique=False)
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.add_column(sa.Column("class_key", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("class_gone_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_groups_school_class_key", ["school_id", "class_key"], unique=False
        )
    op.create_table(
        "inventory_policies",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("kept", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_inventory_policies_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_inventory_policies_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_inventory_policies")),
    )
    # School-owned devices store their next inventory again (a check-in skips an unchanged
    # one by its hash), which fills in the serial number and IMEIs and applies the inventory
    # policy (by default nothing personal of students' devices) to what was stored as sent.
    op.execute("UPDATE devices SET inventory_hash = '' WHERE ownership = 'school'")


def downgrade():
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_school_class_key")
        batch_op.drop_column("class_gone_at")
        batch_op.drop_column("class_key")
    op.drop_table("inventory_policies")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_school_imei2")
        batch_op.drop_index("ix_devices_school_imei")
        batch_op.drop_index("ix_devices_school_serial_number")
        batch_op.drop_column("imei2")
        batch_op.drop_column("imei")
        batch_op.drop_column("serial_number")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_users_school_id_role_external_id"), type_="unique")
        batch_op.drop_column("external_id")
