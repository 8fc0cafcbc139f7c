"""policies (versions, assignments, each device's desired and applied policy, time window
states), commands (batches, per-device commands, their history), push (settings, addresses,
wake-ups)

Revision ID: 0012_policies_commands
Revises: 0011_pages_screen_language
Create Date: 2026-12-03 19:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_policies_commands"
down_revision = "0011_pages_screen_language"
branch_labels = None
depends_on = None
# SHA-256 of the empty policy document "{}": what every device has applied before any policy.
EMPTY_POLICY_HASH = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def upgrade():
    op.create_table(
        "policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("windowed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_policies_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("school_id", "name", name=op.f("uq_policies_school_id_name")),
    )
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policies_school_id"), ["school_id"], unique=False)

    op.create_table(
        "push_settings",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("webhook_secret", sa.LargeBinary(), nullable=True),
        sa.Column("apns_certificate_pem", sa.Text(), nullable=True),
        sa.Column("apns_key_pem", sa.LargeBinary(), nullable=True),
        sa.Column("apns_topic", sa.String(length=200), nullable=True),
        sa.Column("apns_not_after", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_push_settings_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", name=op.f("pk_push_settings")),
    )
    op.create_table(
        "command_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_command_batches_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_command_batches_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_command_batches_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_batches")),
    )
    with op.batch_alter_table("command_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_command_batches_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_policy_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_policy_versions_policy_id_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_policy_versions_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint(
            "policy_id", "version", name=op.f("uq_policy_versions_policy_id_version")
        ),
    )
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_versions_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "policy_window_states",
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_policy_window_states_policy_id_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_policy_window_states_school_id_schools"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("school_id", "policy_id", name=op.f("pk_policy_window_states")),
    )
    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_now_count", sa.Integer(), nullable=False),
        sa.Column("result_detail", sa.String(length=2000), nullable=False),
        sa.Column("result_data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["command_batches.id"],
            name=op.f("fk_commands_batch_id_command_batches"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_commands_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commands_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index("ix_commands_device_due", ["device_id", "due_at"], unique=False)

    op.create_table(
        "device_policies",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("desired_hash", sa.String(length=64), nullable=False),
        sa.Column("desired_at", sa.DateTime(), nullable=False),
        sa.Column("sent_hash", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("applied_hash", sa.String(length=64), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=True),
        sa.Column("failed_settings", sa.JSON(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_device_policies_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_policies")),
    )
    op.create_table(
        "policy_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("ownership", sa.String(length=10), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_policy_assignments_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_policy_assignments_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_policy_assignments_policy_id_policies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_policy_assignments_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_assignments")),
    )
    with op.batch_alter_table("policy_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_assignments_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_policy_assignments_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_policy_assignments_policy_id"), ["policy_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_policy_assignments_school_id"), ["school_id"], unique=False
        )

    op.create_table(
        "push_addresses",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("apns_token", sa.String(length=200), nullable=False),
        sa.Column("push_magic", sa.String(length=200), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("invalid_at", sa.DateTime(), nullable=True),
        sa.Column("invalid_reason", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_push_addresses_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["school_id"],
            ["schools.id"],
            name=op.f("fk_push_addresses_school_id_schools"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_push_addresses")),
    )
    op.create_table(
        "push_wakeups",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_push_wakeups_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_push_wakeups")),
    )
    with op.batch_alter_table("push_wakeups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_push_wakeups_school_id"), ["school_id"], unique=False)
        batch_op.create_index(
            "ix_push_wakeups_status_next", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "command_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("command_id", sa.Integer(), nullable=False),
        sa.Column("school_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["command_id"],
            ["commands.id"],
            name=op.f("fk_command_events_command_id_commands"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_command_events")),
    )
    with op.batch_alter_table("command_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_command_events_command_id"), ["command_id"], unique=False
        )
    # Devices enrolled before policies existed hold the empty policy, so their check-ins stay on
    # the fast path until a policy reaches them.
    op.execute(
        sa.text(
            "INSERT INTO device_policies (device_id, school_id, desired_hash, desired_at, "
            "sent_hash, applied_hash, failed_settings, failed_count) "
            "SELECT id, school_id, :empty, enrolled_at, :empty, :empty, '[]', 0 FROM devices"
        ).bindparams(empty=EMPTY_POLICY_HASH)
    )


def downgrade():
    with op.batch_alter_table("command_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_command_events_command_id"))

    op.drop_table("command_events")
    with op.batch_alter_table("push_wakeups", schema=None) as batch_op:
        batch_op.drop_index("ix_push_wakeups_status_next")
        batch_op.drop_index(batch_op.f("ix_push_wakeups_school_id"))

    op.drop_table("push_wakeups")
    op.drop_table("push_addresses")
    with op.batch_alter_table("policy_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_assignments_school_id"))
        batch_op.drop_index(batch_op.f("ix_policy_assignments_policy_id"))
        batch_op.drop_index(batch_op.f("ix_policy_assignments_group_id"))
        batch_op.drop_index(batch_op.f("ix_policy_assignments_device_id"))

    op.drop_table("policy_assignments")
    op.drop_table("device_policies")
    with op.batch_alter_table("commands", schema=None) as batch_op:
        batch_op.drop_index("ix_commands_device_due")
        batch_op.drop_index(batch_op.f("ix_commands_batch_id"))

    op.drop_table("commands")
    op.drop_table("policy_window_states")
    with op.batch_alter_table("policy_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policy_versions_school_id"))

    op.drop_table("policy_versions")
    with op.batch_alter_table("command_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_command_batches_school_id"))

    op.drop_table("command_batches")
    op.drop_table("push_settings")
    with op.batch_alter_table("policies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_policies_school_id"))

    op.drop_table("policies")
