"""gunicorn settings for 安责险信息管理系统: ``gunicorn -c deploy/gunicorn.conf.py app.wsgi:application``.

Every value can be overridden from the environment (the systemd units read /etc/anzexian/env):
  GUNICORN_BIND      where to listen (config.py's default: unix:/run/anzexian-web-{instance}/web.sock, the
                     socket nginx proxies to); ``{instance}`` is GUNICORN_INSTANCE (the systemd instance
                     name, 1 or 2). Several addresses by commas. A TCP address needs PROXY_SECRET
                     (``flask security check`` says so).
  GUNICORN_SOCKET_GROUP  the group given a Unix socket (default www-data, nginx's), mode 0660: nginx may
                     connect, other local users may not. The socket is 0770 of the service user until then.
  WEB_CONCURRENCY    worker processes of this instance (default cores + 1; two instances run per machine)
  GUNICORN_THREADS   threads per worker (default 1: sync workers)
  GUNICORN_TIMEOUT   seconds a request may take (default 180: a 100k-row Excel export takes 7–10 s on
                     two cores, a statistics PDF a few seconds; 180 leaves room on a loaded machine)
  LOG_FORMAT=json    error log as JSON lines; the app then writes the access lines (with request id)

Workers are stateless: sessions, lockouts and nonces live in the database, files under the shared
FILE_STORAGE_ROOT, rate-limit counters and the task queue in Redis. ``preload_app`` builds the app once in
the master and forks ready workers from it (a worker serves the moment it exists: a HUP or a recycled
worker costs no start-up time; app.wsgi.after_fork gives each worker its own database connections). New
code is picked up by restarting the instances one after the other (deploy/rolling-restart.sh): nginx
sends the requests to the instance that is up while the other starts.
"""

import grp
import json
import multiprocessing
import os
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from config import Config  # the app's own default of GUNICORN_BIND

_started = time.monotonic()

instance = os.environ.get("GUNICORN_INSTANCE", "1")
bind = [b.strip().replace("{instance}", instance) for b in Config.GUNICORN_BIND.split(",") if b.strip()]
workers = int(os.environ.get("WEB_CONCURRENCY", 0)) or min(multiprocessing.cpu_count() + 1, 8)
threads = int(os.environ.get("GUNICORN_THREADS", 1))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 180))
graceful_timeout = 30
keepalive = 5
preload_app = True
# Recycle workers now and then: large exports leave a large heap behind. With preload_app the new
# worker is forked ready, so recycling costs nothing.
max_requests = 1000
max_requests_jitter = 100
# The app decides whom to believe (app/web/proxy.py: TRUSTED_PROXIES, PROXY_SECRET); gunicorn itself
# takes X-Forwarded-Proto from nobody on TCP (it always does from a Unix socket peer: only nginx).
forwarded_allow_ips = ""
proxy_allow_ips = ""
umask = 0o007  # the Unix socket: 0770 until when_ready hands it to nginx's group
socket_group = os.environ.get("GUNICORN_SOCKET_GROUP", "www-data")
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


def _share_sockets(server):
    """Give every Unix socket to nginx's group, mode 0660 (the service user must belong to the group:
    SupplementaryGroups= in the unit)."""
    if not socket_group:
        return
    try:
        gid = grp.getgrnam(socket_group).gr_gid
    except KeyError:
        server.log.warning("GUNICORN_SOCKET_GROUP %s does not exist; sockets left 0770", socket_group)
        return
    for address in bind:
        if address.startswith("unix:"):
            path = address[len("unix:") :]
            os.chown(path, -1, gid)
            os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)


def when_ready(server):
    _share_sockets(server)
    server.log.info(
        "master ready in %.2f s: %s workers × %s threads on %s, timeout %s s",
        time.monotonic() - _started,
        workers,
        threads,
        ",".join(bind),
        timeout,
    )


def post_fork(server, worker):
    from app.wsgi import after_fork

    after_fork()


def post_worker_init(worker):
    worker.log.info("worker %s serving %.2f s after the master started", worker.pid, time.monotonic() - _started)


def worker_abort(worker):
    worker.log.warning(
        json.dumps({"event": "worker_timeout", "pid": worker.pid})
        if _json
        else f"worker {worker.pid} timed out (GUNICORN_TIMEOUT={timeout})"
    )
