"""Password accounts: policy, lockout stored in the database, the same answer for unknown and wrong,
forced changes on every page, the demo switch for certificate roles, rate limit, audit, admin pages."""

import time
from datetime import timedelta

import pytest

from app import clock
from tests.conftest import DEMO_PASSWORD

GENERIC = "用户名或密码错误"


def make_department_user(app, username, password="Dept#2026x", changed=True):
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import AppUser, Department

    with app.app_context():
        sm = app.appbuilder.sm
        dept = db.session.query(Department).filter_by(region_code="230100").first()
        user = AppUser(
            username=username,
            first_name="测试",
            last_name="用户",
            email=f"{username}@example.invalid",
            active=True,
            roles=[sm.find_role("Department")],
            password=generate_password_hash(password),
            party_kind="department",
            department_id=dept.id,
            password_changed_at=clock.now() if changed else None,
            created_on=clock.now(),
            changed_on=clock.now(),
        )
        db.session.add(user)
        db.session.commit()
    return username, password


def post_login(client, username, password, follow=False):
    return client.post("/login/", data={"username": username, "password": password}, follow_redirects=follow)


def user_row(app, username):
    from app.extensions import db
    from app.models import AppUser

    with app.app_context():
        user = db.session.query(AppUser).filter_by(username=username).one()
        db.session.expunge(user)
        return user


def audit_actions(app, username):
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        return [e.action for e in db.session.query(AuditEvent).filter_by(username=username).order_by(AuditEvent.id)]


@pytest.mark.parametrize(
    "password,ok",
    [
        ("Abcdef1!xyzw", True),
        ("abcdef12!xyz", True),
        ("ABCDEF12abcd", True),
        ("Abcdef1!xyz", False),  # 11: below PASSWORD_MIN_LENGTH
        ("Abc1!", False),
        ("abcdefgh1234", False),
        ("abcdefghijkl", False),
        ("12345678!123", False),
        ("xzhangsan#A1", False),
        ("Demo@2026", False),  # the README's demo password
        ("Password@123456", False),  # long and mixed, but on the common list
        ("password@123456", False),  # the list is compared case-insensitively
        ("P@ssw0rd1234", False),
    ],
)
def test_password_policy(app, password, ok):
    from app.security.passwords import password_problems

    with app.test_request_context():
        assert (password_problems(password, "zhangsan") == []) is ok


def test_policy_stated_once(app):
    """The minimum comes from config in one place; the form's help text, the list file and the docs say
    what the checks do."""
    import pathlib

    from app.security import passwords

    assert app.config["PASSWORD_MIN_LENGTH"] == 12
    assert "demo@2026" in passwords.common_passwords()
    with app.test_request_context():
        text = str(passwords.policy_text())
        assert "12" in text and "常见" in text and "原密码" in text
        app.config["PASSWORD_MIN_LENGTH"] = 14
        try:
            assert "14" in str(passwords.policy_text())
            assert passwords.password_problems("Abcdef1!xyzwq", None)  # 13 < 14
            assert len(passwords.one_time_password()) >= 14
        finally:
            app.config["PASSWORD_MIN_LENGTH"] = 12
    security = (pathlib.Path(app.root_path).parent / "docs" / "security.md").read_text(encoding="utf-8")
    assert "PASSWORD_MIN_LENGTH" in security and "common-passwords.txt" in security and "800-63B" in security


def test_password_form_states_the_policy_and_refuses_demo_and_reuse(app):
    username, password = make_department_user(app, "dept_policy_form")
    client = app.test_client()
    post_login(client, username, password)
    page = client.get("/account/password").get_data(as_text=True)
    with app.test_request_context():
        from app.security import passwords

        assert str(passwords.policy_text()) in page
    for new, message in [
        ("Demo@2026", "常见或已公开"),
        ("Short#1a", "密码长度至少 12 位"),
        (password, "密码长度至少"),  # the 10-character old password is too short as a new one
    ]:
        answer = client.post(
            "/account/password", data={"old_password": password, "new_password": new, "confirm_password": new}
        )
        assert answer.status_code == 200 and message in answer.get_data(as_text=True), new
    # the reuse rule: an account whose current password already meets the policy
    long_name, long_pw = make_department_user(app, "dept_policy_reuse", password="Reuse#Policy2026")
    other = app.test_client()
    post_login(other, long_name, long_pw)
    answer = other.post(
        "/account/password", data={"old_password": long_pw, "new_password": long_pw, "confirm_password": long_pw}
    ).get_data(as_text=True)
    assert "新密码不能与原密码相同" in answer


def test_wrong_current_password_counts_toward_the_login_lockout(app):
    username, password = make_department_user(app, "dept_change_guess")
    client = app.test_client()
    post_login(client, username, password)
    new = "Guessed#2026ab"
    answers = []
    for attempt in range(6):
        answers.append(
            client.post(
                "/account/password",
                data={"old_password": f"Guess#{attempt}", "new_password": new, "confirm_password": new},
            ).get_data(as_text=True)
        )
    assert "原密码不正确" in answers[0]
    assert "账号已锁定" in answers[4]  # the fifth wrong guess locks, as on the login page
    assert "账号已锁定" in answers[5]
    row = user_row(app, username)
    assert row.locked_until is not None and row.locked_until > clock.now()
    # while locked, even the right current password changes nothing, and the login is closed too
    locked = client.post(
        "/account/password", data={"old_password": password, "new_password": new, "confirm_password": new}
    ).get_data(as_text=True)
    assert "账号已锁定" in locked
    assert GENERIC in post_login(app.test_client(), username, password, follow=True).get_data(as_text=True)
    actions = audit_actions(app, username)
    # five wrong guesses on the form, then the refused login while locked
    assert actions.count("login_failed") == 6 and actions.count("lockout") == 1


def test_unknown_user_and_wrong_password_answer_the_same(app, client):
    username, _pw = make_department_user(app, "dept_same_msg")
    unknown = post_login(client, "no_such_user_x", "Whatever#1", follow=True).get_data(as_text=True)
    wrong = post_login(app.test_client(), username, "Wrong#Pass1", follow=True).get_data(as_text=True)
    assert GENERIC in unknown and GENERIC in wrong

    def timed(user):
        start = time.perf_counter()
        post_login(app.test_client(), user, "Wrong#Pass1")
        return time.perf_counter() - start

    t_unknown = min(timed("no_such_user_y") for _ in range(3))
    t_wrong = min(timed(username) for _ in range(3))
    # both pay one password-hash check; neither is an order of magnitude faster
    assert t_unknown > t_wrong / 3 and t_wrong > t_unknown / 3


def test_lockout_after_five_failures_and_its_end(app, monkeypatch):
    username, password = make_department_user(app, "dept_lockout")
    base = clock.now()
    monkeypatch.setattr(clock, "now", lambda: base)
    for _ in range(5):
        assert post_login(app.test_client(), username, "Wrong#Pass1").status_code == 302
    locked = user_row(app, username)
    assert locked.locked_until == base + timedelta(minutes=15)
    # the right password is refused while locked, with the same message
    client = app.test_client()
    html = post_login(client, username, password, follow=True).get_data(as_text=True)
    assert GENERIC in html and client.get("/dept/projects/list/").status_code == 302
    monkeypatch.setattr(clock, "now", lambda: base + timedelta(minutes=14, seconds=59))
    assert post_login(app.test_client(), username, password).location.endswith("/login/")
    monkeypatch.setattr(clock, "now", lambda: base + timedelta(minutes=15, seconds=1))
    client = app.test_client()
    assert post_login(client, username, password).location == "/"
    assert client.get("/dept/projects/list/").status_code == 200
    actions = audit_actions(app, username)
    assert actions.count("lockout") == 1 and actions[-1] == "login"


def test_failures_spread_over_more_than_fifteen_minutes_do_not_lock(app, monkeypatch):
    username, password = make_department_user(app, "dept_window")
    base = clock.now()
    for i in range(6):
        monkeypatch.setattr(clock, "now", lambda i=i: base + timedelta(minutes=4 * i))
        post_login(app.test_client(), username, "Wrong#Pass1")
    assert user_row(app, username).locked_until is None


def test_admin_unlocks(app, as_user, monkeypatch):
    username, password = make_department_user(app, "dept_unlock")
    for _ in range(5):
        post_login(app.test_client(), username, "Wrong#Pass1")
    user = user_row(app, username)
    assert user.locked_until is not None
    admin = as_user("admin")
    assert "锁定至" in admin.get("/admin/accounts/?q=dept_unlock").get_data(as_text=True)
    admin.post(f"/admin/accounts/{user.id}/unlock")
    assert user_row(app, username).locked_until is None
    assert post_login(app.test_client(), username, password).location == "/"
    assert "unlock" in audit_actions(app, username)


def test_first_login_change_enforced_on_every_page_until_done(app):
    username, password = make_department_user(app, "dept_first", changed=False)
    client = app.test_client()
    post_login(client, username, password)
    for url in ["/", "/dept/projects/list/", "/enterprises/list/", "/insured-projects/list/", "/users/userinfo/"]:
        response = client.get(url)
        assert response.status_code == 302 and response.location.endswith("/account/password"), url
    page = client.get("/account/password").get_data(as_text=True)
    assert "请先修改密码" in page
    # the policy holds on the change page
    bad = client.post(
        "/account/password", data={"old_password": password, "new_password": "short", "confirm_password": "short"}
    ).get_data(as_text=True)
    assert "密码长度至少" in bad
    wrong_old = client.post(
        "/account/password",
        data={"old_password": "nope", "new_password": "Better#2026a", "confirm_password": "Better#2026a"},
    ).get_data(as_text=True)
    assert "原密码不正确" in wrong_old
    assert client.get("/dept/projects/list/").status_code == 302
    done = client.post(
        "/account/password",
        data={"old_password": password, "new_password": "Better#2026a", "confirm_password": "Better#2026a"},
    )
    assert done.status_code == 302
    assert client.get("/dept/projects/list/").status_code == 200
    assert "password_change" in audit_actions(app, username)
    assert post_login(app.test_client(), username, "Better#2026a").location == "/"


def test_password_older_than_max_age_must_be_changed(app, monkeypatch):
    username, password = make_department_user(app, "dept_aged")
    client = app.test_client()
    post_login(client, username, password)
    assert client.get("/dept/projects/list/").status_code == 200
    later = clock.now() + timedelta(days=91)
    monkeypatch.setattr(clock, "now", lambda: later)
    client = app.test_client()
    post_login(client, username, password)
    assert client.get("/dept/projects/list/").location.endswith("/account/password")


def test_admin_creates_department_account_with_one_time_password(app, as_user):
    from app.extensions import db
    from app.models import AppUser

    with app.app_context():
        dept_id = db.session.query(AppUser).filter_by(username="dept_harbin").one().department_id
    admin = as_user("admin")
    bad = admin.post("/admin/accounts/new", data={"department_id": "", "username": "x", "full_name": ""})
    assert "请选择职能部门" in bad.get_data(as_text=True)
    response = admin.post(
        "/admin/accounts/new", data={"department_id": dept_id, "username": "dept_new_harbin", "full_name": "新用户"}
    )
    assert response.headers["Cache-Control"].startswith("no-store")
    html = response.get_data(as_text=True)
    password = html.split('id="otp-password">')[1].split("<")[0]
    dup = admin.post(
        "/admin/accounts/new", data={"department_id": dept_id, "username": "dept_new_harbin", "full_name": "重复"}
    )
    assert "用户名已存在" in dup.get_data(as_text=True)
    client = app.test_client()
    assert post_login(client, "dept_new_harbin", password).location == "/"
    assert client.get("/dept/projects/list/").location.endswith("/account/password")
    assert user_row(app, "dept_new_harbin").must_change_password
    assert "account_create" in audit_actions(app, "dept_new_harbin")


def test_deactivated_account_cannot_log_in_and_is_signed_out(app, as_user):
    username, password = make_department_user(app, "dept_deactivate")
    client = app.test_client()
    post_login(client, username, password)
    assert client.get("/dept/projects/list/").status_code == 200
    user = user_row(app, username)
    admin = as_user("admin")
    admin.post(f"/admin/accounts/{user.id}/deactivate")
    assert client.get("/dept/projects/list/").status_code == 302
    assert GENERIC in post_login(app.test_client(), username, password, follow=True).get_data(as_text=True)
    admin.post(f"/admin/accounts/{user.id}/activate")
    assert post_login(app.test_client(), username, password).location == "/"
    actions = audit_actions(app, username)
    assert "account_deactivate" in actions and "account_activate" in actions


def make_insurer_user(app, username, password="Insurer#2026x"):
    """A certificate-role account (an insurer's staff) that also has a password, not a demo account."""
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import AppUser, InsuranceCompany

    with app.app_context():
        sm = app.appbuilder.sm
        company = db.session.query(InsuranceCompany).filter_by(kind="insurer").first()
        db.session.add(
            AppUser(
                username=username,
                first_name="测试",
                last_name="保险",
                email=f"{username}@example.invalid",
                active=True,
                roles=[sm.find_role("Insurer")],
                password=generate_password_hash(password),
                party_kind="insurer",
                company_id=company.id,
                password_changed_at=clock.now(),
                created_on=clock.now(),
                changed_on=clock.now(),
            )
        )
        db.session.commit()
    return username, password


def _flashes(html):
    import re

    return re.findall(r'<div class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S)


def test_certificate_roles_refused_by_password_without_demo_mode(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEMO_MODE", False)
    client = app.test_client()
    html = post_login(client, "insurer_picc", DEMO_PASSWORD, follow=True).get_data(as_text=True)
    assert GENERIC in html and "CA数字证书登录。" not in "".join(_flashes(html))
    assert client.get("/applications/list/").status_code != 200
    assert "演示模式" not in client.get("/login/").get_data(as_text=True)
    # departments and the administrator still use passwords
    assert post_login(app.test_client(), "dept_harbin", DEMO_PASSWORD).location == "/"


def test_certificate_account_right_password_answers_like_a_wrong_one_and_counts(app, monkeypatch):
    """No oracle: with password login off for it, a certificate account's right password gets exactly the
    wrong password's answer, and each attempt counts toward the lockout."""
    monkeypatch.setitem(app.config, "DEMO_MODE", False)
    username, password = make_insurer_user(app, "insurer_oracle_probe")
    base = clock.now()
    monkeypatch.setattr(clock, "now", lambda: base)
    answers = []
    for attempt in (password, "Wrong#Pass1"):
        client = app.test_client()
        response = post_login(client, username, attempt)
        page = client.get(response.location).get_data(as_text=True)
        answers.append((response.status_code, response.location, _flashes(page)))
    assert answers[0] == answers[1], answers
    assert any(GENERIC in f for f in answers[0][2])
    assert user_row(app, username).fail_login_count == 2
    for _ in range(3):  # the right password, three more times: the fifth failure locks the account
        post_login(app.test_client(), username, password)
    assert user_row(app, username).locked_until == base + timedelta(minutes=15)
    actions = audit_actions(app, username)
    assert actions.count("login_failed") == 5 and "lockout" in actions and "login" not in actions
    # the demo switch still lets a demo account of a certificate role in, and only a demo account
    monkeypatch.setitem(app.config, "DEMO_MODE", True)
    monkeypatch.setattr(clock, "now", lambda: base + timedelta(minutes=16))
    assert post_login(app.test_client(), username, password).location.endswith("/login/")
    assert post_login(app.test_client(), "insurer_picc", DEMO_PASSWORD).location == "/"


def test_demo_mode_lets_demo_accounts_of_certificate_roles_in(app, client):
    page = client.get("/login/").get_data(as_text=True)
    assert "演示模式" in page and "insurer_picc" in page and DEMO_PASSWORD in page
    assert post_login(client, "insurer_picc", DEMO_PASSWORD).location == "/"


def test_login_pages_not_cached_and_audit_recorded(app, client):
    response = client.get("/login/")
    assert response.headers["Cache-Control"].startswith("no-store")
    post_login(client, "no_such_user_audit", "Wrong#Pass1")
    from app.extensions import db
    from app.models import AuditEvent

    with app.app_context():
        event = db.session.query(AuditEvent).filter_by(username="no_such_user_audit").one()
        assert event.action == "login_failed" and event.result == "fail" and event.ip == "127.0.0.1"


def test_audit_search_page(app, as_user):
    admin = as_user("admin")
    html = admin.get("/admin/audit/list/?_flt_0_username=admin").get_data(as_text=True)
    assert "安全审计" in html and "登录" in html and "成功" in html
    assert as_user("dept_harbin").get("/admin/accounts/").status_code in (302, 403)


@pytest.fixture(scope="module")
def second_app(app):
    """Another app on the same database, as another worker process would be (limiter switched on)."""
    from app import create_app

    other = create_app(dict(app.config["AZX_TEST_CONFIG"], RATELIMIT_ENABLED=True))
    yield other
    with other.app_context():
        from app.extensions import db

        db.session.remove()


@pytest.mark.commits  # a second app on the same database: another connection
def test_login_rate_limited(second_app):
    client = second_app.test_client()
    codes = [post_login(client, "rate_limit_probe", "Wrong#Pass1").status_code for _ in range(12)]
    assert codes[0] == 302 and codes[-1] == 429


@pytest.mark.commits  # a second app on the same database: another connection
def test_lockout_holds_across_workers(app, second_app):
    username, password = make_department_user(app, "dept_two_workers")
    for _ in range(5):
        post_login(app.test_client(), username, "Wrong#Pass1")
    other = second_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.9.9.9"  # not the address the rate-limit test used up
    assert post_login(other, username, password).location.endswith("/login/")
    assert other.get("/dept/projects/list/").status_code == 302


def test_production_config_cookie_flags(monkeypatch):
    from flask import Flask

    from config import load_config

    monkeypatch.setenv("AZX_ENV", "production")
    monkeypatch.setenv("DEMO_MODE", "1")
    flask_app = Flask("probe")
    load_config(flask_app, {"SECRET_KEY": "x"})
    cfg = flask_app.config
    assert cfg["SESSION_COOKIE_SECURE"] and cfg["SESSION_COOKIE_HTTPONLY"] and cfg["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert cfg["DEMO_MODE"] is False and cfg["WTF_CSRF_ENABLED"] and cfg["AUTH_RATE_LIMITED"]
    assert cfg["FAB_SAFE_REDIRECT_HOSTS"]


def test_fab_password_forms_use_the_policy(app):
    from wtforms.validators import ValidationError

    with app.test_request_context():
        validator = app.config["FAB_PASSWORD_COMPLEXITY_VALIDATOR"]
        with pytest.raises(ValidationError):
            validator("weakpass")
        validator("Strong#2026ab")


def test_password_api_closed_to_certificate_roles_without_demo_mode(app, monkeypatch):
    body = {"username": "insurer_picc", "password": DEMO_PASSWORD, "provider": "db"}
    answer = app.test_client().post("/api/v1/security/login", json=body)
    assert answer.status_code == 200 and answer.json["access_token"].count(".") == 2  # a JWT
    monkeypatch.setitem(app.config, "DEMO_MODE", False)
    assert app.test_client().post("/api/v1/security/login", json=body).status_code == 401
