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
