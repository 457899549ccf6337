"""Workflow rows change only through the services: FAB's generic add / edit / delete forms are not
served on read-only or workflow views — not even to the platform admin, who holds every permission
FAB creates."""

import pytest

from app.extensions import db
from app.views.base import ScopedModelView


def _views(app):
    return [v for v in app.appbuilder.baseviews if isinstance(v, ScopedModelView)]


def test_views_hold_only_the_permissions_their_methods_use(app):
    for view in _views(app):
        mapped = {"can_" + name for name in view.method_permission_name.values()}
        for method in ("add", "edit", "delete"):
            if method not in view.method_permission_name:
                assert "can_" + method not in set(view.base_permissions) - mapped, (type(view).__name__, method)


@pytest.mark.parametrize("method", ["add", "edit", "delete"])
def test_admin_gets_no_generic_form_on_workflow_views(app, as_user, method):
    from app.models import DispatchOrder

    client = as_user("admin")
    with app.app_context():
        order_id, status, version = (
            db.session.query(DispatchOrder.id, DispatchOrder.status, DispatchOrder.version)
            .order_by(DispatchOrder.id)
            .first()
        )
        db.session.remove()
    assert order_id is not None
    checked = 0
    for view in _views(app):
        if method in view.method_permission_name:
            continue
        url = f"{view.route_base}/{method}" + ("" if method == "add" else f"/{order_id}")
        for verb in ("get", "post"):
            response = getattr(client, verb)(url, data={"status": "completed"})
            assert response.status_code in (302, 403, 404), (url, verb, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], (url, response.headers["Location"])
        checked += 1
    assert checked >= 10
    with app.app_context():
        row = db.session.get(DispatchOrder, order_id)
        assert (row.status, row.version) == (status, version)
        db.session.remove()
