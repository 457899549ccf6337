"""the departments' city + 投保状态 filter as an equality on the city's four digits

Revision ID: 8d3f5b1c2e47
Revises: 2459cb1747f9
Create Date: 2026-12-03 09:30:00

``substr(region_code, 1, 4)`` is the text ``app.models.reference.city_of`` emits (literal positions), so
the planner matches the filter to the index. 3 s on 1,000,000 projects (PostgreSQL).
"""

import sqlalchemy as sa
from alembic import op

revision = "8d3f5b1c2e47"
down_revision = "2459cb1747f9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_project_city_status",
        "project",
        ["insurance_status", sa.text("substr(region_code, 1, 4)"), "id"],
        postgresql_include=["region_code"],
    )


def downgrade():
    op.drop_index("ix_project_city_status", table_name="project")
