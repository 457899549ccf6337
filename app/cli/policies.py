"""`flask policies …`: scheduled jobs of the insurance workflow."""

from datetime import datetime

import click
from flask.cli import with_appcontext


@click.group("policies")
def policies_group():
    """保单 (scheduled jobs)."""


@policies_group.command("expire")
@click.option("--today", default=None, help="YYYY-MM-DD (default: today)")
@with_appcontext
def expire_command(today):
    """Mark policies past their 终止日期 as 已到期 (run daily)."""
    from app.services.policies import expire_policies

    day = datetime.strptime(today, "%Y-%m-%d").date() if today else None
    click.echo(f"expired: {expire_policies(day)}")
