"""Request hooks: security headers on every response, ``Cache-Control: no-store`` on every answer to a
signed-in caller, and the trusted-proxy rule (app/web/proxy.py) in front of the app.

None of these hooks touches the database: an after_request that loaded the user would turn a clean 503
(database down) into a 500. Whether the caller is signed in is read from the session cookie and the
request's credentials, never from the user row.
"""

from flask import g, request, session

from app.security.sessions import SESSION_KEY

STATIC_ENDPOINTS = ("static", "appbuilder.static")

# Scripts only from the app's own origin, inline ones only with the answer's nonce (app/web/page.py);
# no 'unsafe-inline', no 'unsafe-eval'. Styles keep 'unsafe-inline' (FAB's widgets and our templates
# set style attributes; a style cannot run code).
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src {script_src}; font-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'self'; object-src 'none'"
)


def content_security_policy():
    nonce = g.get("csp_nonce")
    return CSP.format(script_src=f"'self' 'nonce-{nonce}'" if nonce else "'self'")


def signed_in_request():
    """The request carries a login: a session of app/security/sessions.py, Flask-Login's user id, or an
    API credential (JWT bearer, API key). Read from the request only."""
    if SESSION_KEY in session or "_user_id" in session:
        return True
    return bool(request.headers.get("Authorization") or request.headers.get("X-API-Key"))


def register_hooks(app):
    from app.views.base import install_action_guard

    from .proxy import install

    install(app)
    install_action_guard(app)

    @app.after_request
    def no_store_when_signed_in(response):
        if request.endpoint in STATIC_ENDPOINTS or not signed_in_request():
            return response
        if "no-store" not in (response.headers.get("Cache-Control") or ""):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("Pragma", "no-cache")
        return response

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        return response
