"""`flask webhooks …`: the scheduled side of the API's webhooks (app/api/webhooks.py)."""

from datetime import datetime

import click
from flask.cli import with_appcontext


@click.group("webhooks")
def webhooks_group():
    """Webhooks of the REST API."""


@webhooks_group.command("scan")
@click.option("--today", default=None, help="YYYY-MM-DD (default: today)")
@with_appcontext
def scan_command(today):
    """Raise policy.expiring for policies ending soon, and re-queue overdue deliveries (run daily or hourly)."""
    from app.api.webhooks import redeliver_due, scan_expiring

    day = datetime.strptime(today, "%Y-%m-%d").date() if today else None
    click.echo(f"policy.expiring raised: {scan_expiring(day)}")
    click.echo(f"deliveries re-queued: {redeliver_due()}")
