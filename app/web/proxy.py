"""Which proxy the app believes. ``X-Forwarded-For`` / ``X-Forwarded-Proto`` and the client-certificate
header (``CA_PROXY_HEADER``) are read only from the configured proxy; from anyone else they are removed
before Flask sees the request.

The proxy is named by ``TRUSTED_PROXIES``: ``unix`` (the peer of gunicorn's Unix socket, which only nginx
may open: its group and mode are set by deploy/gunicorn.conf.py) and/or IP addresses or networks. When
``PROXY_SECRET`` is set, a request is from the proxy only if it also carries that secret in
``PROXY_SECRET_HEADER`` (nginx adds it); this is what makes a TCP listener safe, where any local process
or a server-side request forgery could otherwise connect and claim to be nginx. The secret header itself
never reaches the app.

From the proxy, the client address and scheme are taken from ``PROXY_HOPS`` hops of the forwarded headers
(werkzeug's ProxyFix). From anywhere else the peer's own address is the client address of the audit log,
the rate limits and the lockout, and a certificate header is never read (app/security/ca.py asks
``from_proxy``). ``flask security check`` refuses a bind and a trust list that disagree
(app/cli/security.py).
"""

import hmac
import ipaddress
import logging
import socket

from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

TRUSTED = "azx.from_proxy"  # environ key: True when the request came from the configured proxy
PEER = "azx.peer"  # environ key: the direct peer ("unix" for the Unix socket, else its address)
UNIX = "unix"
FORWARDED = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_FORWARDED",
    "HTTP_X_REAL_IP",
    "HTTP_X_SSL_CLIENT_VERIFY",
)


def environ_key(header):
    return "HTTP_" + str(header).upper().replace("-", "_")


def trust_entries(config):
    """TRUSTED_PROXIES as a list (a comma-separated string is accepted too)."""
    value = config.get("TRUSTED_PROXIES") or []
    if isinstance(value, str):
        value = value.split(",")
    return [str(v).strip() for v in value if str(v).strip()]


def peer_of(environ):
    sock = environ.get("gunicorn.socket")
    if sock is not None and getattr(sock, "family", None) == socket.AF_UNIX:
        return UNIX
    return environ.get("REMOTE_ADDR") or ""


def peer_trusted(peer, entries):
    if peer == UNIX:
        return UNIX in entries
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    for entry in entries:
        if entry == UNIX:
            continue
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def secret_matches(environ, config):
    secret = config.get("PROXY_SECRET")
    if not secret:
        return True
    given = environ.get(environ_key(config.get("PROXY_SECRET_HEADER") or "X-Proxy-Secret"), "")
    return hmac.compare_digest(given.encode(), str(secret).encode())


class TrustedProxy:
    """WSGI middleware: trust the forwarded headers of the configured proxy only (module docstring).
    The configuration is read on every request, so a test may change it on a running app."""

    def __init__(self, app, wsgi_app):
        self.config = app.config
        self.wsgi_app = wsgi_app
        self._fixers = {}

    def _fixer(self, hops):
        if hops not in self._fixers:
            self._fixers[hops] = ProxyFix(self.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0)
        return self._fixers[hops]

    def __call__(self, environ, start_response):
        config = self.config
        peer = peer_of(environ)
        trusted = peer_trusted(peer, trust_entries(config)) and secret_matches(environ, config)
        environ[PEER] = peer
        environ[TRUSTED] = trusted
        environ.pop(environ_key(config.get("PROXY_SECRET_HEADER") or "X-Proxy-Secret"), None)
        if trusted:
            hops = int(config.get("PROXY_HOPS", 1))
            if hops > 0:
                return self._fixer(hops)(environ, start_response)
            return self.wsgi_app(environ, start_response)
        dropped = []
        for key in (*FORWARDED, environ_key(config.get("CA_PROXY_HEADER") or "X-SSL-Client-Cert")):
            if environ.pop(key, None) is not None:
                dropped.append(key[5:].replace("_", "-").title())
        if dropped:
            log.warning("forwarded headers from an untrusted peer %r ignored: %s", peer, ", ".join(dropped))
        return self.wsgi_app(environ, start_response)


def from_proxy(environ):
    """True when this request came from the configured proxy (set by TrustedProxy)."""
    return bool(environ.get(TRUSTED))


def install(app):
    app.wsgi_app = TrustedProxy(app, app.wsgi_app)
    return app
