"""One rule per field: one bad value of each kind goes through every path that takes it — the
enterprise's own forms, FAB's generated forms under 基础数据, the REST API and the registry import — and
each refuses it naming the field, with the message of app/validators.py, and saves nothing."""

import pytest
from factories.api import build_world, jwt_headers
from sqlalchemy import func, select

from app.extensions import db
from app.models import Claim, Enterprise, Plan, PreventionOrg, Project
from app.services import registry_import
from app.validators import (
    ValidationError,
    validate_credit_code,
    validate_date,
    validate_email,
    validate_mobile,
    validate_money,
    validate_rate,
    validate_region_code,
)

BAD = {
    "credit_code": "91230103100000017W",  # the wrong check character of the issue
    "mobile": "1381234567",
    "email": "not-an-address",
    "region": "99999",
    "money": "-1.5",
    "money_places": "12.345",
    "date": "2026-13-01",
    "rate": "5",
}


def _message(fn, value):
    with pytest.raises(ValidationError) as caught:
        fn(value)
    return str(caught.value.message)


def _count(model):
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _enterprise_form():
    return {
        "name": "黑龙江规则测试建筑有限公司",
        "region_code": "230102",
        "registered_address": "哈尔滨市道里区",
        "business_address": "哈尔滨市道里区",
        "contact_name": "张三",
        "contact_mobile": "13812345678",
        "contact_email": "zhangsan@example.com",
        "legal_name": "李四",
        "legal_mobile": "13912345678",
        "business_scope": "房屋建筑工程施工",
    }


def _project_form():
    return {
        "region_code": "230102",
        "project_code": "RULE-TEST-0001",
        "name": "规则测试项目",
        "investment": "1200",
        "builder_name": "规则测试建设单位",
        "address": "哈尔滨市道里区",
        "planned_start": "2026-03-01",
        "planned_end": "2026-12-01",
    }


# (path, field, bad kind, where the message goes, the value set)
FORM_CASES = [
    ("my_enterprise", "contact_mobile", "mobile"),
    ("my_enterprise", "contact_email", "email"),
    ("my_enterprise", "region_code", "region"),
    ("my_enterprise", "region_code", None),  # required stays required
    ("project", "investment", "money"),
    ("project", "investment", "money_places"),
    ("project", "planned_start", "date"),
    ("project", "region_code", None),
]


@pytest.mark.parametrize("path,field,kind", FORM_CASES)
def test_enterprise_forms_refuse_naming_the_field(app, as_user, path, field, kind):
    client = as_user("enterprise_demo")
    data = _enterprise_form() if path == "my_enterprise" else _project_form()
    data[field] = BAD[kind] if kind else ""
    url = "/my/enterprise/edit" if path == "my_enterprise" else "/projects/add"
    with app.app_context():
        before = _count(Project), db.session.query(Enterprise.name).filter_by(name=data["name"]).count()
    response = client.post(url, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, response.status_code
    with app.test_request_context():
        expected = {
            "mobile": lambda: _message(validate_mobile, BAD["mobile"]),
            "email": lambda: _message(validate_email, BAD["email"]),
            "region": lambda: _message(lambda v: validate_region_code(v, session=db.session), BAD["region"]),
            "money": lambda: _message(validate_money, BAD["money"]),
            "money_places": lambda: _message(validate_money, BAD["money_places"]),
            "date": lambda: _message(validate_date, BAD["date"]),
            None: lambda: "请填写",
        }[kind]()
    assert expected in html, (field, expected)
    assert f'name="{field}"' in html  # the form comes back, with what was typed
    with app.app_context():
        after = _count(Project), db.session.query(Enterprise.name).filter_by(name=data["name"]).count()
    assert after == before


def _fab_form(model):
    if model is Enterprise:
        return {"name": "规则测试企业", "credit_code": "91230103MA1C0Y0Q8G", "region": "230102"}
    if model is PreventionOrg:
        return {"name": "规则测试机构", "credit_code": "91230103MA1C0Y0Q8G", "region": "230102"}
    return {
        "code": "Z",
        "name": "规则测试方案",
        "death_limit": "500000",
        "medical_limit": "50000",
        "rate": "0.0015",
        "min_premium": "0",
        "effective_from": "2026-01-01",
        "effective_to": "",
    }


ADMIN_CASES = [
    ("/admin/enterprises", Enterprise, "credit_code", "credit_code"),
    ("/admin/enterprises", Enterprise, "region", None),  # the issue: no enterprise without 行政区划
    ("/admin/enterprises", Enterprise, "contact_mobile", "mobile"),
    ("/admin/orgs", PreventionOrg, "credit_code", "credit_code"),
    ("/admin/orgs", PreventionOrg, "region", None),
    ("/admin/plans", Plan, "death_limit", "money"),
    ("/admin/plans", Plan, "min_premium", "money_places"),
    ("/admin/plans", Plan, "rate", "rate"),
    ("/admin/plans", Plan, "effective_to", "before"),
]


@pytest.mark.parametrize("route,model,field,kind", ADMIN_CASES)
def test_fab_reference_forms_use_the_same_rules(app, as_user, route, model, field, kind):
    client = as_user("admin")
    data = _fab_form(model)
    if kind == "before":
        data[field] = "2025-01-01"
    else:
        data[field] = BAD[kind] if kind else ""
    with app.app_context():
        before = _count(model)
    response = client.post(route + "/add", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200  # the form again, not a redirect to the list
    with app.test_request_context():
        expected = {
            "credit_code": lambda: _message(validate_credit_code, BAD["credit_code"]),
            "mobile": lambda: _message(validate_mobile, BAD["mobile"]),
            "money": lambda: _message(validate_money, BAD["money"]),
            "money_places": lambda: _message(validate_money, BAD["money_places"]),
            "rate": lambda: _message(validate_rate, BAD["rate"]),
            "before": lambda: "终止日期不能早于开始日期",
            None: lambda: "必填",
        }[kind]()
    assert expected in html, (field, expected)
    with app.app_context():
        assert _count(model) == before


def test_fab_enterprise_form_accepts_a_good_row(app, as_user):
    client = as_user("admin")
    response = client.post("/admin/enterprises/add", data=_fab_form(Enterprise))
    assert response.status_code == 302
    with app.app_context():
        row = db.session.query(Enterprise).filter_by(name="规则测试企业").one()
        assert row.region_code == "230102"


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


API_CASES = [
    ("estimated_loss", "money", {"submitted_date": "2026-03-01"}),
    ("estimated_loss", "money_places", {"submitted_date": "2026-03-01"}),
    ("submitted_date", "date", {}),
]


@pytest.mark.parametrize("field,kind,rest", API_CASES)
def test_api_uses_the_same_money_and_date_rules(app, client, world, field, kind, rest):
    headers = jwt_headers(client, "insurer_picc")
    with app.app_context():
        before = _count(Claim)
    body = dict(rest, **{field: BAD[kind]})
    r = client.post(f"/api/v1/policies/{world['A']['Policy']}/claims", headers=headers, json=body)
    assert r.status_code == 422 and field in r.json["errors"], r.json
    with app.test_request_context():
        fn = validate_date if kind == "date" else validate_money
        assert _message(fn, BAD[kind]) in r.json["errors"][field][0]
    with app.app_context():
        assert _count(Claim) == before


REGISTRY_CASES = [("credit_code", "credit_code"), ("region_code", "region"), ("region_code", None)]


@pytest.mark.parametrize("field,kind", REGISTRY_CASES)
def test_registry_import_uses_the_same_rules(app, field, kind):
    row = {
        "row": 2,
        "project_code": "RULE-REG-0001",
        "name": "规则测试登记项目",
        "region_code": "230102",
        "enterprise_name": "规则测试企业",
        "credit_code": "91230103MA1C0Y0Q8G",
        "investment": "100",
        "valid": "是",
    }
    for extra in registry_import.COLUMNS:
        row.setdefault(extra[0], "")
    row[field] = BAD[kind] if kind else ""
    with app.test_request_context():
        errors, _warnings = registry_import.validate([row], known_regions={"230102"})
        if kind == "credit_code":
            expected = _message(validate_credit_code, BAD["credit_code"])
        elif kind == "region":
            expected = _message(validate_region_code, BAD["region"])
        else:
            expected = "请填写"
    assert any(expected in m for m in errors[0]), errors


CLAIM_CASES = [
    ({"injured_count": "x"}, "injured_count", "请输入整数"),
    ({"death_count": "-1"}, "death_count", "须在 0 至 100000 之间"),
    ({"settled_amount": "100"}, "settled_date", "填写已决金额时请选择已决日期"),
    ({"estimated_loss": "12.345"}, "estimated_loss", "最多两位小数"),
]


@pytest.mark.parametrize("body,field,message", CLAIM_CASES)
def test_claim_form_and_api_read_one_schema(app, client, as_user, world, body, field, message):
    """理赔 on the page and through the API: the same value is refused with the same message, naming the
    same field (app/services/commands.ClaimSchema), and nothing is saved either way."""
    policy_id = world["A"]["Policy"]
    with app.app_context():
        before = _count(Claim)
    page = as_user("insurer_picc").post(f"/policies/{policy_id}/claims/add", data=body)
    assert page.status_code == 200 and message in page.get_data(as_text=True)
    api = client.post(f"/api/v1/policies/{policy_id}/claims", headers=jwt_headers(client, "insurer_picc"), json=body)
    assert api.status_code == 422 and api.json["errors"][field] == [message], api.json
    with app.app_context():
        assert _count(Claim) == before
