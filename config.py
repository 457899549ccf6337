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


class Config:
    APP_NAME = "安责险信息管理系统"
    APP_THEME = ""
    SECRET_KEY = None  # filled in create_app
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", "sqlite:///" + os.path.join(INSTANCE_DIR, "app.db")
    )
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    FILE_STORAGE_ROOT = os.environ.get("FILE_STORAGE_ROOT", os.path.join(INSTANCE_DIR, "files"))

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
    FAB_SAFE_REDIRECT_HOSTS = ["localhost", "127.0.0.1"]
    FAB_PASSWORD_COMPLEXITY_ENABLED = False
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

    # Sessions
    PERMANENT_SESSION_LIFETIME = timedelta(minutes=30)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False

    # Domain settings (defaults; reference data in the database may override)
    PREVENTION_FEE_SHARE = 0.21
    PREMIUM_TOLERANCE = 0.10
    LIST_MAX_PAGE_SIZE = 100

    # Demo switch: lets the demo accounts of certificate roles in by password. Off unless set.
    DEMO_MODE = os.environ.get("DEMO_MODE", "0") == "1"

    # Security audit log: kept this many days (等保 level 3: at least six months); `flask security purge-audit`
    AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "183"))


class TestConfig(Config):
    TESTING = True
    WTF_CSRF_ENABLED = False
    FAB_UPDATE_PERMS = True
    SERVER_NAME = None


def load_config(app, test_config=None):
    app.config.from_object(Config)
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
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url
