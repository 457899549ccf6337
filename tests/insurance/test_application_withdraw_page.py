"""撤回 through the page: the enterprise's 投保详情 of a 待复审 application offers it, the POST takes the
application back to 草稿 (the insurer no longer lists it), and nobody else may press it."""

from factories import insurance as f

from app.extensions import db
from app.models import Application


def test_enterprise_withdraws_a_pending_application(app, as_user):
    with app.app_context():
        made = f.make_application("pending_review")
        app_id, name = made.id, made.project.name
        db.session.remove()
    enterprise = as_user("enterprise_demo")
    page = enterprise.get(f"/applications/show/{app_id}").get_data(as_text=True)
    assert f"/applications/{app_id}/withdraw" in page and "撤回" in page
    insurer = as_user("insurer_picc")
    assert insurer.post(f"/applications/{app_id}/withdraw").status_code == 403  # not the insurer's button
    response = enterprise.post(f"/applications/{app_id}/withdraw")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Application, app_id).status == "draft"
    listed = insurer.get("/applications/list/?project=" + name).get_data(as_text=True)
    assert f'<tr data-id="{app_id}"' not in listed  # drafts are the enterprise's own
    again = enterprise.post(f"/applications/{app_id}/withdraw", follow_redirects=True).get_data(as_text=True)
    assert "当前状态不允许此操作" in again  # a draft cannot be withdrawn
