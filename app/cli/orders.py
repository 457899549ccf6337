"""`flask orders …`: scheduled jobs of the prevention workflow.

Run check-timeouts once a day (or more often) from cron, e.g.

    5 0 * * *  cd /srv/azx && FLASK_APP=app:create_app flask orders check-timeouts

It is idempotent: an order already marked 超时 is not touched again.
"""

from datetime import date

import click
from flask.cli import AppGroup, with_appcontext

orders_group = AppGroup("orders", help="Dispatch orders (派单).")


@orders_group.command("check-timeouts")
@click.option("--today", default=None, help="the day to judge deadlines against (YYYY-MM-DD; default today)")
@with_appcontext
def check_timeouts_cmd(today):
    """Mark orders not accepted by their deadline as 超时."""
    from app.services.orders import check_timeouts

    day = date.fromisoformat(today) if today else None
    changed = check_timeouts(day)
    click.echo(f"timed out: {changed}")
