"""flask commands: ``init`` and the reference, roles and demo groups here; every other group in a module of
this package, added by ``register_cli``."""

import click
from flask import current_app
from flask.cli import with_appcontext

from app.extensions import db


def upgrade_database():
    from flask_migrate import upgrade

    upgrade(directory=current_app.extensions["migrate"].directory)


def initialise(demo=False, echo=click.echo):
    """Migrate, load reference data, sync roles, create the admin and (optionally) the demo data."""
    from app.demo import ensure_admin, load_demo_data
    from app.reference import load_reference_data
    from app.security.roles import sync_roles

    upgrade_database()
    counts = load_reference_data(db.session)
    echo("reference data: " + ", ".join(f"{k} +{v}" for k, v in counts.items()))
    appbuilder = current_app.appbuilder
    appbuilder.sm.add_role(appbuilder.sm.auth_role_admin)  # FAB grants each new permission to it
    appbuilder.add_permissions(update_perms=True)
    sync_roles(appbuilder.sm)
    ensure_admin()
    if demo:
        created = load_demo_data()
        echo("demo data: " + ("loaded" if created else "already present"))


def today_option(command):
    """``--today YYYY-MM-DD``, the day a scheduled job judges by (None: today); a malformed date is a usage
    error, not a traceback."""
    return click.option(
        "--today",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        callback=lambda _ctx, _param, value: value.date() if value else None,
        help="YYYY-MM-DD (default: today)",
    )(command)


def register_cli(app):
    @app.cli.command("init")
    @click.option("--demo", is_flag=True, help="also load the demo data (first run only)")
    @with_appcontext
    def init_cmd(demo):
        """Create or upgrade the schema and load reference (and demo) data."""
        initialise(demo=demo)

    @app.cli.group("reference")
    def reference_group():
        """Reference data."""

    @reference_group.command("load")
    @with_appcontext
    def reference_load():
        from app.reference import load_reference_data

        click.echo(load_reference_data(db.session))

    @app.cli.group("roles")
    def roles_group():
        """The role matrix."""

    @roles_group.command("sync")
    @with_appcontext
    def roles_sync():
        """Write app/security/roles.py into the database-stored roles."""
        from app.security.roles import sync_roles

        sync_roles(current_app.appbuilder.sm)
        click.echo("roles synced")

    @app.cli.group("demo")
    def demo_group():
        """Demo data."""

    @demo_group.command("load")
    @with_appcontext
    def demo_load():
        from app.demo import load_demo_data

        click.echo("loaded" if load_demo_data() else "already present")

    from . import ca, files, jobs, ops, orders, policies, security, webhooks

    for group in (
        ca.ca_group,
        ops.backup_group,
        ops.audit_group,
        orders.orders_group,
        policies.policies_group,
        security.security_group,
        jobs.jobs_group,
        files.files_group,
        webhooks.webhooks_group,
    ):
        app.cli.add_command(group)
