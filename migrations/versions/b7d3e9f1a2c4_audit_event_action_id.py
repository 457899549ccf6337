"""audit events indexed by (action, id): the newest event of an action in one index step

Revision ID: b7d3e9f1a2c4
Revises: a4f6c2e8d1b7
Create Date: 2026-12-04 18:30:00
"""

from alembic import op

revision = "b7d3e9f1a2c4"
down_revision = "a4f6c2e8d1b7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.create_index("ix_audit_event_action_id", ["action", "id"], unique=False)
        batch_op.drop_index("ix_audit_event_action")


def downgrade():
    with op.batch_alter_table("audit_event") as batch_op:
        batch_op.create_index("ix_audit_event_action", ["action"], unique=False)
        batch_op.drop_index("ix_audit_event_action_id")
