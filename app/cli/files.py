"""``flask files sweep``: remove stored files no row names and import previews nobody confirmed."""

import click
from flask import current_app
from flask.cli import AppGroup

from app.extensions import db

files_group = AppGroup("files", help="The file store.")


@files_group.command("sweep")
@click.option(
    "--older-than",
    "minutes",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="leave files younger than this many minutes (their transaction may still be running)",
)
@click.option("--dry-run", is_flag=True, help="list what would be removed, remove nothing")
def sweep_command(minutes, dry_run):
    """Remove orphan files (bytes of a transaction that never committed), unconfirmed import previews
    older than IMPORT_PREVIEW_HOURS, and interrupted writes. Safe to run again and on several machines."""
    from app.services import registry_import
    from app.storage import sweep

    swept, others = sweep(
        db.session,
        grace=minutes * 60,
        expiring=[(registry_import.is_preview, registry_import.preview_max_age())],
        dry_run=dry_run,
    )
    verb = "would remove" if dry_run else "removed"
    for item in swept:
        click.echo(f"{verb} {item.reason} {item.entry.folder or '.'}/{item.entry.name} ({item.entry.size} bytes)")
    counts = {}
    for item in swept:
        counts[item.reason] = counts.get(item.reason, 0) + 1
    summary = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items())) or "nothing"
    message = f"files sweep: {verb} {summary} ({sum(i.entry.size for i in swept)} bytes); {others} other files left"
    current_app.logger.info(message)
    click.echo(message)
