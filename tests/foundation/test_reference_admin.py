"""Administrators edit every reference table through the generated views; others cannot."""

import pytest

from app.extensions import db
from app.models import Plan, Setting

ROUTES = [
    "/admin/regions",
    "/admin/companies",
    "/admin/plans",
    "/admin/float-rules",
    "/admin/service-items",
    "/admin/hazard-categories",
    "/admin/titles",
    "/admin/major-hazards",
    "/admin/orgs",
    "/admin/departments",
    "/admin/enterprises",
    "/admin/settings",
    "/registry",
    "/admin/flow",
    "/admin/audit",
]


@pytest.mark.parametrize("route", ROUTES)
def test_admin_lists_reference_data(app, as_user, route):
    response = as_user("admin").get(route + "/list/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    [view] = [v for v in app.appbuilder.baseviews if getattr(v, "route_base", None) == route]
    with app.test_request_context():
        labels = [str(view.label_columns.get(c, c)) for c in view.list_columns]
        model = view.datamodel.obj
        rows = db.session.query(model).count()
    assert str(view.list_title) in html
    if rows:  # a table with rows shows them under its columns' headers
        missing = [label for label in labels if label not in html]
        assert not missing, f"{route}: the list lacks its columns {missing}"
        assert html.count("<tr") > 1


@pytest.mark.parametrize("username", ["insurer_picc", "enterprise_demo", "dept_harbin", "expert_demo"])
def test_others_cannot_edit_reference_data(app, as_user, username):
    with app.app_context():
        plan_id = db.session.query(Plan.id).filter_by(code="A").scalar()
    client = as_user(username)
    response = client.post(f"/admin/plans/edit/{plan_id}", data={"name": "篡改"})
    assert response.status_code in (302, 403)
    with app.app_context():
        assert db.session.get(Plan, plan_id).name != "篡改"


def test_admin_edits_a_setting(app, as_user):
    client = as_user("admin")
    response = client.post(
        "/admin/settings/edit/prevention_fee_share",
        data={"key": "prevention_fee_share", "value": "0.20", "description": "事故预防费占保费比例"},
    )
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Setting, "prevention_fee_share").value == "0.20"
        db.session.get(Setting, "prevention_fee_share").value = "0.21"
        db.session.commit()
