"""The WSGI entry point for gunicorn behind nginx: ``gunicorn -c deploy/gunicorn.conf.py app.wsgi:application``.

The forwarded headers (client address, scheme, client certificate) are believed only from the configured
proxy: app/web/proxy.py, installed by create_app, so the test client goes through the same rule.

gunicorn preloads this module in its master (``preload_app``) and forks the workers from it, so a worker
serves the moment it is forked. ``after_fork`` (called by gunicorn's post_fork hook) gives each worker
its own database connections: none opened in the master is ever shared across processes.
"""

from app import create_app

application = create_app()


def after_fork():
    """In a freshly forked worker: forget the master's pooled connections without closing them (the
    master's sockets are not this process's to close). Redis clients check the pid themselves."""
    from app.extensions import db

    with application.app_context():
        db.engine.dispose(close=False)
