"""Tokens that follow the account, the API login's lockout and rate limit, and the rate-limit headers.

Each test uses an account of its own (the department role signs in by password in production too)."""

import uuid

import pytest
from factories.jobs import redis_up
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from app.extensions import db
from app.models import AppUser, Department
from app.models.base import utcnow

PASSWORD = "Api@Test2026"


@pytest.fixture
def account(app):
    """A fresh department account with its own password; returns its username."""
    with app.app_context():
        dept = db.session.execute(select(Department).order_by(Department.id)).scalars().first()
        name = f"api_tok_{uuid.uuid4().hex[:8]}"
        db.session.add(
            AppUser(
                username=name,
                first_name="令牌",
                last_name="测试",
                email=f"{name}@example.invalid",
                active=True,
                roles=[app.appbuilder.sm.find_role("Department")],
                party_kind="department",
                department_id=dept.id,
                password=generate_password_hash(PASSWORD),
                created_on=utcnow(),
                changed_on=utcnow(),
                password_changed_at=utcnow(),
            )
        )
        db.session.commit()
    return name


def login(client, username, password=PASSWORD, refresh=False):
    return client.post("/api/v1/security/login", json={"username": username, "password": password, "refresh": refresh})


def tokens(client, username):
    r = login(client, username, refresh=True)
    assert r.status_code == 200, r.json
    return r.json["access_token"], r.json["refresh_token"]


def works(client, access):
    return client.get("/api/v1/projects/", headers={"Authorization": f"Bearer {access}"}).status_code == 200


def refreshes(client, refresh):
    return client.post("/api/v1/security/refresh", headers={"Authorization": f"Bearer {refresh}"}).status_code == 200


def _user(name):
    return db.session.execute(select(AppUser).filter_by(username=name)).scalar_one()


def test_password_change_revokes_every_token(app, client, account):
    access, refresh = tokens(client, account)
    assert works(client, access) and refreshes(client, refresh)
    with app.test_request_context():
        user = _user(account)
        assert app.appbuilder.sm.change_password(user, PASSWORD, "New@Pass2026x") == []
        db.session.commit()
    assert not works(client, access)
    r = client.post("/api/v1/security/refresh", headers={"Authorization": f"Bearer {refresh}"})
    assert r.status_code == 401 and r.json["code"] == "unauthorized"
    assert login(client, account, "New@Pass2026x").status_code == 200


def test_deactivation_revokes_and_reactivation_does_not_revive(app, client, account):
    access, refresh = tokens(client, account)
    with app.app_context():
        _user(account).active = False
        db.session.commit()
    assert not works(client, access) and not refreshes(client, refresh)
    with app.app_context():
        _user(account).active = True
        db.session.commit()
    assert not works(client, access) and not refreshes(client, refresh)


def test_api_logout_and_web_logout_revoke(app, client, account, as_user):
    access, refresh = tokens(client, account)
    r = client.post("/api/v1/security/logout", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200 and r.json == {"revoked": True}
    assert not works(client, access) and not refreshes(client, refresh)
    access, _refresh = tokens(client, account)
    web = as_user(account, PASSWORD)
    web.post("/logout/")  # logout is a POST (a GET only asks)
    assert not works(client, access)


def test_lockout_is_shared_with_the_web_and_revokes(app, client, account, as_user):
    access, _refresh = tokens(client, account)
    threshold = app.config["LOCKOUT_THRESHOLD"]
    for _ in range(threshold - 1):  # wrong passwords through the API …
        assert login(client, account, "wrong-password").status_code == 401
    web = app.test_client()  # … and the last one through the web page
    web.post("/login/", data={"username": account, "password": "wrong-password"})
    with app.app_context():
        assert _user(account).locked_until is not None
    assert not works(client, access)  # the lockout revoked the token
    r = login(client, account)  # the right password does not open a locked account
    assert r.status_code == 401 and "access_token" not in r.json
    with app.app_context():
        user = _user(account)
        user.locked_until = None
        db.session.commit()


def test_one_time_password_gets_no_token(app, client, account):
    with app.test_request_context():
        user = _user(account)
        app.appbuilder.sm._set_password(user, "Temp@Once2026", must_change=True)
        db.session.commit()
    r = login(client, account, "Temp@Once2026")
    assert r.status_code == 403 and r.json["code"] == "password_change_required"
    assert "access_token" not in r.json


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-jwt",
        "Bearer a.b.c",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.bad-signature",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer azx_unknown",
    ],
)
def test_every_bad_token_is_401_problem(client, header):
    r = client.get("/api/v1/policies/", headers={"Authorization": header})
    assert r.status_code == 401, (header, r.status_code, r.get_data(as_text=True)[:200])
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json["code"] == "unauthorized" and r.json["status"] == 401


def test_expired_token_is_401(app, client, account):
    from datetime import timedelta

    from flask_jwt_extended import create_access_token

    with app.test_request_context():
        user_id = _user(account).id
        token = create_access_token(identity=str(user_id), expires_delta=timedelta(seconds=-5))
    r = client.get("/api/v1/projects/", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json["code"] == "unauthorized"


@pytest.fixture
def limits(app):
    """Switch the limiter on with small limits for one test; each test counts under its own address."""
    keys = ("RATELIMIT_ENABLED", "AUTH_RATE_LIMIT", "API_RATE_LIMIT", "API_RATE_LIMIT_PER_IP")
    saved = {k: app.config[k] for k in keys if k in app.config}
    yield app.config
    for k in keys:
        app.config.pop(k, None)
    app.config.update(saved)


def _from(ip):
    return {"REMOTE_ADDR": ip}


def test_api_login_is_rate_limited(client, account, limits):
    limits.update(RATELIMIT_ENABLED=True, AUTH_RATE_LIMIT="3 per minute")
    ip = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    answers = [
        client.post(
            "/api/v1/security/login", json={"username": account, "password": "x"}, environ_base=_from(ip)
        ).status_code
        for _ in range(5)
    ]
    assert answers[:3] == [401, 401, 401] and answers[3:] == [429, 429], answers
    r = client.post("/api/v1/security/login", json={"username": account, "password": "x"}, environ_base=_from(ip))
    assert r.json["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Remaining"] == "0"


def test_rate_limit_headers_and_429_per_key(app, client, limits):
    from factories.api import issue_test_key

    _id, raw = issue_test_key(app, "人保财险")
    limits.update(API_RATE_LIMIT="5 per minute")
    h = {"X-API-Key": raw}
    seen = []
    for _ in range(7):
        r = client.get("/api/v1/policies/", headers=h)
        seen.append((r.status_code, r.headers.get("RateLimit-Remaining")))
        assert r.headers["RateLimit-Limit"] in ("5",) and int(r.headers["RateLimit-Reset"]) >= 1
    assert [s for s, _ in seen] == [200] * 5 + [429] * 2, seen
    assert [rem for _, rem in seen[:5]] == ["4", "3", "2", "1", "0"]
    assert r.json["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    # another key is counted on its own
    _id, other = issue_test_key(app, "人保财险")
    assert client.get("/api/v1/policies/", headers={"X-API-Key": other}).status_code == 200


def test_rate_limit_per_address(app, client, limits):
    limits.update(API_RATE_LIMIT_PER_IP="3 per minute")
    ip = f"10.8.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    codes = [client.get("/api/v1/policies/", environ_base=_from(ip)).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429], codes


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_counter_is_shared(app, client, limits):
    """With a Redis storage URI the counters live in Redis (db 13 here): two app instances share them."""
    from app.api import ratelimit

    saved = app.extensions.pop("azx_rate_counter", None)
    app.config["API_RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/13"
    try:
        limits.update(API_RATE_LIMIT_PER_IP="4 per minute")
        ip = f"10.7.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        codes = [client.get("/api/v1/policies/", environ_base=_from(ip)).status_code for _ in range(2)]
        # a second counter object (another worker) sees the same count
        app.extensions["azx_rate_counter"] = ratelimit.RedisCounter("redis://127.0.0.1:6379/13")
        codes += [client.get("/api/v1/policies/", environ_base=_from(ip)).status_code for _ in range(3)]
        assert codes == [401, 401, 401, 401, 429], codes
    finally:
        app.config.pop("API_RATELIMIT_STORAGE_URI", None)
        app.extensions.pop("azx_rate_counter", None)
        if saved is not None:
            app.extensions["azx_rate_counter"] = saved
