"""`flask policies …`: scheduled jobs of the insurance workflow."""

import click
from flask.cli import with_appcontext

from . import today_option


@click.group("policies")
def policies_group():
    """保单 (scheduled jobs)."""


@policies_group.command("expire")
@today_option
@with_appcontext
def expire_command(today):
    """Mark policies past their 终止日期 as 已到期 (run daily)."""
    from app.services.policies import expire_policies

    click.echo(f"expired: {expire_policies(today)}")
