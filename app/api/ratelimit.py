"""Rate limits of the API, counted where every worker sees them: Redis when the limiter's storage is a
Redis URL (RATELIMIT_STORAGE_URI / REDIS_URL), else the database (table ``api_rate_counter``).

Fixed windows. Every API answer carries ``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` (seconds until the window ends) and ``RateLimit-Policy`` for the tightest limit
that applies; a refused request answers 429 with ``Retry-After``. Limits:

- per credential (API key or token, API_RATE_LIMIT, default 600 per minute),
- per client address (API_RATE_LIMIT_PER_IP, default 3000 per minute),
- the login: AUTH_RATE_LIMIT per address and per username (the web login's setting), counted only
  while RATELIMIT_ENABLED is on, like the web login's.

API_RATELIMIT_ENABLED = False switches the general limits off (the headers then say nothing).
If the counter store itself fails the request goes through (logged): the database or Redis being
down is answered by the request's own 503, not by the limiter.
"""

import hashlib
import logging
import re
import time

from flask import current_app, g, request
from flask_babel import lazy_gettext as _
from sqlalchemy import delete

from app.extensions import db

from . import problems

log = logging.getLogger(__name__)
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


def parse(text):
    """'600 per minute', '10 per 20 second', '100/hour' → (count, seconds)."""
    m = _LIMIT.match(text or "")
    if not m:
        raise ValueError(f"rate limit not understood: {text!r}")
    return int(m.group(1)), int(m.group(2) or 1) * _UNITS[m.group(3)]


class DatabaseCounter:
    """Counts in the database, in its own short transaction (never the request's)."""

    def hit(self, bucket, window_start, seconds):
        from app.models import ApiRateCounter

        table = ApiRateCounter.__table__
        engine = db.engine
        if engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(table).values(bucket=bucket, window_start=window_start, hits=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["bucket", "window_start"], set_={"hits": table.c.hits + 1}
        ).returning(table.c.hits)
        with engine.begin() as conn:
            hits = conn.execute(stmt).scalar_one()
            if hits == 1 and window_start % 97 == 0:  # now and then, forget windows long past
                conn.execute(delete(table).where(table.c.window_start < window_start - 86400))
        return hits


class RedisCounter:
    def __init__(self, url):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def hit(self, bucket, window_start, seconds):
        key = f"azx:rl:{bucket}:{window_start}"
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, seconds + 5)
        hits, _ = pipe.execute()
        return int(hits)


def counter():
    app = current_app
    store = app.extensions.get("azx_rate_counter")
    if store is None:
        uri = app.config.get("API_RATELIMIT_STORAGE_URI") or app.config.get("RATELIMIT_STORAGE_URI") or ""
        if uri.startswith(("redis://", "rediss://", "unix://")):
            store = RedisCounter(uri)
        else:
            store = DatabaseCounter()
        app.extensions["azx_rate_counter"] = store
    return store


def check(name, who, limit_text):
    """Count one request of ``who`` against the limit; returns (allowed, limit, remaining, reset, seconds)."""
    count, seconds = parse(limit_text)
    now = int(time.time())
    window_start = now - now % seconds
    digest = hashlib.sha256(who.encode("utf-8")).hexdigest()[:40]
    hits = counter().hit(f"{name}:{digest}", window_start, seconds)
    reset = window_start + seconds - now
    return hits <= count, count, max(count - hits, 0), max(reset, 1), seconds


def _client_ip():
    return request.remote_addr or "-"


def _credential():
    """The presented API key or bearer token (verified later by protect(); counting needs no trust)."""
    key = request.headers.get("X-API-Key", "").strip()
    if key:
        return "key:" + key
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return "token:" + auth[7:].strip()
    return None


def before_api_request():
    """Count the request; 429 when a limit is exhausted. Sets g.azx_rate for the headers."""
    cfg = current_app.config
    if not request.path.startswith("/api/") or not cfg.get("API_RATELIMIT_ENABLED", True):
        return None
    checks = [("ip", _client_ip(), cfg.get("API_RATE_LIMIT_PER_IP") or "3000 per minute")]
    credential = _credential()
    if credential:
        checks.append(("cred", credential, cfg.get("API_RATE_LIMIT") or "600 per minute"))
    tightest = None
    try:
        for name, who, text in checks:
            result = check(name, who, text)
            if tightest is None or result[2] < tightest[2] or not result[0]:
                tightest = result
            if not result[0]:
                break
    except Exception:
        log.exception("API rate limit not counted (the counter store failed)")
        return None
    g.azx_rate = tightest
    if not tightest[0]:
        return refused(tightest)
    return None


def refused(result):
    _allowed, limit, _remaining, reset, seconds = result
    return problems.response(
        "rate_limited",
        detail=_("请求过于频繁，请 %(n)s 秒后重试", n=reset),
        headers={"Retry-After": str(reset), **_headers(result)},
    )


def _headers(result):
    _allowed, limit, remaining, reset, seconds = result
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{limit};w={seconds}",
    }


def after_api_request(response):
    result = g.pop("azx_rate", None)
    if result is not None and request.path.startswith("/api/"):
        for name, value in _headers(result).items():
            response.headers.setdefault(name, value)
        if response.status_code in (429, 503) and "Retry-After" not in response.headers:
            response.headers["Retry-After"] = str(result[3])
    return response


def login_limited(who):
    """The API login's own limit (AUTH_RATE_LIMIT, like the web login), per address and per username."""
    cfg = current_app.config
    if not cfg.get("RATELIMIT_ENABLED", True) or not cfg.get("AUTH_RATE_LIMITED", True):
        return None
    try:
        result = check("login", who or "-", cfg.get("AUTH_RATE_LIMIT") or "10 per 20 second")
    except Exception:
        log.exception("API login rate limit not counted (the counter store failed)")
        return None
    if g.get("azx_rate") is None or result[2] < g.azx_rate[2]:
        g.azx_rate = result
    return None if result[0] else refused(result)
