"""CA certificate login through the real stack: proxy header trust, signed challenges, refusals with
clear messages, first enterprise login, administrator binding, and the `flask ca` commands."""

import base64
import itertools
import os
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from stdnum.cn import uscc as uscc_check

from app.cli.ca import make_ca, make_client_certificate, pem_certificate, pem_private_key, sign_message
from app.demo.data import make_credit_code
from app.security.ca import challenge_message

TRUSTED_PROXY = "10.8.0.2"
_serial = itertools.count(90000001)


def new_code(region="230103"):
    return make_credit_code(region, next(_serial))


@pytest.fixture(scope="session")
def test_ca(db_url):
    _url, tmp = db_url
    cert, key = make_ca("测试CA")
    path = os.path.join(tmp, "ca-bundle.pem")
    with open(path, "wb") as fh:
        fh.write(pem_certificate(cert))
    return cert, key, path


@pytest.fixture
def ca_app(app, test_ca, monkeypatch):
    monkeypatch.setitem(app.config, "CA_BUNDLE", test_ca[2])
    monkeypatch.setitem(app.config, "TRUSTED_PROXIES", [TRUSTED_PROXY, "192.168.50.0/24"])
    return app


def issue(test_ca, code, name="黑龙江测试建设有限公司", **kwargs):
    return make_client_certificate(test_ca[0], test_ca[1], code, name, **kwargs)


def nonce_of(client):
    data = client.get("/login/ca/nonce").get_json()
    assert data["message"] == challenge_message(data["nonce"]).decode()
    return data["nonce"]


def challenge_login(client, cert, key, nonce=None, follow=False):
    nonce = nonce or nonce_of(client)
    return client.post(
        "/login/ca/",
        data={
            "nonce": nonce,
            "certificate": pem_certificate(cert).decode(),
            "signature": sign_message(key, challenge_message(nonce)),
        },
        follow_redirects=follow,
    )


def flashed(client):
    return client.get("/login/ca/", follow_redirects=True).get_data(as_text=True)


def audit_rows(app, **filters):
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        return db.session.query(AuditEvent).filter_by(**filters).order_by(AuditEvent.id).all()


def test_valid_certificate_of_known_enterprise_lands_on_its_party(ca_app, test_ca, client):
    from app.extensions import db
    from app.models import AppUser

    with ca_app.app_context():
        user = db.session.query(AppUser).filter_by(username="enterprise_demo").one()
        code, enterprise_name = user.enterprise.credit_code, user.enterprise.name
    cert, key = issue(test_ca, code, enterprise_name)
    response = challenge_login(client, cert, key)
    assert response.status_code == 302
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "项目信息" in page and "企业信息" in page
    me = client.get("/my/enterprise/").get_data(as_text=True)
    assert enterprise_name in me and code in me
    assert audit_rows(ca_app, action="login", username="enterprise_demo")[-1].detail.startswith("certificate")


def test_first_login_of_unknown_code_creates_enterprise_and_opens_enterprise_info(ca_app, test_ca, client):
    from app.extensions import db
    from app.models import AppUser, Enterprise

    code = new_code("230103")
    cert, key = issue(test_ca, code, "哈尔滨新成立建筑有限公司", key_type="rsa")
    response = challenge_login(client, cert, key)
    assert response.status_code == 302 and response.location.endswith("/my/enterprise/")
    page = client.get(response.location).get_data(as_text=True)
    assert "请完善企业信息" in page and "哈尔滨新成立建筑有限公司" in page
    with ca_app.app_context():
        enterprise = db.session.query(Enterprise).filter_by(credit_code=code).one()
        assert enterprise.region_code == "230103" and enterprise.first_login_at is not None
        user = db.session.query(AppUser).filter_by(enterprise_id=enterprise.id).one()
        assert user.party_kind == "enterprise" and [r.name for r in user.roles] == ["Enterprise"]
    # the second login finds the same enterprise and does not create another
    again = ca_app.test_client()
    assert challenge_login(again, cert, key).location.endswith("/")
    with ca_app.app_context():
        assert db.session.query(Enterprise).filter_by(credit_code=code).count() == 1


def test_credit_code_read_from_ou_when_serial_number_absent(ca_app, test_ca, client):
    code = new_code("230202")
    cert, key = issue(test_ca, code, "齐齐哈尔OU建筑有限公司", field="OU")
    assert challenge_login(client, cert, key).location.endswith("/my/enterprise/")


def test_expired_certificate_refused(ca_app, test_ca, client):
    past = datetime.now(UTC) - timedelta(days=400)
    cert, key = issue(test_ca, new_code(), not_before=past, not_after=past + timedelta(days=365))
    response = challenge_login(client, cert, key, follow=True)
    assert "证书已过期" in response.get_data(as_text=True)
    assert client.get("/my/enterprise/").status_code in (302, 401, 403)


def test_certificate_of_another_ca_refused(ca_app, client):
    other_cert, other_key = make_ca("另一个CA")
    cert, key = make_client_certificate(other_cert, other_key, new_code(), "冒名建设有限公司")
    html = challenge_login(client, cert, key, follow=True).get_data(as_text=True)
    assert "不是由受信任的CA签发" in html


def test_bad_check_character_refused(ca_app, test_ca, client):
    code = new_code()
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert not uscc_check.is_valid(wrong)
    cert, key = issue(test_ca, wrong)
    html = challenge_login(client, cert, key, follow=True).get_data(as_text=True)
    assert "统一社会信用代码校验位不正确" in html


def test_replayed_nonce_refused(ca_app, test_ca):
    cert, key = issue(test_ca, new_code())
    first = ca_app.test_client()
    nonce = nonce_of(first)
    assert challenge_login(first, cert, key, nonce=nonce).status_code == 302
    replay = ca_app.test_client()
    html = challenge_login(replay, cert, key, nonce=nonce, follow=True).get_data(as_text=True)
    assert "挑战码已使用或已过期" in html
    assert replay.get("/my/enterprise/").status_code != 200


def test_nonce_expires_after_two_minutes(ca_app, test_ca, client, monkeypatch):
    from app import clock

    cert, key = issue(test_ca, new_code())
    nonce = nonce_of(client)
    later = clock.now() + timedelta(seconds=121)
    monkeypatch.setattr(clock, "now", lambda: later)
    html = challenge_login(client, cert, key, nonce=nonce, follow=True).get_data(as_text=True)
    assert "挑战码已使用或已过期" in html


def test_signature_by_another_key_refused(ca_app, test_ca, client):
    cert, _key = issue(test_ca, new_code())
    _other, wrong_key = issue(test_ca, new_code())
    html = challenge_login(client, cert, wrong_key, follow=True).get_data(as_text=True)
    assert "签名验证失败" in html


def test_certificate_without_client_auth_usage_refused(ca_app, test_ca, client):
    cert, key = issue(test_ca, new_code(), client_auth=False)
    assert challenge_login(client, cert, key).status_code == 302  # no EKU at all: accepted
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_cert, ca_key = test_ca[0], test_ca[1]
    server_only = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, "srv"), x509.NameAttribute(NameOID.SERIAL_NUMBER, new_code())]
            )
        )
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(minutes=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    html = challenge_login(ca_app.test_client(), server_only, key, follow=True).get_data(as_text=True)
    assert "不包括客户端身份验证" in html


def _new_insurer(app, code):
    from app.extensions import db
    from app.models import InsuranceCompany

    with app.app_context():
        n = db.session.query(InsuranceCompany).count()
        company = InsuranceCompany(
            name=f"测试财险黑龙江分公司{code[-6:]}",
            short_name=f"测试财险{code[-6:]}",
            kind="insurer",
            login_order=1000 + n,
            credit_code=code,
        )
        db.session.add(company)
        db.session.commit()
        return company.id


def test_unbound_insurer_and_expert_certificates_refused(ca_app, test_ca, client):
    code = new_code("230100")
    _new_insurer(ca_app, code)
    cert, key = issue(test_ca, code, "测试财险")
    html = challenge_login(client, cert, key, follow=True).get_data(as_text=True)
    assert "尚未绑定平台账号" in html
    expert_cert, expert_key = issue(test_ca, "", "专家 张三")
    html = challenge_login(ca_app.test_client(), expert_cert, expert_key, follow=True).get_data(as_text=True)
    assert "尚未绑定平台账号" in html
    assert audit_rows(ca_app, action="login_failed", username=code)


def test_admin_binds_certificate_then_insurer_logs_in(ca_app, test_ca, as_user):
    from app.extensions import db
    from app.models import AppUser

    cert, key = issue(test_ca, "", "人保财险 业务员")
    admin = as_user("admin")
    with ca_app.app_context():
        target = db.session.query(AppUser).filter_by(username="insurer_pingan").one()
        target_id = target.id
    page = admin.get(f"/admin/accounts/{target_id}/certificate")
    assert page.status_code == 200 and "证书绑定" in page.get_data(as_text=True)
    response = admin.post(
        f"/admin/accounts/{target_id}/certificate",
        data={"certificate": pem_certificate(cert).decode()},
        follow_redirects=True,
    )
    assert "证书已绑定" in response.get_data(as_text=True)
    assert audit_rows(ca_app, action="cert_bind", username="insurer_pingan")
    client = ca_app.test_client()
    assert challenge_login(client, cert, key).status_code == 302
    assert "投保信息" in client.get("/", follow_redirects=True).get_data(as_text=True)
    # a certificate of another CA cannot be bound
    other_cert, _k = make_client_certificate(*make_ca("另一个CA"), "", "外来证书")
    html = admin.post(
        f"/admin/accounts/{target_id}/certificate",
        data={"certificate": pem_certificate(other_cert).decode()},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "不是由受信任的CA签发" in html
    admin.post(f"/admin/accounts/{target_id}/certificate", data={"unbind": "1"})
    html = challenge_login(ca_app.test_client(), cert, key, follow=True).get_data(as_text=True)
    assert "尚未绑定平台账号" in html


def test_proxy_header_from_untrusted_address_ignored(ca_app, test_ca):
    code = new_code()
    cert, _key = issue(test_ca, code)
    header = {"X-SSL-Client-Cert": quote(pem_certificate(cert).decode())}
    untrusted = ca_app.test_client()
    response = untrusted.get(
        "/login/ca/proxy", headers=header, environ_base={"REMOTE_ADDR": "203.0.113.9"}, follow_redirects=True
    )
    assert "未收到经可信代理验证的客户端证书" in response.get_data(as_text=True)
    assert untrusted.get("/my/enterprise/").status_code != 200
    trusted = ca_app.test_client()
    response = trusted.get("/login/ca/proxy", headers=header, environ_base={"REMOTE_ADDR": TRUSTED_PROXY})
    assert response.status_code == 302 and response.location.endswith("/my/enterprise/")
    assert code in trusted.get("/my/enterprise/").get_data(as_text=True)
    in_network = ca_app.test_client()
    assert (
        in_network.get("/login/ca/proxy", headers=header, environ_base={"REMOTE_ADDR": "192.168.50.7"}).status_code
        == 302
    )


def test_proxy_certificate_reverified_against_bundle(ca_app):
    other_cert, other_key = make_ca("另一个CA")
    cert, _key = make_client_certificate(other_cert, other_key, new_code(), "代理放行的外来证书")
    client = ca_app.test_client()
    response = client.get(
        "/login/ca/proxy",
        headers={"X-SSL-Client-Cert": quote(pem_certificate(cert).decode())},
        environ_base={"REMOTE_ADDR": TRUSTED_PROXY},
        follow_redirects=True,
    )
    assert "不是由受信任的CA签发" in response.get_data(as_text=True)


def test_no_bundle_configured_refused_clearly(app, test_ca, monkeypatch, client):
    monkeypatch.setitem(app.config, "CA_BUNDLE", None)
    monkeypatch.setitem(app.config, "CA_TEST_DIR", "/nonexistent")
    cert, key = issue(test_ca, new_code())
    html = challenge_login(client, cert, key, follow=True).get_data(as_text=True)
    assert "flask ca init-test-ca" in html
    monkeypatch.setitem(app.config, "DEMO_MODE", False)
    html = challenge_login(app.test_client(), cert, key, follow=True).get_data(as_text=True)
    assert "尚未配置受信任的CA证书" in html


def test_login_page_explains_both_ways(client):
    html = client.get("/login/").get_data(as_text=True)
    assert "方式一" in html and "方式二" in html and "私钥" in html and "不会上传" in html
    challenge = client.get("/login/ca/")
    assert challenge.headers["Cache-Control"].startswith("no-store")
    assert "ca-login.js" in challenge.get_data(as_text=True)


def test_ca_commands(app, tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import pkcs12

    runner = app.test_cli_runner()
    out = tmp_path / "ca"
    result = runner.invoke(args=["ca", "init-test-ca", "--dir", str(out)])
    assert result.exit_code == 0, result.output
    code = new_code()
    result = runner.invoke(
        args=["ca", "issue", "--uscc", code, "--name", "测试企业", "--ca-dir", str(out), "--key-type", "ec"]
    )
    assert result.exit_code == 0, result.output
    cert = x509.load_pem_x509_certificate((out / f"{code}.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(x509.oid.NameOID.SERIAL_NUMBER)[0].value == code
    key, p12_cert, _ = pkcs12.load_key_and_certificates((out / f"{code}.p12").read_bytes(), b"changeit")
    assert p12_cert == cert
    assert (out / f"{code}-login.pem").read_text().count("-----BEGIN") == 2
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    bad = runner.invoke(args=["ca", "issue", "--uscc", wrong, "--name", "x", "--ca-dir", str(out)])
    assert bad.exit_code != 0
    result = runner.invoke(args=["ca", "sign", "--key", str(out / f"{code}-key.pem"), "--nonce", "abc"])
    assert result.exit_code == 0
    key.public_key().verify(
        base64.b64decode(result.output.strip()), challenge_message("abc"), ec.ECDSA(hashes.SHA256())
    )


def test_scripted_login_with_cli_signature(ca_app, test_ca, tmp_path):
    code = new_code()
    cert, key = issue(test_ca, code, key_type="rsa")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(pem_private_key(key))
    client = ca_app.test_client()
    nonce = nonce_of(client)
    signature = (
        ca_app.test_cli_runner().invoke(args=["ca", "sign", "--key", str(key_file), "--nonce", nonce]).output.strip()
    )
    response = client.post(
        "/login/ca/", data={"nonce": nonce, "certificate": pem_certificate(cert).decode(), "signature": signature}
    )
    assert response.status_code == 302 and response.location.endswith("/my/enterprise/")


@pytest.fixture(scope="module")
def limited_app(app):
    """Another app on the same database with the limits switched on, as a production worker has them."""
    from app import create_app
    from app.extensions import db

    other = create_app(
        dict(app.config["AZX_TEST_CONFIG"], RATELIMIT_ENABLED=True, AZX_SYNC_ROLES=False, FAB_UPDATE_PERMS=False)
    )
    yield other
    with other.app_context():
        db.session.remove()


def _challenge_rows(app):
    from app.extensions import db
    from app.models import LoginChallenge

    with app.app_context():
        return db.session.query(LoginChallenge).count()


def test_nonce_flood_is_bounded(limited_app):
    """An anonymous flood of /login/ca/nonce stores at most CA_NONCE_RATE_LIMIT rows per client address,
    each with its expiry; forged X-Forwarded-For values do not make new clients; the challenge page counts
    toward the same limit."""
    from limits import parse

    allowed = parse(limited_app.config["CA_NONCE_RATE_LIMIT"]).amount
    before = _challenge_rows(limited_app)
    client = limited_app.test_client()
    answers = [
        client.get(
            "/login/ca/nonce",
            headers={"X-Forwarded-For": f"203.0.113.{i % 250}"},
            environ_base={"REMOTE_ADDR": "10.77.0.1"},
        )
        for i in range(allowed + 40)
    ]
    codes = [a.status_code for a in answers]
    assert codes.count(200) == allowed and codes.count(429) == 40, codes
    refused = answers[-1]
    assert refused.is_json and refused.get_json()["status"] == 429 and int(refused.headers["Retry-After"]) > 0
    assert _challenge_rows(limited_app) - before == allowed
    page = client.get("/login/ca/", environ_base={"REMOTE_ADDR": "10.77.0.1"})
    assert page.status_code == 429 and page.headers["Retry-After"] and "请求过于频繁" in page.get_data(as_text=True)
    assert _challenge_rows(limited_app) - before == allowed
    # another address still gets its nonce
    assert client.get("/login/ca/nonce", environ_base={"REMOTE_ADDR": "10.77.0.2"}).status_code == 200


def test_challenge_purge_deletes_expired_nonces_only_and_is_idempotent(app, monkeypatch):
    from datetime import timedelta

    from app import clock
    from app.extensions import db
    from app.models import LoginChallenge
    from app.security import ca

    client = app.test_client()
    stale = [nonce_of(client) for _ in range(3)]
    base = clock.now()
    monkeypatch.setattr(clock, "now", lambda: base + timedelta(seconds=app.config["CA_CHALLENGE_SECONDS"] + 1))
    fresh = nonce_of(client)
    with app.test_request_context():
        first = ca.purge_challenges()
        second = ca.purge_challenges()
        left = {r.nonce for r in db.session.query(LoginChallenge).filter(LoginChallenge.nonce.in_([*stale, fresh]))}
    assert first >= 3 and second == 0
    assert left == {fresh}
    result = app.test_cli_runner().invoke(args=["security", "purge"])
    assert result.exit_code == 0, result.output
    assert "login_challenge: 0 deleted" in result.output and "user_session:" in result.output
