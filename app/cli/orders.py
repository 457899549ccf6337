"""`flask orders …`: scheduled jobs of the prevention workflow.

Run check-timeouts once a day (or more often) from cron, e.g.

    5 0 * * *  cd /srv/azx && FLASK_APP=app:create_app flask orders check-timeouts

It is idempotent: an order already marked 超时 is not touched again.
"""

import click
from flask.cli import AppGroup, with_appcontext

from . import today_option

orders_group = AppGroup("orders", help="Dispatch orders (派单).")


@orders_group.command("check-timeouts")
@today_option
@with_appcontext
def check_timeouts_cmd(today):
    """Mark orders not accepted by their deadline as 超时."""
    from app.services.orders import check_timeouts

    click.echo(f"timed out: {check_timeouts(today)}")
