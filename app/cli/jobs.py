"""`flask jobs worker`: the task-queue worker of production (deploy/systemd/anzexian-jobs.service)."""

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("jobs")
def jobs_group():
    """The task queue (app/jobs)."""


@jobs_group.command("worker")
@click.option("--workers", type=int, default=2, show_default=True, help="jobs run at the same time (threads)")
@with_appcontext
def worker_command(workers):
    """Run queued jobs until stopped (SIGINT/SIGTERM finish the running jobs first)."""
    huey = current_app.extensions["huey"]
    consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=True)
    consumer.run()


@jobs_group.command("purge")
@with_appcontext
def purge_command():
    """Remove expired exports and imports (JOB_FILE_HOURS), jobs whose worker died, and stale statistics
    snapshots with their files (deploy/systemd/anzexian-jobs-purge.timer runs it hourly)."""
    from app.jobs.outputs import purge_outputs

    result = purge_outputs()
    click.echo(
        f"expired jobs removed: {result['expired']}, lost jobs failed: {result['lost']}, "
        f"stale statistics snapshots removed: {result['snapshots']}"
    )


@jobs_group.command("warm-statistics")
@click.option("--month", help="YYYY-MM (default: the last closed month)")
@with_appcontext
def warm_statistics_command(month):
    """Compute and store the province's three 统计报告 workbooks of a closed month (run after month end)."""
    from app.jobs.outputs import warm_statistics

    for line in warm_statistics(month):
        click.echo(line)
