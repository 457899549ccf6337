"""`flask webhooks …`: the scheduled side of the API's webhooks (app/api/webhooks.py)."""

import click
from flask.cli import with_appcontext

from . import today_option


@click.group("webhooks")
def webhooks_group():
    """Webhooks of the REST API."""


@webhooks_group.command("scan")
@today_option
@with_appcontext
def scan_command(today):
    """Raise policy.expiring for policies ending soon, and re-queue overdue deliveries (run daily or hourly)."""
    from app.api.webhooks import redeliver_due, scan_expiring

    click.echo(f"policy.expiring raised: {scan_expiring(today)}")
    click.echo(f"deliveries re-queued: {redeliver_due()}")
