"""Configuration. The embedded default runs on SQLite under instance/; production sets DATABASE_URL.

Every value can be overridden by an environment variable of the same name or by a Python file named
in ``AZX_CONFIG`` (loaded last).
"""

import os
import secrets
from datetime import timedelta

from flask_appbuilder.const import AUTH_DB

BASE_DIR = os.path.abspath(os.path.dirname(__file__))
INSTANCE_DIR = os.environ.get("INSTANCE_DIR", os.path.join(BASE_DIR, "instance"))


def _secret_key():
    """The key signs sessions: taken from the environment, or generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    os.makedirs(INSTANCE_DIR, exist_ok=True)
    path = os.path.join(INSTANCE_DIR, "secret_key")
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()


def _password_policy(password):
    from app.security.passwords import fab_complexity_validator

    fab_complexity_validator(password)


class Config:
    APP_NAME = "安责险信息管理系统"
    APP_THEME = ""
    SECRET_KEY = None  # filled in create_app
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "sqlite:///" + os.path.join(INSTANCE_DIR, "app.db"))
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    FILE_STORAGE_ROOT = os.environ.get("FILE_STORAGE_ROOT", os.path.join(INSTANCE_DIR, "files"))

    # Operations (docs/deploy.md). FILE_STORAGE_ROOT is one shared volume when several machines serve.
    FILE_STORAGE_BACKEND = os.environ.get("FILE_STORAGE_BACKEND", "local")
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")  # "json": one JSON object per line
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "180"))
    # A registry-import file not confirmed within this many hours is refused and removed (flask files sweep).
    IMPORT_PREVIEW_HOURS = float(os.environ.get("IMPORT_PREVIEW_HOURS", "24"))
    # Sessions, lockouts and nonces live in the database; rate-limit counters in Redis when REDIS_URL
    # is set (shared by every worker and machine), else in the one process of the embedded default
    # (RATELIMIT_STORAGE_URI below). Production requires Redis for them and for the task queue.
    REDIS_URL = os.environ.get("REDIS_URL") or None

    # FAB
    AUTH_TYPE = AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    FAB_ADD_SECURITY_VIEWS = True
    FAB_UPDATE_PERMS = True
    FAB_CREATE_DB = False  # the schema comes from Alembic (flask db upgrade), never from create_all
    FAB_API_MAX_PAGE_SIZE = 100
    FAB_API_SWAGGER_UI = True
    FAB_SAFE_REDIRECT_HOSTS = [
        h.strip() for h in os.environ.get("FAB_SAFE_REDIRECT_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()
    ]
    # FAB's own user and password-reset forms use the platform policy (app/security/passwords.py)
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    FAB_PASSWORD_COMPLEXITY_VALIDATOR = staticmethod(_password_policy)
    # FAB's login rate limit (per client address). The limiter's storage is per process unless
    # RATELIMIT_STORAGE_URI names a shared store (redis://…); the account lockout below is in the
    # database and holds across worker processes either way.
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 20 second")
    RATELIMIT_ENABLED = True
    # Aggregate figures (list statistics, 数据大屏) are reused for at most this many seconds and only
    # while no transition has happened since (app/services/figures_cache.py); 0 switches caching off.
    FIGURES_CACHE_SECONDS = int(os.environ.get("FIGURES_CACHE_SECONDS", "30"))
    # The 数据大屏 and 统计报告 pages (not the wall's data refreshes) wait this long for the refresh a change
    # made them queue before showing the figures they have (app/services/kept_figures.py)
    FIGURES_FRESH_WAIT_SECONDS = float(os.environ.get("FIGURES_FRESH_WAIT_SECONDS", "3"))
    # The task queue (app/jobs): Redis in production, a SQLite file with an in-process worker (run.py) on
    # the embedded default. TASK_QUEUE_IMMEDIATE runs each job at once in the caller (tests only).
    TASK_QUEUE_URL = os.environ.get("TASK_QUEUE_URL") or "sqlite:///" + os.path.join(INSTANCE_DIR, "tasks.db")
    TASK_QUEUE_IMMEDIATE = False
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    FAB_API_KEY_ENABLED = True  # per-company keys of app/api/keys.py (Bearer azx_… or X-API-Key)
    FAB_API_KEY_PREFIXES = ["azx_"]
    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None

    # Chinese by default, English selectable
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_FOLDER = "app/translations"
    BABEL_TRANSLATION_DIRECTORIES = os.path.join(BASE_DIR, "app", "translations")
    LANGUAGES = {
        "zh": {"flag": "cn", "name": "简体中文"},
        "en": {"flag": "gb", "name": "English"},
    }

    # Sessions: server-side records (app/security/sessions.py) with idle and absolute timeouts
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_DOMAIN = os.environ.get("SESSION_COOKIE_DOMAIN") or None
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
    SESSION_ABSOLUTE_HOURS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12"))

    # Passwords and lockout (the password lifetime is the 参数 password_max_age_days: app/services/settings.py)
    PASSWORD_MIN_LENGTH = 12  # app/security/passwords.py states the whole policy
    LOCKOUT_THRESHOLD = 5
    LOCKOUT_WINDOW_MINUTES = 15
    LOCKOUT_MINUTES = 15

    # CA certificate login (app/security/ca.py, deploy/nginx/anzexian.conf); whose header is believed:
    # TRUSTED_PROXIES below
    CA_BUNDLE = os.environ.get("CA_BUNDLE")  # PEM file of the trusted CA certificates
    CA_PROXY_HEADER = os.environ.get("CA_PROXY_HEADER", "X-SSL-Client-Cert")
    CA_PROXY_LOGIN_URL = os.environ.get(
        "CA_PROXY_LOGIN_URL"
    )  # the mTLS entry of the proxy, e.g. https://ca.example/login/ca/proxy
    CA_CREDIT_CODE_FIELDS = [
        f.strip() for f in os.environ.get("CA_CREDIT_CODE_FIELDS", "serialNumber,OU").split(",") if f.strip()
    ]
    CA_CHALLENGE_SECONDS = 120
    CA_TEST_DIR = os.path.join(INSTANCE_DIR, "test-ca")  # `flask ca init-test-ca`; trusted only in DEMO_MODE

    # The platform's time zone: every page, export, PDF, number and API answer shows instants in it, and
    # "today" is its date (app/clock.py). Timestamps are stored in UTC whatever it is.
    TIMEZONE = os.environ.get("TIMEZONE", "Asia/Shanghai")

    # The domain's rates and periods (事故预防费 share, premium tolerance, days to accept an order) are 参数
    # rows the administrator edits, read through app/services/settings.py.
    LIST_MAX_PAGE_SIZE = 100

    # Demo switch: lets the demo accounts of certificate roles in by password. Off unless set.
    DEMO_MODE = os.environ.get("DEMO_MODE", "0") == "1"

    # ---- Operations: the proxy, Redis, health, purges (docs/deploy.md, app/web/proxy.py) ----
    # Where gunicorn listens (deploy/gunicorn.conf.py reads this very value): a Unix socket only nginx may
    # open, or host:port for a proxy on another machine (then PROXY_SECRET is required). Several, by commas.
    GUNICORN_BIND = os.environ.get("GUNICORN_BIND") or "unix:/run/anzexian-web-{instance}/web.sock"
    # The proxy whose X-Forwarded-For/-Proto and client-certificate header are believed: "unix" (the peer
    # of the Unix socket) and/or addresses or networks; empty: nobody's. CA_TRUSTED_PROXIES is its old name.
    TRUSTED_PROXIES = [
        p.strip()
        for p in (os.environ.get("TRUSTED_PROXIES") or os.environ.get("CA_TRUSTED_PROXIES") or "").split(",")
        if p.strip()
    ]
    # Set on nginx as well (proxy_set_header): a request counts as the proxy's only when it carries it.
    PROXY_SECRET = os.environ.get("PROXY_SECRET") or None
    PROXY_SECRET_HEADER = os.environ.get("PROXY_SECRET_HEADER", "X-Proxy-Secret")
    PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "1"))
    # Production needs Redis for the rate limits and the task queue; /health and `flask security check` say so.
    REDIS_REQUIRED = False
    # A Redis that does not answer fails a login in 2 s (503), not after the kernel's TCP timeout.
    RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 2}
    # /health shows its checks to callers presenting this key (and to the machine itself).
    HEALTH_MONITORING_KEY = os.environ.get("HEALTH_MONITORING_KEY") or None
    HEALTH_MONITORING_HEADER = os.environ.get("HEALTH_MONITORING_HEADER", "X-Monitoring-Key")
    # Challenge nonces of the signed-challenge login, per client address (stored with their expiry).
    CA_NONCE_RATE_LIMIT = os.environ.get("CA_NONCE_RATE_LIMIT", "30 per minute")
    # `flask security purge`: sessions are deleted this many days after their absolute expiry.
    SESSION_RETENTION_DAYS = int(os.environ.get("SESSION_RETENTION_DAYS", "30"))
    # REST API (docs/api.md). Rate limits per credential and per client address, counted in Redis when
    # RATELIMIT_STORAGE_URI is redis://…, else in the database; every answer carries RateLimit-* headers.
    API_RATELIMIT_ENABLED = True
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "600 per minute")
    API_RATE_LIMIT_PER_IP = os.environ.get("API_RATE_LIMIT_PER_IP", "3000 per minute")
    API_RETRY_AFTER_SECONDS = 30  # Retry-After of a 503
    # changes: rows younger than this wait for the next page (a transaction still committing is not overtaken)
    API_SYNC_SETTLE_SECONDS = int(os.environ.get("API_SYNC_SETTLE_SECONDS", "2"))
    # Webhooks (app/api/webhooks.py): HTTPS only; private addresses only when allowed; CA bundle to trust
    WEBHOOK_ALLOW_PRIVATE_NETWORKS = os.environ.get("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "0") == "1"
    WEBHOOK_CA_BUNDLE = os.environ.get("WEBHOOK_CA_BUNDLE") or None
    WEBHOOK_TIMEOUT_SECONDS = 10
    WEBHOOK_EXPIRING_DAYS = int(os.environ.get("WEBHOOK_EXPIRING_DAYS", "30"))
    # Outputs (app/reports, app/jobs/outputs.py): an export of more than EXPORT_JOB_ROWS rows runs as a job;
    # a job's file stays JOB_FILE_HOURS under 我的导出/导入 (then `flask jobs purge` removes it); the
    # full-screen 数据大屏 refreshes its figures every DASHBOARD_REFRESH_SECONDS.
    EXPORT_JOB_ROWS = int(os.environ.get("EXPORT_JOB_ROWS", "20000"))
    JOB_FILE_HOURS = int(os.environ.get("JOB_FILE_HOURS", "72"))
    DASHBOARD_REFRESH_SECONDS = int(os.environ.get("DASHBOARD_REFRESH_SECONDS", "60"))


class ProductionConfig(Config):
    """AZX_ENV=production: cookies only over HTTPS, no demo password path, Redis required."""

    SESSION_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https"
    DEMO_MODE = False
    REDIS_REQUIRED = True


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    FAB_UPDATE_PERMS = True
    SERVER_NAME = None


def load_config(app, test_config=None):
    app.config.from_object(ProductionConfig if os.environ.get("AZX_ENV") == "production" else Config)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    extra = os.environ.get("AZX_CONFIG")
    if extra:
        app.config.from_pyfile(extra)
    if test_config:
        app.config.update(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key()
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_db_url(app.config["SQLALCHEMY_DATABASE_URI"])


def normalise_db_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3 here (psycopg2 is not installed)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url
