"""Headers are believed only from the proxy (issue 21, item 4): a client certificate and a client address
forged by anything that reaches gunicorn without being nginx are refused — from a TCP peer, from a wrong
or missing shared secret — while the same headers from the configured proxy sign in and are audited with
the forwarded address. X-Forwarded-For does not escape the login limit.

The same is shown against real gunicorn and Debian's nginx by deploy/smoke-test.sh (curl, a Unix socket,
a TCP listener with the secret, a foreign CA refused by nginx).
"""

import socket
from urllib.parse import quote

import pytest
from flask import Flask, jsonify, request

from app.cli.ca import make_ca, make_client_certificate, pem_certificate
from app.demo.data import make_credit_code
from app.extensions import db
from app.web.proxy import TrustedProxy, from_proxy

SECRET = "Zq8Lw3Nx7Pd2Rk5Tv9Ys4Hb6Jm1Cf0Ga"
FORGED_CLIENT = "198.51.100.7"


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    cert, key = make_ca("代理测试CA")
    path = tmp_path_factory.mktemp("proxy-ca") / "ca.pem"
    path.write_bytes(pem_certificate(cert))
    return cert, key, str(path)


@pytest.fixture
def proxied(app, test_ca, monkeypatch):
    """The app as deployed behind nginx on a Unix socket, with the shared secret of a TCP listener too."""
    monkeypatch.setitem(app.config, "CA_BUNDLE", test_ca[2])
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", ["unix", "127.0.0.1"])
    monkeypatch.setitem(app.config, "PROXY_SECRET", SECRET)
    return app


_serial = iter(range(93000001, 93999999))


def certificate_header(test_ca):
    code = make_credit_code("230103", next(_serial))
    cert, _key = make_client_certificate(test_ca[0], test_ca[1], code, "代理测试建设有限公司")
    return code, {"X-SSL-Client-Cert": quote(pem_certificate(cert).decode())}


def unix_peer():
    """environ of a request arriving on gunicorn's Unix socket (gunicorn puts the socket in the environ)."""
    return {"gunicorn.socket": socket.socket(socket.AF_UNIX), "REMOTE_ADDR": ""}


def last_audit(app, action, username=None):
    from app.models import AuditEvent

    with app.app_context():
        query = db.session.query(AuditEvent).filter_by(action=action)
        if username:
            query = query.filter_by(username=username)
        return query.order_by(AuditEvent.id.desc()).first()


def signed_in(client):
    return client.get("/my/enterprise/").status_code == 200


def test_forged_certificate_and_address_from_outside_the_proxy_are_refused(proxied, test_ca):
    code, header = certificate_header(test_ca)
    forged = dict(header, **{"X-Forwarded-For": FORGED_CLIENT})
    attacker = proxied.test_client()  # a local process on gunicorn's TCP port: 127.0.0.1, no secret
    response = attacker.get("/login/ca/proxy", headers=forged, follow_redirects=True)
    assert "未收到经可信代理验证的客户端证书" in response.get_data(as_text=True)
    assert not signed_in(attacker)
    refused = last_audit(proxied, "login_failed")
    assert refused.detail.startswith("certificate no_proxy_certificate") and refused.ip == "127.0.0.1"
    wrong_secret = proxied.test_client()
    wrong_secret.get("/login/ca/proxy", headers=dict(forged, **{"X-Proxy-Secret": SECRET[:-1] + "x"}))
    assert not signed_in(wrong_secret)
    # the very same request from nginx (which adds the secret) signs in, audited with the client's address
    nginx = proxied.test_client()
    response = nginx.get("/login/ca/proxy", headers=dict(forged, **{"X-Proxy-Secret": SECRET}))
    assert response.status_code == 302 and response.location.endswith("/my/enterprise/")
    assert signed_in(nginx) and code in nginx.get("/my/enterprise/").get_data(as_text=True)
    assert last_audit(proxied, "login", username=None).ip == FORGED_CLIENT


def test_the_unix_socket_peer_is_the_proxy_and_still_needs_the_secret(proxied, test_ca, monkeypatch):
    code, header = certificate_header(test_ca)
    without = proxied.test_client()
    without.get("/login/ca/proxy", headers=header, environ_base=unix_peer())
    assert not signed_in(without)
    monkeypatch.setitem(proxied.config, "PROXY_SECRET", None)  # the socket alone: only nginx can open it
    monkeypatch.setitem(proxied.config, "TRUSTED_PROXIES", ["unix"])
    nginx = proxied.test_client()
    response = nginx.get("/login/ca/proxy", headers=header, environ_base=unix_peer())
    assert response.status_code == 302 and response.location.endswith("/my/enterprise/")
    tcp = proxied.test_client()  # TCP peers are not the proxy when only the socket is trusted
    tcp.get("/login/ca/proxy", headers=certificate_header(test_ca)[1])
    assert not signed_in(tcp)


def _probe_app(**config):
    """A bare Flask app behind TrustedProxy that shows what it was told."""
    probe = Flask("probe")
    probe.config.update(config)

    @probe.route("/")
    def show():
        return jsonify(
            remote_addr=request.remote_addr,
            scheme=request.scheme,
            headers={k: v for k, v in request.headers.items() if k.lower().startswith("x-")},
            from_proxy=from_proxy(request.environ),
        )

    probe.wsgi_app = TrustedProxy(probe, probe.wsgi_app)
    return probe.test_client()


FORWARDED = {
    "X-Forwarded-For": FORGED_CLIENT,
    "X-Forwarded-Proto": "https",
    "X-SSL-Client-Cert": "forged",
    "X-SSL-Client-Verify": "SUCCESS",
    "X-Real-IP": FORGED_CLIENT,
}


def test_untrusted_peers_lose_every_forwarded_header_and_the_secret_never_reaches_the_app():
    client = _probe_app(TRUSTED_PROXIES=["10.0.0.11"], PROXY_SECRET=SECRET, PROXY_SECRET_HEADER="X-Proxy-Secret")
    seen = client.get("/", headers=dict(FORWARDED, **{"X-Proxy-Secret": SECRET})).get_json()
    assert seen == {"remote_addr": "127.0.0.1", "scheme": "http", "headers": {}, "from_proxy": False}
    trusted = client.get(
        "/", headers=dict(FORWARDED, **{"X-Proxy-Secret": SECRET}), environ_base={"REMOTE_ADDR": "10.0.0.11"}
    ).get_json()
    assert trusted["from_proxy"] and trusted["remote_addr"] == FORGED_CLIENT and trusted["scheme"] == "https"
    assert "X-Proxy-Secret" not in trusted["headers"] and trusted["headers"]["X-Ssl-Client-Cert"] == "forged"
    no_secret = client.get("/", headers=FORWARDED, environ_base={"REMOTE_ADDR": "10.0.0.11"}).get_json()
    assert no_secret["from_proxy"] is False and no_secret["headers"] == {}
    nobody = _probe_app(TRUSTED_PROXIES=[])  # the default: nobody's headers
    assert nobody.get("/", headers=FORWARDED).get_json()["headers"] == {}


def test_proxy_hops_take_the_address_nginx_saw():
    client = _probe_app(TRUSTED_PROXIES=["unix"], PROXY_HOPS=1)
    seen = client.get(
        "/", headers={"X-Forwarded-For": "203.0.113.50, " + FORGED_CLIENT}, environ_base=unix_peer()
    ).get_json()
    assert seen["remote_addr"] == FORGED_CLIENT  # the hop nginx appended, not what the client claimed before it


@pytest.fixture(scope="module")
def limited_app(app):
    """Another app on the same database with the login limit switched on, as a production worker has it."""
    from app import create_app

    other = create_app(
        dict(app.config["AZX_TEST_CONFIG"], RATELIMIT_ENABLED=True, AZX_SYNC_ROLES=False, FAB_UPDATE_PERMS=False)
    )
    other.config["TRUSTED_PROXIES"] = ["unix"]
    yield other
    with other.app_context():
        db.session.remove()


def _login_attempt(client, forwarded_for, environ=None):
    return client.post(
        "/login/",
        data={"username": "proxy_rate_probe", "password": "Wrong#Pass1"},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base=environ or {},
    ).status_code


def test_x_forwarded_for_does_not_escape_the_login_limit(limited_app):
    client = limited_app.test_client()
    codes = [_login_attempt(client, f"203.0.113.{i}", {"REMOTE_ADDR": "127.0.0.9"}) for i in range(12)]
    assert codes[0] == 302 and codes[-1] == 429, codes
    # through the proxy the forwarded address is the client: each client has its own allowance
    codes = [_login_attempt(limited_app.test_client(), f"198.51.100.{i}", unix_peer()) for i in range(12)]
    assert 429 not in codes, codes
