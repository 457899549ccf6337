"""The task queue: long work (workbooks, large exports, imports, webhook deliveries, purges) runs as jobs.

The engine is huey (docs/decisions.md, "The task queue"): Redis in production (``TASK_QUEUE_URL =
redis://…``), a SQLite file under ``instance/`` on the embedded default, where ``run.py`` starts an
in-process worker so that nothing else needs to run. The job code is the same on both.

Declaring a job::

    from app.jobs import job

    @job(retries=5, retry_delay=30, retry_backoff=2)
    def deliver_webhook(delivery_id): ...

and enqueueing it, now or once the current transaction commits (then nothing runs on rows that were
rolled back)::

    deliver_webhook.enqueue(delivery.id)
    deliver_webhook.enqueue_on_commit(delivery.id)

A job runs inside an application context of the app that registered it and starts with a clean
database session. ``init_queue`` (called by ``create_app``) builds the huey instance from the
configuration and registers every declared job on it; the modules that declare jobs are imported in
``JOB_MODULES`` below, so the worker process knows them all.
"""

import logging
import os
import threading
from dataclasses import dataclass, field
from urllib.parse import urlparse

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A declared job: the function and its retry policy, and (once the app registered it) the huey task."""

    func: object
    name: str
    retries: int = 0
    retry_delay: int = 0
    retry_backoff: float = 0
    tasks: dict = field(default_factory=dict)  # huey instance id -> its TaskWrapper

    def __call__(self, *args, **kwargs):
        """Run the job now, in this process (its own code path, no queue)."""
        return self.func(*args, **kwargs)

    def enqueue(self, *args, **kwargs):
        """Queue the job now; returns huey's Result."""
        from flask import current_app

        huey = current_app.extensions["huey"]
        return self.tasks[id(huey)](*args, **kwargs)

    def enqueue_on_commit(self, *args, **kwargs):
        """Queue the job once the current transaction commits; nothing is queued if it rolls back
        (a job never runs on rows that do not exist)."""
        from app.extensions import db

        db.session().info.setdefault(PENDING, []).append((self, args, kwargs))


JOBS: dict[str, Job] = {}
PENDING = "azx_pending_jobs"


def job(retries=0, retry_delay=0, retry_backoff=0, name=None):
    """Declare a job (see the module docstring)."""

    def decorate(func):
        declared = Job(func, name or f"{func.__module__}.{func.__name__}", retries, retry_delay, retry_backoff)
        JOBS[declared.name] = declared
        return declared

    return decorate


@event.listens_for(Session, "after_commit")
def _release_jobs(session):
    for declared, args, kwargs in session.info.pop(PENDING, []):
        try:
            declared.enqueue(*args, **kwargs)
        except Exception:  # the queue being down must not undo a committed change; the sweeps catch up
            log.exception("could not enqueue %s after commit", declared.name)


@event.listens_for(Session, "after_rollback")
def _drop_jobs(session):
    session.info.pop(PENDING, None)


def make_huey(config):
    """The huey instance the configuration names: redis://…, sqlite:///path, or memory:// (tests)."""
    from huey import MemoryHuey, RedisHuey, SqliteHuey

    url = config.get("TASK_QUEUE_URL") or "memory://"
    name = config.get("TASK_QUEUE_NAME", "anzexian")
    immediate = bool(config.get("TASK_QUEUE_IMMEDIATE"))
    scheme = urlparse(url).scheme
    if scheme in ("redis", "rediss", "unix"):
        return RedisHuey(name, url=url, immediate=immediate, immediate_use_memory=False)
    if scheme == "sqlite":
        path = url[len("sqlite:///") :]
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        return SqliteHuey(name, filename=path, immediate=immediate, immediate_use_memory=False)
    if scheme == "memory":
        return MemoryHuey(name, immediate=immediate)
    raise ValueError(f"TASK_QUEUE_URL: unknown scheme {scheme!r} (redis://, sqlite:///, memory://)")


# Every module that declares jobs, imported so that web and worker processes register the same set.
JOB_MODULES = ("app.api.webhooks", "app.jobs.outputs", "app.jobs.exports", "app.services.kept_figures")


def init_queue(app):
    """Build the app's huey instance and register every declared job on it, bound to this app."""
    import importlib

    for module in JOB_MODULES:
        importlib.import_module(module)
    huey = register_jobs(app, make_huey(app.config))
    app.extensions["huey"] = huey
    return huey


def register_jobs(app, huey):
    """Every declared job as a task of ``huey``, run in an application context of ``app``."""
    for declared in JOBS.values():
        declared.tasks[id(huey)] = huey.task(
            retries=declared.retries,
            retry_delay=declared.retry_delay,
            retry_backoff=declared.retry_backoff,
            name=declared.name,
        )(_in_app_context(app, declared))
    return huey


def _in_app_context(app, declared):
    def run(*args, **kwargs):
        from app.extensions import db

        with app.app_context():
            try:
                return declared.func(*args, **kwargs)
            finally:
                db.session.remove()

    run.__name__ = declared.name
    return run


class InProcessWorker:
    """huey's worker and scheduler on daemon threads of this process (the embedded default: no extra
    service to start). Production runs ``flask jobs worker`` instead, as many as the load needs."""

    def __init__(self, huey, workers=2):
        from huey.consumer import Scheduler, Worker

        self.stop_flag = threading.Event()
        self.workers = [Worker(huey, self.stop_flag, 0.1, 2.0, 1.15) for _ in range(workers)]
        self.scheduler = Scheduler(huey, self.stop_flag, 1, periodic=False)
        self.threads = []

    def _loop(self, process):
        process.initialize()
        while not self.stop_flag.is_set():
            try:
                process.loop()
            except Exception:  # a failing loop must not end the thread; huey logs the task's own errors
                log.exception("in-process %s loop failed", process.process_name)
                self.stop_flag.wait(1)

    def start(self):
        for process in [*self.workers, self.scheduler]:
            thread = threading.Thread(
                target=self._loop, args=(process,), daemon=True, name=f"azx-{process.process_name}"
            )
            thread.start()
            self.threads.append(thread)
        return self

    def stop(self, timeout=5):
        self.stop_flag.set()
        for thread in self.threads:
            thread.join(timeout)
