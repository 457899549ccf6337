"""The application factory: configuration, extensions, security manager, views. Nothing runs at import."""

import logging

from flask import Flask
from flask_appbuilder import AppBuilder

from .extensions import csrf, db, migrate
from .web.errors import register_error_handlers
from .web.health import register_health
from .web.log import init_logging


def create_app(test_config=None):
    from config import load_config

    app = Flask(__name__, instance_relative_config=False)
    load_config(app, test_config)
    logging.basicConfig(
        level=app.config.get("LOG_LEVEL", "INFO"), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    init_logging(app)
    from . import clock

    # Every page shows instants in the platform's zone through this one function.
    app.jinja_env.globals["local_time"] = clock.fmt
    app.jinja_env.globals["local_time_seconds"] = clock.fmt_seconds
    from .web.page import register_page_globals

    register_page_globals(app)
    from app.numbers import percent

    app.jinja_env.globals["percent"] = percent
    from app.security.roles import ADMIN_MENU_TOP, is_platform_admin

    app.jinja_env.globals.update(is_platform_admin=is_platform_admin, admin_menu_top=ADMIN_MENU_TOP)

    with app.app_context():
        db.init_app(app)
        migrate.init_app(app, db, directory=app.config.get("MIGRATIONS_DIR", _migrations_dir()))
        csrf.init_app(app)

        from . import models  # noqa: F401  (every table on the metadata)
        from .security.manager import PlatformSecurityManager
        from .storage import init_storage
        from .web.index import HomeView

        init_storage(app, db.session)
        schema_ready = _schema_ready()
        if not schema_ready:
            # Before `flask db upgrade` has run there are no permission tables to write to.
            app.config["FAB_UPDATE_PERMS"] = False
        appbuilder = AppBuilder(
            security_manager_class=PlatformSecurityManager,
            indexview=HomeView,
            base_template="azx_base.html",
        )
        appbuilder.init_app(app, db.session)
        if schema_ready and app.config.get("FAB_UPDATE_PERMS"):
            # FAB grants every new permission to the admin role while views register; on a database
            # just migrated that role does not exist yet (roles.py syncs the rest afterwards).
            appbuilder.sm.add_role(appbuilder.sm.auth_role_admin)

        from .views.init_views import register_views

        register_views(appbuilder)
        if app.config.get("AZX_SYNC_ROLES", True) and schema_ready:
            from .security.roles import sync_roles

            sync_roles(appbuilder.sm)

        from .jobs import init_queue

        init_queue(app)
        from .cli import register_cli

        register_cli(app)
        from .web.hooks import register_hooks

        register_hooks(app)
        register_health(app)
        register_error_handlers(app)
    return app


def _migrations_dir():
    import os

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def _schema_ready():
    from sqlalchemy import inspect

    try:
        return inspect(db.engine).has_table("ab_permission_view_role") and inspect(db.engine).has_table("project")
    except Exception:  # an unreachable database is reported by the caller (run.py / flask commands)
        return False
