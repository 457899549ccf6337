"""The WSGI entry point for gunicorn behind nginx: ``gunicorn -c deploy/gunicorn.conf.py app.wsgi:application``.

nginx is the one trusted proxy hop (PROXY_HOPS, default 1): the client address (audit log, lockout, rate
limits) comes from X-Forwarded-For and the scheme (secure cookies, redirects) from X-Forwarded-Proto.
Nothing happens at import except building the app, which each gunicorn worker does for itself
(preload_app is off).
"""

from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app

application = create_app()
_hops = int(application.config.get("PROXY_HOPS", 1))
if _hops:
    application.wsgi_app = ProxyFix(application.wsgi_app, x_for=_hops, x_proto=_hops, x_host=0, x_port=0)
