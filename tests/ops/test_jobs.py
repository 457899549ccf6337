"""The task queue's plumbing (app/jobs): a job runs on a real huey worker, SQLite (the embedded default) and
Redis (production), inside an app context; a job queued on commit runs only if the transaction commits."""

import time

import pytest
from factories.jobs import redis_up

from app.extensions import db
from app.jobs import InProcessWorker, job, make_huey, register_jobs

pytestmark = pytest.mark.commits  # jobs run on real workers, on their own connections

SEEN = []


@job(retries=1, retry_delay=0)
def record_username(user_id):
    from app.models import AppUser

    SEEN.append(db.session.get(AppUser, user_id).username)
    return len(SEEN)


@pytest.fixture(params=["sqlite", "redis"])
def queue(request, app, tmp_path):
    if request.param == "redis" and not redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    url = f"sqlite:///{tmp_path}/tasks.db" if request.param == "sqlite" else "redis://127.0.0.1:6379/15"
    huey = register_jobs(app, make_huey({"TASK_QUEUE_URL": url, "TASK_QUEUE_NAME": f"azx-test-{tmp_path.name}"}))
    huey.flush()
    previous = app.extensions["huey"]
    app.extensions["huey"] = huey
    worker = InProcessWorker(huey, workers=1).start()
    SEEN.clear()
    yield huey
    worker.stop()
    huey.flush()
    app.extensions["huey"] = previous


def _admin_id():
    from app.models import AppUser

    return db.session.query(AppUser.id).filter_by(username="admin").scalar()


def _wait(predicate, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_job_runs_on_the_worker_in_an_app_context(app, queue):
    with app.app_context():
        result = record_username.enqueue(_admin_id())
    assert result(blocking=True, timeout=10) == 1
    assert SEEN == ["admin"]


def test_a_job_queued_on_commit_waits_for_the_commit_and_is_dropped_on_rollback(app, queue):
    with app.app_context():
        admin = _admin_id()
        record_username.enqueue_on_commit(admin)
        db.session.rollback()
        record_username.enqueue_on_commit(admin)
        time.sleep(0.5)
        assert SEEN == []  # not before the commit
        db.session.commit()
    assert _wait(lambda: SEEN == ["admin"]), SEEN
    time.sleep(0.5)
    assert SEEN == ["admin"]  # the rolled-back one never runs
