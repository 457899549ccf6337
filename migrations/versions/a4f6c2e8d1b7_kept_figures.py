"""figures kept per key (kind, arguments, scope): the 数据大屏's and an open month's 统计报告

The rows are a cache computed again on the first request, so the 数据大屏 snapshots are not carried over.

Revision ID: a4f6c2e8d1b7
Revises: 5c8e0d7a9b31
Create Date: 2026-12-04 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a4f6c2e8d1b7"
down_revision = "5c8e0d7a9b31"
branch_labels = None
depends_on = None


def _table(name, key, length):
    op.create_table(
        name,
        sa.Column(key, sa.String(length=length), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("generation", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refresh_queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(key),
    )


def upgrade():
    op.drop_table("dashboard_snapshot")
    _table("kept_figures", "key", 120)


def downgrade():
    op.drop_table("kept_figures")
    _table("dashboard_snapshot", "scope", 16)
