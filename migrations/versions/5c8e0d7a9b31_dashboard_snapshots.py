"""the 数据大屏 figures kept per scope, refreshed by the task queue

Revision ID: 5c8e0d7a9b31
Revises: 8d3f5b1c2e47
Create Date: 2026-12-03 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5c8e0d7a9b31"
down_revision = "8d3f5b1c2e47"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dashboard_snapshot",
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("generation", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope"),
    )


def downgrade():
    op.drop_table("dashboard_snapshot")
