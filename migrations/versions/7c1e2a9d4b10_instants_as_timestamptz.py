"""instants as timestamptz: every timestamp column holds a UTC instant (PostgreSQL timestamptz)

Revision ID: 7c1e2a9d4b10
Revises: 1dd77cdf3634
Create Date: 2026-12-01 20:40:00

The values were written as naive UTC; ``AT TIME ZONE 'UTC'`` reads them as such, so every instant is
kept. SQLite has no timestamptz: its columns keep naive UTC text and the ORM type (models.base.UtcDateTime)
reads them back as UTC, so nothing changes there.
"""

from alembic import op

revision = "7c1e2a9d4b10"
down_revision = "1dd77cdf3634"
branch_labels = None
depends_on = None

COLUMNS = {
    "ab_user": ["password_changed_at", "locked_until", "failed_window_start"],
    "api_key": ["created_at", "last_used_at", "revoked_at"],
    "application": ["submitted_at", "reviewed_at", "created_at", "updated_at"],
    "audit_event": ["created_at"],
    "claim": ["created_at", "updated_at"],
    "department": ["created_at", "updated_at"],
    "dispatch_order": ["accepted_at", "completed_at", "created_at", "updated_at"],
    "enterprise": ["first_login_at", "created_at", "updated_at"],
    "expert": ["created_at", "updated_at"],
    "flow_event": ["created_at"],
    "hazard": ["rectified_at", "accepted_at", "created_at", "updated_at"],
    "idempotency_record": ["created_at", "expires_at"],
    "insurance_company": ["created_at", "updated_at"],
    "login_challenge": ["created_at", "expires_at", "used_at"],
    "policy": ["created_at", "updated_at"],
    "prevention_org": ["created_at", "updated_at"],
    "project": ["created_at", "updated_at"],
    "registry_project": ["imported_at", "created_at", "updated_at"],
    "review": ["created_at"],
    "service_visit": ["signin_time", "submitted_at", "created_at", "updated_at"],
    "stored_file": ["created_at"],
    "user_session": ["created_at", "last_seen_at", "expires_at", "revoked_at"],
}


def _alter(target):
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        clauses = ", ".join(f'ALTER COLUMN "{c}" TYPE {target} USING "{c}" AT TIME ZONE \'UTC\'' for c in columns)
        op.execute(f'ALTER TABLE "{table}" {clauses}')


def upgrade():
    _alter("timestamptz")


def downgrade():
    _alter("timestamp")
