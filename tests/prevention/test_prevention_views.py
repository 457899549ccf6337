"""The prevention pages through HTTP, role by role: lists with the manual's columns and buttons,
dispatch, search and export, 同意/拒绝, the expert's phone page, rectification, review, reports,
专业技术人员; out-of-scope rows answer 404 and bad input shows a message and saves nothing."""

import io
from datetime import date, timedelta

from factories.pdf import pdf_accessibility
from factories.prevention import (  # noqa: F401  (ctx and as_user are fixtures)
    as_user,
    ctx,
    jpeg_bytes,
    make_policy,
    order_data,
    order_in,
    user,
)
from openpyxl import load_workbook

from app import clock


def _html(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _status(oid):
    from app.extensions import db
    from app.models import DispatchOrder

    db.session.expire_all()
    return db.session.get(DispatchOrder, oid).status


def test_insured_projects_dispatch_many_through_the_form(ctx, as_user):
    from app.extensions import db
    from app.models import DispatchOrder

    p1, p2 = make_policy(), make_policy()
    client = as_user("insurer_picc")
    html = _html(client.get("/insured-projects/list/"))
    assert 'name="id"' in html and p1.policy_no in html and "事故预防状态" in html and "未派单" in html
    form = _html(client.get(f"/insured-projects/dispatch?id={p1.id}&id={p2.id}"))
    assert p1.project_name in form and p2.project_name in form and "服务内容" in form
    data = order_data()
    post = dict(
        id=[str(p1.id), str(p2.id)],
        target=f"org:{data['org_id']}",
        service_item_ids=[str(i) for i in data["service_item_ids"]],
        service_place=data["service_place"],
        start_date=data["start_date"],
        end_date=data["end_date"],
        deadline=data["deadline"],
        required_title_id=str(data["required_title_id"]),
        fee="500",
    )
    # dates out of order: the form comes back with the message, nothing is saved
    bad = client.post(
        "/insured-projects/dispatch", data=dict(post, end_date=(clock.today() - timedelta(days=3)).isoformat())
    )
    assert "结束日期不能早于开始日期" in _html(bad)
    assert db.session.query(DispatchOrder).filter(DispatchOrder.policy_id.in_([p1.id, p2.id])).count() == 0
    ok = client.post("/insured-projects/dispatch", data=post)
    assert ok.status_code == 302 and "/orders/list" in ok.headers["Location"]
    orders = db.session.query(DispatchOrder).filter(DispatchOrder.policy_id.in_([p1.id, p2.id])).all()
    assert len(orders) == 2 and {o.status for o in orders} == {"pending"}
    listing = _html(client.get("/insured-projects/list/"))
    assert "未接单" in listing
    flow = _html(client.get(f"/insured-projects/flow/{p1.id}"))
    for header in ("派单号", "承接单位", "联络人", "电话", "服务类型", "截止日期", "状态"):
        assert header in flow
    assert orders[0].order_no in flow or orders[1].order_no in flow
    detail = _html(client.get(f"/insured-projects/show/{p1.id}"))
    assert "事故预防服务状态" in detail and "未接单" in detail and p1.policy_no in detail


def test_dispatch_form_ignores_policies_of_another_insurer(ctx, as_user):
    foreign = make_policy(insurer="平安财险", enterprise_user=None)
    client = as_user("insurer_picc")
    response = client.get(f"/insured-projects/dispatch?id={foreign.id}")
    assert response.status_code == 302  # nothing selectable: back to the list
    assert foreign.project_name not in _html(client.get("/insured-projects/list/"))


def test_order_management_search_by_status_label_and_export(ctx, as_user):
    refused, _p, _h = order_in("refused")
    pending, _p, _h = order_in("pending")
    from app.extensions import db
    from app.models import DispatchOrder

    refused_no = db.session.get(DispatchOrder, refused).order_no
    pending_no = db.session.get(DispatchOrder, pending).order_no
    client = as_user("insurer_picc")
    html = _html(client.get("/orders/list/?_flt_0_status=被拒回&psize_DispatchOrderView=100"))
    assert refused_no in html and pending_no not in html
    assert "再派单" in html
    export = client.get("/orders/export/?_flt_0_status=被拒回")
    assert export.status_code == 200
    rows = list(load_workbook(io.BytesIO(export.get_data())).active.iter_rows(values_only=True))[2:]
    assert rows[0][:3] == ("派单号", "项目名称", "项目代码")
    numbers = [r[0] for r in rows[1:]]
    assert refused_no in numbers and pending_no not in numbers
    assert {r[13] for r in rows[1:]} == {"被拒回"}
    csv = client.get("/orders/export/?fmt=csv&_flt_0_order_no=" + pending_no)
    assert pending_no in csv.get_data().decode("utf-8-sig")
    # the org's export holds only the orders dispatched to it; another insurer's holds none of these
    other = as_user("insurer_pingan").get("/orders/export/?fmt=csv").get_data().decode("utf-8-sig")
    assert refused_no not in other and pending_no not in other


def test_redispatch_page(ctx, as_user):
    oid, pid, _h = order_in("timeout")
    client = as_user("insurer_picc")
    assert "再派单" in _html(client.get(f"/orders/redispatch/{oid}"))
    data = order_data()
    response = client.post(
        f"/orders/redispatch/{oid}",
        data=dict(
            target=f"org:{data['org_id']}",
            service_item_ids=[str(i) for i in data["service_item_ids"]],
            service_place=data["service_place"],
            start_date=data["start_date"],
            end_date=data["end_date"],
            deadline=data["deadline"],
            fee="0",
        ),
    )
    assert response.status_code == 302
    assert _status(oid) == "redispatched"


def test_org_received_list_accept_refuse_and_assign(ctx, as_user):
    oid, _p, _h = order_in("pending")
    oid2, _p, _h = order_in("pending")
    client = as_user("org_demo")
    html = _html(client.get("/org/received/list/?psize_ReceivedOrderView=100"))
    for header in ("项目名称", "项目代码", "截止日期", "服务项目", "状态", "操作"):
        assert header in html
    assert f"/org/received/accept/{oid}" in html and f"/org/received/refuse/{oid}" in html
    assert client.post(f"/org/received/accept/{oid}").status_code == 302
    assert _status(oid) == "accepted"
    html = _html(client.get("/org/received/list/?psize_ReceivedOrderView=100"))
    assert f"/orders/assign/{oid}" in html
    # 拒绝 without a reason: a message, the order stays
    assert "请填写意见" in _html(
        client.post(f"/org/received/refuse/{oid2}", data={"reason": ""}, follow_redirects=True)
    )
    assert _status(oid2) == "pending"
    client.post(f"/org/received/refuse/{oid2}", data={"reason": "区域外项目"})
    assert _status(oid2) == "refused"
    page = _html(client.get(f"/orders/assign/{oid}"))
    assert "王建国" in page
    client.post(f"/orders/assign/{oid}", data={"expert_id": str(user("expert_demo").expert_id)})
    assert _status(oid) == "assigned"
    flow = _html(client.get(f"/org/received/flow/{oid}"))
    assert "指派专家 王建国" in flow and "同意" in flow


def test_out_of_scope_orders_answer_404(ctx, as_user):
    from app.extensions import db
    from app.models import PreventionOrg
    from app.services import orders

    other_org = db.session.query(PreventionOrg).filter_by(name="测试第二事故预防机构").first()
    if other_org is None:
        other_org = PreventionOrg(name="测试第二事故预防机构", region_code="230102")
        db.session.add(other_org)
        db.session.commit()
    [order] = orders.dispatch(
        user("insurer_picc"), [make_policy(enterprise_user=None).id], order_data(org_id=other_org.id)
    )
    oid = order.id
    org = as_user("org_demo")
    for url in (
        f"/org/received/show/{oid}",
        f"/org/received/flow/{oid}",
        f"/orders/show/{oid}",
        f"/orders/assign/{oid}",
        f"/org/received/refuse/{oid}",
    ):
        assert org.get(url).status_code == 404, url
    assert org.post(f"/org/received/accept/{oid}").status_code in (302, 404)
    assert _status(oid) == "pending"
    assert as_user("insurer_pingan").get(f"/orders/show/{oid}").status_code == 404
    assert as_user("expert_demo").get(f"/expert/todo/handle/{oid}").status_code == 404
    assert as_user("enterprise_demo").get(f"/enterprise/todo/show/{oid}").status_code == 404
    assert as_user("dept_harbin").get(f"/reports/show/{oid}").status_code == 404


def test_expert_phone_page_sign_in_and_submit(ctx, as_user):
    oid, _p, _h = order_in("assigned")
    client = as_user("expert_demo")
    todo = _html(client.get("/expert/todo/list/?psize_ExpertTodoView=100"))
    assert f"/expert/todo/accept/{oid}" in todo and f"/expert/todo/refuse/{oid}" in todo
    client.post(f"/expert/todo/accept/{oid}")
    assert _status(oid) == "in_service"
    page = _html(client.get(f"/expert/todo/handle/{oid}"))
    assert 'accept="image/*"' in page and 'capture="environment"' in page
    assert "js/expert-signin.js" in page and "data-located=" in page and "请先签到，再记录隐患和服务过程" in page
    assert 'id="azx-submit-form"' not in page  # 签到 first: the record, hazards and 提交报告 come after
    # submit before signing in (a crafted post): a message, still in service
    msg = _html(client.post(f"/expert/todo/submit/{oid}", follow_redirects=True))
    assert "请先在施工现场签到" in msg and _status(oid) == "in_service"
    # a photo without EXIF and no geolocation
    bad = client.post(
        f"/expert/todo/signin/{oid}",
        data={"photo": (io.BytesIO(jpeg_bytes()), "a.jpg")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "不含位置信息" in _html(bad)
    ok = client.post(
        f"/expert/todo/signin/{oid}",
        data={"photo": (io.BytesIO(jpeg_bytes(lat=45.75, lon=126.63)), "site.jpg"), "lat": "", "lon": ""},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = _html(ok)
    assert "签到成功" in html and "45.750000" in html and "照片定位" in html
    assert "提交报告" in html and 'id="azx-record-form"' in html and 'id="azx-hazard-form"' in html
    from app.extensions import db
    from app.models import HazardCategory

    cat = db.session.query(HazardCategory).filter_by(code="05").one()
    client.post(
        f"/expert/todo/hazard/{oid}",
        data={
            "level": "general",
            "category_id": str(cat.id),
            "description": "配电箱未上锁",
            "suggestion": "加锁并专人管理",
            "photos": [(io.BytesIO(jpeg_bytes()), "h1.jpg"), (io.BytesIO(jpeg_bytes(colour=(9, 9, 9))), "h2.jpg")],
        },
        content_type="multipart/form-data",
    )
    client.post(f"/expert/todo/save/{oid}", data={"service_record": "检查临时用电", "conclusion": "整改后合格"})
    done = client.post(f"/expert/todo/submit/{oid}")
    assert done.status_code == 302 and _status(oid) == "rectifying"
    assert oid and "配电箱未上锁" in _html(client.get(f"/expert/done/show/{oid}"))


def test_enterprise_rectifies_on_the_hazard_table(ctx, as_user):
    oid, _p, hids = order_in("rectifying")
    client = as_user("enterprise_demo")
    todo = _html(client.get("/enterprise/todo/list/?psize_EnterpriseTodoView=100"))
    assert f"/enterprise/todo/show/{oid}" in todo
    page = _html(client.get(f"/enterprise/todo/show/{oid}"))
    for header in ("序号", "级别", "隐患类别", "隐患描述", "整改建议", "整改情况", "验收信息", "更新时间"):
        assert header in page
    client.post(
        f"/enterprise/todo/rectify/{hids[0]}",
        data={"text": "已封闭作业井", "photos": [(io.BytesIO(jpeg_bytes()), "r.jpg")]},
        content_type="multipart/form-data",
    )
    client.post(f"/enterprise/todo/submit/{oid}")
    assert _status(oid) == "verifying"
    assert as_user("enterprise_demo2").get(f"/enterprise/todo/show/{oid}").status_code == 404
    expert = as_user("expert_demo")
    page = _html(expert.get(f"/expert/todo/handle/{oid}"))
    assert "验收合格" in page and "已封闭作业井" in page
    expert.post(f"/expert/todo/verify/{hids[0]}", data={"passed": "1", "note": ""})
    assert _status(oid) == "org_review"


def test_review_pages_and_reports(ctx, as_user):
    oid, _p, _h = order_in("org_review", hazards=0)
    org = as_user("org_demo")
    assert f"/report-review/review/{oid}" in _html(org.get("/report-review/list/?psize_ReportReviewView=100"))
    page = _html(org.get(f"/report-review/review/{oid}"))
    assert "审核意见" in page and "通过" in page
    assert "请填写审核意见" in _html(org.post(f"/report-review/review/{oid}", data={"verdict": "fail", "opinion": ""}))
    assert _status(oid) == "org_review"
    org.post(f"/report-review/review/{oid}", data={"verdict": "pass", "opinion": "合格"})
    assert _status(oid) == "insurer_review"
    insurer = as_user("insurer_picc")
    insurer.post(f"/report-review/review/{oid}", data={"verdict": "pass", "opinion": "同意"})
    assert _status(oid) == "completed"
    listing = _html(insurer.get("/reports/list/?psize_ReportView=100"))
    assert f"/reports/show/{oid}" in listing
    detail = _html(insurer.get(f"/reports/show/{oid}"))
    assert f"/reports/pdf/{oid}" in detail and "签到照片" in detail and "注册安全工程师" in detail
    pdf = insurer.get(f"/reports/pdf/{oid}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.get_data().startswith(b"%PDF")
    tags = pdf_accessibility(pdf.get_data())  # PDF/UA-1: tagged, titled, in the page's language
    assert tags["tagged"] and tags["pdfua"] == "1" and tags["lang"] == "zh-CN"
    assert tags["title"].startswith("事故预防服务报告") and tags["display_title"]
    dept = as_user("dept_province")
    assert f"/reports/show/{oid}" in _html(dept.get("/reports/list/?psize_ReportView=100"))
    assert dept.get(f"/reports/pdf/{oid}").status_code == 200
    assert as_user("insurer_pingan").get(f"/reports/pdf/{oid}").status_code == 404


def test_experts_add_validate_and_terminate(ctx, as_user):
    from app.demo.data import make_id_number
    from app.extensions import db
    from app.models import Expert, TitleLevel

    client = as_user("org_demo")
    senior = db.session.query(TitleLevel).filter_by(code="senior").one()
    good_id = make_id_number("230102", date(1985, 3, 4), 777)
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    form = dict(
        name="赵安全",
        mobile="13812345678",
        id_number=bad_id,
        title_level_id=str(senior.id),
        qualification="注册安全工程师",
        residence="哈尔滨市道里区",
        service_area="哈尔滨市",
    )
    html = _html(client.post("/experts/new", data=form))
    assert "身份证号校验位不正确" in html
    assert db.session.query(Expert).filter_by(name="赵安全").count() == 0
    response = client.post(
        "/experts/new",
        data=dict(form, id_number=good_id, id_file=(io.BytesIO(jpeg_bytes()), "id.jpg")),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    expert = db.session.query(Expert).filter_by(name="赵安全").one()
    assert expert.org_id == user("org_demo").org_id and expert.id_file is not None
    detail = _html(client.get(f"/experts/show/{expert.id}"))
    assert f"/files/{expert.id_file_id}/view" in detail and "注册安全工程师" in detail
    assert client.get(f"/files/{expert.id_file_id}").status_code == 200
    listing = _html(client.get("/experts/list/?psize_ExpertView=100"))
    assert f"/experts/terminate/{expert.id}" in listing
    assert as_user("insurer_pingan").post(f"/experts/terminate/{expert.id}").status_code in (302, 404)
    db.session.expire_all()
    assert db.session.get(Expert, expert.id).active
    assert "已与 赵安全 解约" in _html(client.post(f"/experts/terminate/{expert.id}", follow_redirects=True))
    db.session.expire_all()
    assert not db.session.get(Expert, expert.id).active
    oid, _p, _h = order_in("accepted")
    page = _html(client.get(f"/orders/assign/{oid}"))
    assert "赵安全" not in page


def test_order_list_has_no_per_row_queries(app, ctx, as_user):
    """A page of 20 orders costs the same number of statements as a page of 10."""
    from sqlalchemy import event

    from app.extensions import db
    from app.services import orders

    policies = [make_policy(premium="50000") for _ in range(20)]
    orders.dispatch(user("insurer_picc"), [p.id for p in policies], order_data(fee="0"))
    client = as_user("insurer_picc")
    engine = db.engine
    counts = {}
    for size in (10, 20):
        statements = []

        def count(conn, cursor, statement, *args, statements=statements):
            statements.append(statement)

        client.get(f"/orders/list/?psize_DispatchOrderView={size}")  # warm-up (permission cache)
        event.listen(engine, "before_cursor_execute", count)
        try:
            html = _html(client.get(f"/orders/list/?psize_DispatchOrderView={size}"))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert html.count('class="azx-ops"') == size
        counts[size] = len(statements)
    assert counts[20] == counts[10], counts
