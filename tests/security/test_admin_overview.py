"""The platform administrator lands on 平台概览: accounts per role and party, the parties, recent
sign-ins and imports, links to users, roles and every 基础数据 page. Other roles still land on their
first menu page."""

from app.extensions import db
from app.models import AppUser, Enterprise


def test_admin_lands_on_the_platform_overview(app, as_user):
    client = as_user("admin")
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="platform-overview"' in html
    assert "当前账号未绑定建筑施工企业" not in html
    with app.app_context():
        enterprises = db.session.query(Enterprise).count()
        accounts = db.session.query(AppUser).count()
    assert f"<td>建筑施工企业</td><td>{enterprises}</td>" in html
    roles_table = html.split('id="overview-roles"')[1].split("</table>")[0]
    assert "<td>Admin</td>" in roles_table and "<td>Enterprise</td>" in roles_table
    accounts_table = html.split('id="overview-accounts"')[1].split("</table>")[0]
    assert sum(int(n) for n in __import__("re").findall(r"<td>(\d+)</td>", accounts_table)) == accounts
    assert "<td>admin</td>" in html.split('id="overview-sign-ins"')[1]  # this very sign-in
    links = html.split('id="overview-links"')[1].split("</ul>")[0]
    for url in ("/users/list/", "/roles/list/", "/admin/enterprises/list/", "/admin/plans/list/", "/registry/list/"):
        assert url in links, url
    for label in ("用户", "角色", "建筑施工企业", "投保方案"):
        assert f">{label}</a>" in links, label


def test_other_roles_still_land_on_their_menu(as_user):
    response = as_user("enterprise_demo").get("/")
    assert response.status_code == 302 and "/my/enterprise" in response.location
