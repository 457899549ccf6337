"""gunicorn settings for 安责险信息管理系统: ``gunicorn -c deploy/gunicorn.conf.py app.wsgi:application``.

Every value can be overridden from the environment (the systemd unit reads /etc/anzexian/env):
  GUNICORN_BIND      where to listen (default 127.0.0.1:8000; nginx proxies to it)
  WEB_CONCURRENCY    worker processes (default 2 × cores + 1, at most 12)
  GUNICORN_THREADS   threads per worker (default 1: sync workers)
  GUNICORN_TIMEOUT   seconds a request may take (default 180: a 100k-row Excel export takes 7–10 s on
                     two cores, a statistics PDF a few seconds; 180 leaves room on a loaded machine)
  LOG_FORMAT=json    error log as JSON lines; the app then writes the access lines (with request id)

Workers are stateless: sessions, lockouts and nonces live in the database, files under the shared
FILE_STORAGE_ROOT, rate-limit counters in Redis when REDIS_URL is set. preload_app is off so that each
worker builds its own app (its own database pool, no connection inherited across fork) and a
``systemctl reload`` (HUP) picks up new code.
"""

import json
import multiprocessing
import os
import time

_started = time.monotonic()

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 0)) or min(multiprocessing.cpu_count() * 2 + 1, 12)
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 180))
graceful_timeout = 30
keepalive = 5
preload_app = False
# Recycle workers now and then: pandas/openpyxl exports leave a large heap behind.
max_requests = 1000
max_requests_jitter = 100
# nginx on the same machine sets X-Forwarded-Proto; only it is trusted.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
limit_request_line = 8190
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

_json = os.environ.get("LOG_FORMAT", "text").lower() == "json"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# In JSON mode the app logs each request itself (method, path, status, ms, user, request id).
accesslog = None if _json else "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
if _json:
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "app.web.log.JsonFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {"gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False}},
    }


def when_ready(server):
    server.log.info(
        "master ready in %.2f s: %s workers × %s threads on %s, timeout %s s",
        time.monotonic() - _started,
        workers,
        threads,
        bind,
        timeout,
    )


def post_worker_init(worker):
    # The app is built in the worker (preload off): this is the time until it can serve.
    worker.log.info("worker %s serving %.2f s after the master started", worker.pid, time.monotonic() - _started)


def worker_abort(worker):
    worker.log.warning(
        json.dumps({"event": "worker_timeout", "pid": worker.pid})
        if _json
        else f"worker {worker.pid} timed out (GUNICORN_TIMEOUT={timeout})"
    )
