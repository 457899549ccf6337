"""What each party must see to act (退回意见, 整改是否合格), the numbers as links, 再派单 from the refused
order, the org downloading the report it reviews, the expert's signed report, 签到 first: through the
pages and the services."""

import io
import re
import subprocess
import tempfile

import pytest
from factories.prevention import as_user, ctx, fresh_order, order_in, user  # noqa: F401  (fixtures)

from app.models.enums import OrderStatus as O


def _html(response):
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _row(html, order_no):
    """The list row holding ``order_no`` (its cells' text)."""
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*?" + re.escape(order_no) + r".*?</tr>", html, re.S)
    assert match, order_no
    return re.sub(r"<[^>]+>", " ", match.group(0))


# --- 3. why it came back --------------------------------------------------------------------------


def test_expert_reads_the_org_opinion_on_handle_and_in_todo(ctx, as_user):
    from app.services import reviews

    oid, _p, _h = order_in("org_review", hazards=0)
    reviews.review(oid, user("org_demo"), False, "服务过程记录不完整，请补充临时用电检查")
    order = fresh_order(oid)
    assert order.status == O.IN_SERVICE
    returned = order.latest_return
    assert returned.opinion == "服务过程记录不完整，请补充临时用电检查"
    assert order.org.name in returned.who and returned.at is not None
    client = as_user("expert_demo")
    handle = _html(client.get(f"/expert/todo/handle/{oid}"))
    assert 'id="azx-returned"' in handle and "服务过程记录不完整，请补充临时用电检查" in handle
    assert order.org.name in handle
    row = _row(_html(client.get("/expert/todo/list/?psize_ExpertTodoView=100")), order.order_no)
    assert "退回意见" in _html(client.get("/expert/todo/list/")) and "服务过程记录不完整" in row


def test_insurer_fail_is_the_latest_returning_opinion(ctx):
    from app.services import reviews, visits

    oid, _p, _h = order_in("org_review", hazards=0)
    reviews.review(oid, user("org_demo"), False, "机构意见")
    visits.submit_report(oid, user("expert_demo"))
    reviews.review(oid, user("org_demo"), True, "")
    reviews.review(oid, user("insurer_picc"), False, "请补充签到说明")
    order = fresh_order(oid)
    assert order.latest_return.opinion == "请补充签到说明" and order.insurer.name in order.latest_return.who


def test_no_returning_opinion_on_a_first_service(ctx):
    oid, _p, _h = order_in("in_service")
    assert fresh_order(oid).latest_return is None and fresh_order(oid).return_opinion == ""


def test_enterprise_reads_the_expert_return_on_rectify_and_in_todo(ctx, as_user):
    from app.services import visits

    oid, _p, hids = order_in("verifying", hazards=2)
    visits.verify(hids[0], user("expert_demo"), True, "")
    visits.verify(hids[1], user("expert_demo"), False, "防护栏高度不足1.2米")
    order = fresh_order(oid)
    assert order.status == O.RECTIFYING
    assert "防护栏高度不足1.2米" in order.latest_return.opinion and order.expert.name == order.latest_return.who
    client = as_user("enterprise_demo")
    page = _html(client.get(f"/enterprise/todo/show/{oid}"))
    assert 'id="azx-returned"' in page and "防护栏高度不足1.2米" in page
    row = _row(_html(client.get("/enterprise/todo/list/?psize_EnterpriseTodoView=100")), order.order_no)
    assert "防护栏高度不足1.2米" in row


# --- 4. 整改是否合格 -------------------------------------------------------------------------------


def test_done_lists_show_whether_the_rectification_passed(ctx, as_user):
    from app.services import visits

    passed, _p, _h = order_in("org_review", hazards=2)
    waiting, _p, hids = order_in("verifying", hazards=3)
    visits.verify(hids[0], user("expert_demo"), True, "")
    assert fresh_order(passed).rectification_result == "合格"
    assert fresh_order(waiting).rectification_result == "2 项未合格"
    html = _html(as_user("enterprise_demo").get("/enterprise/done/list/?psize_EnterpriseDoneView=100"))
    assert "整改是否合格" in html
    assert "合格" in _row(html, fresh_order(passed).order_no)
    assert "2 项未合格" in _row(html, fresh_order(waiting).order_no)
    expert = _html(as_user("expert_demo").get("/expert/done/list/?psize_ExpertDoneView=100"))
    assert "整改是否合格" in expert and "合格" in _row(expert, fresh_order(passed).order_no)


# --- 5. the numbers are links ---------------------------------------------------------------------


def _number_link_and_detail(html, number):
    """(href of the cell linking ``number``, href of the row's 详情 button)."""
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*?>" + re.escape(number) + r"<.*?</tr>", html, re.S)
    assert match, number
    row = match.group(0)
    link = re.search(r'<a href="([^"]+)">' + re.escape(number) + "</a>", row)
    detail = re.search(r'href="([^"]+)"[^>]*>详情</a>', row)
    assert link and detail, row
    return link.group(1), detail.group(1)


@pytest.mark.parametrize(
    "state, username, url, header",
    [
        ("pending", "insurer_picc", "/orders/list/?psize_DispatchOrderView=100", "派单号"),
        ("pending", "org_demo", "/org/received/list/?psize_ReceivedOrderView=100", "接单号"),
        ("assigned", "expert_demo", "/expert/todo/list/?psize_ExpertTodoView=100", "派单号"),
        ("rectifying", "enterprise_demo", "/enterprise/todo/list/?psize_EnterpriseTodoView=100", "派单号"),
        ("org_review", "org_demo", "/report-review/list/?psize_ReportReviewView=100", "派单号"),
        ("completed", "insurer_picc", "/reports/list/?psize_ReportView=100", "派单号"),
    ],
)
def test_order_numbers_open_the_same_detail_as_the_button(ctx, as_user, state, username, url, header):
    oid, _p, _h = order_in(state)
    number = fresh_order(oid).order_no
    client = as_user(username)
    html = _html(client.get(url))
    assert f">{header}<" in html or header in html
    link, detail = _number_link_and_detail(html, number)
    assert link == detail and link.endswith(f"/show/{oid}")
    assert number in _html(client.get(link))


@pytest.mark.parametrize(
    "username, url",
    [("insurer_picc", "/insured-projects/list/?psize_InsuredProjectView=100"), ("insurer_picc", "/ledger/list/")],
)
def test_policy_numbers_open_the_policy_detail(ctx, as_user, username, url):
    from factories.prevention import make_policy

    policy = make_policy()
    number, pid = policy.policy_no, policy.id
    client = as_user(username)
    html = _html(client.get(url))
    link = re.search(r'<a href="([^"]+)">' + re.escape(number) + "</a>", html)
    assert link and link.group(1).endswith(f"/show/{pid}")
    assert number in _html(client.get(link.group(1)))
    if "insured-projects" in url:
        assert _number_link_and_detail(html, number)[1] == link.group(1)


# --- 6. 再派单 starts from the refused order -------------------------------------------------------


@pytest.mark.parametrize("state", ["refused", "timeout"])
def test_redispatch_form_is_prefilled_from_the_old_order(ctx, as_user, state):
    from datetime import timedelta

    from factories.prevention import item_ids, org_id, title_id

    from app import clock

    start, end = clock.today() + timedelta(days=3), clock.today() + timedelta(days=40)
    oid, _p, _h = order_in(
        state,
        service_place="道里区友谊路9号二标段",
        service_item_ids=item_ids()[:2],
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        required_title_id=title_id("senior"),
        fee="1234.50",
    )
    old = fresh_order(oid)
    chosen = {i.id for i in old.service_items}
    client = as_user("insurer_picc")
    form = _html(client.get(f"/orders/redispatch/{oid}"))
    assert 'value="道里区友谊路9号二标段"' in form and 'value="1234.50"' in form
    assert re.search(rf'name="start_date"[^>]*value="{start.isoformat()}"', form)
    assert re.search(rf'name="end_date"[^>]*value="{end.isoformat()}"', form)
    assert re.search(rf'<option value="{title_id("senior")}" selected>', form)
    checked = {int(v) for v in re.findall(r'name="service_item_ids" value="(\d+)" checked', form)}
    assert checked == chosen
    assert re.search(r'name="deadline"[^>]*value=""', form)  # a new acceptance deadline (the system's default if empty)
    # editable: the insurer changes the place and sends it to the org again
    post = dict(
        target=f"org:{org_id()}",
        service_item_ids=[str(i) for i in chosen],
        service_place="道里区友谊路9号三标段",
        start_date=start.isoformat(),
        end_date=end.isoformat(),
        required_title_id=str(title_id("senior")),
        fee="1234.50",
    )
    assert client.post(f"/orders/redispatch/{oid}", data=post).status_code == 302
    from app.extensions import db
    from app.models import DispatchOrder

    new = db.session.query(DispatchOrder).filter_by(parent_id=oid).one()
    assert new.service_place == "道里区友谊路9号三标段" and str(new.fee) == "1234.50"
    assert {i.id for i in new.service_items} == chosen and new.required_title_id == title_id("senior")


# --- 2. the org reviews what it approves ----------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """The PDF's text, whitespace removed (table cells wrap lines)."""
    assert data[:5] == b"%PDF-", data[:20]
    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", fh.name, "-"], capture_output=True, check=True).stdout
    return "".join(text.decode().split())


def test_reviewers_download_the_draft_report_at_every_stage(ctx, as_user):
    from app.services import reviews

    oid, _p, _h = order_in("org_review", hazards=1)
    number = fresh_order(oid).order_no
    org = as_user("org_demo")
    detail = _html(org.get(f"/report-review/show/{oid}"))
    assert f"/reports/pdf/{oid}" in detail and "下载事故预防服务报告（草稿）" in detail
    response = org.get(f"/reports/pdf/{oid}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.get_data())
    assert "事故预防服务报告（草稿）" in text and number in text and "作业井四周封闭不严" in text
    # the insurer's stage: a draft still, for the insurer; not for a department nor another insurer
    reviews.review(oid, user("org_demo"), True, "同意")
    insurer = as_user("insurer_picc")
    assert "下载事故预防服务报告（草稿）" in _html(insurer.get(f"/report-review/show/{oid}"))
    assert "草稿" in pdf_text(insurer.get(f"/reports/pdf/{oid}").get_data())
    assert as_user("dept_province").get(f"/reports/pdf/{oid}").status_code == 404
    assert as_user("insurer_pingan").get(f"/reports/pdf/{oid}").status_code == 404
    # the insurer's verdict: the archived report, no longer a draft
    reviews.review(oid, user("insurer_picc"), True, "同意")
    final = pdf_text(insurer.get(f"/reports/pdf/{oid}").get_data())
    assert "事故预防服务报告" in final and "草稿" not in final
    assert "（草稿）" not in _html(insurer.get(f"/reports/show/{oid}"))


def test_no_report_before_the_review(ctx, as_user):
    oid, _p, _h = order_in("in_service")
    assert as_user("org_demo").get(f"/reports/pdf/{oid}").status_code == 404
    assert "/reports/pdf/" not in _html(as_user("org_demo").get(f"/orders/show/{oid}"))


# --- 1. the expert's signed report ----------------------------------------------------------------


def _signed_pdf():
    from factories.api import minimal_pdf

    return minimal_pdf()


def test_expert_uploads_a_signed_pdf_and_replaces_it_keeping_the_old(app, ctx, as_user):
    from factories.api import jwt_headers
    from factories.prevention import site_photo, upload

    from app.services import reviews, visits

    oid, _p, _h = order_in("in_service")
    exp = as_user("expert_demo")
    visits.sign_in(oid, user("expert_demo"), site_photo())
    first = exp.post(
        f"/expert/todo/upload-report/{oid}",
        data={"signed_report": (upload(_signed_pdf(), "报告签字版.pdf").stream, "报告签字版.pdf")},
        content_type="multipart/form-data",
    )
    assert first.status_code == 302
    visit = fresh_order(oid).visit
    assert (
        visit.signed_scan_file.original_name == "报告签字版.pdf"
        and visit.signed_scan_file.content_type == "application/pdf"
    )
    first_id = visit.signed_scan_file_id
    handle = _html(exp.get(f"/expert/todo/handle/{oid}"))
    assert 'id="azx-signed-report"' in handle and "报告签字版.pdf" in handle
    # replaced before the org's review: the earlier version stays, named in the 流程
    visits.upload_signed_report(oid, user("expert_demo"), [upload(_signed_pdf(), "报告签字版2.pdf")])
    visit = fresh_order(oid).visit
    assert visit.signed_scan_file.original_name == "报告签字版2.pdf"
    assert [f.id for f in visit.replaced_scans] == [first_id]
    visits.save_report(oid, user("expert_demo"), {"service_record": "检查了临时用电"})
    visits.submit_report(oid, user("expert_demo"))
    # the org's 报告审核 shows both, the generated draft beside the signed one; the older version too
    org = as_user("org_demo")
    detail = _html(org.get(f"/report-review/show/{oid}"))
    assert "报告签字版2.pdf" in detail and "历史版本" in detail and "报告签字版.pdf" in detail
    assert f"/reports/pdf/{oid}" in detail
    old = org.get(f"/files/{first_id}")
    assert old.status_code == 200 and old.get_data().startswith(b"%PDF-")
    assert as_user("insurer_pingan").get(f"/files/{first_id}").status_code == 404
    # in review the expert can no longer replace it
    from app.services.base import ServiceError

    with pytest.raises(ServiceError):
        visits.upload_signed_report(oid, user("expert_demo"), [upload(_signed_pdf(), "迟到.pdf")])
    reviews.review(oid, user("org_demo"), True, "同意")
    reviews.review(oid, user("insurer_picc"), True, "同意")
    insurer = as_user("insurer_picc")
    shown = _html(insurer.get(f"/reports/show/{oid}"))
    assert "报告签字版2.pdf" in shown and f"/reports/pdf/{oid}" in shown
    assert "报告签字版2.pdf" in _html(as_user("dept_province").get(f"/reports/show/{oid}"))
    # the API: the report names the signed scan, its files list the current and the replaced one
    with app.test_client() as api:
        headers = jwt_headers(api, "insurer_picc")
        visit_id = fresh_order(oid).visit.id
        row = api.get(f"/api/v1/reports/{visit_id}", headers=headers)
        assert row.status_code == 200
        body = row.get_json()
        result = body.get("result", body)
        assert result["signed_scan_file_id"] == fresh_order(oid).visit.signed_scan_file_id
        files = api.get(f"/api/v1/reports/{visit_id}/files", headers=headers).get_json()
        listed = files.get("result", files)
        slots = {(f["slot"], f["name"]) for f in listed}
        assert ("signed_scan", "报告签字版2.pdf") in slots and ("signed_scan_previous", "报告签字版.pdf") in slots
        assert ("report", f"事故预防服务报告_{fresh_order(oid).order_no}.pdf") in slots


def test_images_of_a_paper_report_are_merged_into_one_pdf(ctx):
    import pikepdf
    from factories.prevention import jpeg_bytes, upload

    from app.services import visits
    from app.storage import get_storage

    oid, _p, _h = order_in("in_service")
    pages = [upload(jpeg_bytes(colour=(i * 60, 80, 40)), f"第{i}页.jpg") for i in range(1, 4)]
    visit = visits.upload_signed_report(oid, user("expert_demo"), pages)
    stored = fresh_order(oid).visit.signed_scan_file
    assert stored.content_type == "application/pdf" and stored.original_name.endswith(".pdf")
    data = get_storage().read(stored.key)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert len(pdf.pages) == 3
    assert visit.id == fresh_order(oid).visit.id


@pytest.mark.parametrize(
    "files, message",
    [
        ([], "请选择文件"),
        ([("report.docx", b"PK\x03\x04 word")], "文件类型不允许"),
        ([("notes.txt", "这不是报告".encode())], "文件类型不允许"),
        ([("big.pdf", b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024))], "文件过大"),
        ([("a.pdf", b"%PDF-1.4\n"), ("b.jpg", b"\xff\xd8\xff")], "PDF 须单独上传"),
        ([("broken.jpg", b"\xff\xd8\xff\xe0 not really")], "图片无法读取或已损坏"),
    ],
)
def test_bad_signed_report_is_refused_with_the_reason_and_saves_nothing(ctx, as_user, files, message):
    from factories.prevention import upload

    from app.extensions import db
    from app.models import FlowEvent, StoredFile

    oid, _p, _h = order_in("in_service")
    before = db.session.query(StoredFile).count(), db.session.query(FlowEvent).count()
    client = as_user("expert_demo")
    data = {"signed_report": [(upload(body, name).stream, name) for name, body in files]} if files else {}
    response = client.post(f"/expert/todo/upload-report/{oid}", data=data, content_type="multipart/form-data")
    assert response.status_code == 302
    page = _html(client.get(f"/expert/todo/handle/{oid}"))
    assert message in page and "签字报告" in page
    db.session.expire_all()
    assert (db.session.query(StoredFile).count(), db.session.query(FlowEvent).count()) == before
    assert fresh_order(oid).visit is None or fresh_order(oid).visit.signed_scan_file is None


# --- 7. 签到 comes first --------------------------------------------------------------------------


def test_hazard_and_record_need_the_sign_in_first(ctx, as_user):
    from factories.prevention import hazard_data, jpeg_bytes, site_photo, upload

    from app.extensions import db
    from app.models import Hazard
    from app.services import visits
    from app.services.base import Invalid

    oid, _p, _h = order_in("in_service")
    exp = user("expert_demo")
    with pytest.raises(Invalid) as err:
        visits.add_hazard(oid, exp, hazard_data(), [upload(jpeg_bytes())])
    assert "请先在施工现场签到" in str(err.value.message) and "signin" in err.value.errors
    with pytest.raises(Invalid) as err:
        visits.save_report(oid, exp, {"service_record": "记录"})
    assert "请先在施工现场签到" in str(err.value.message)
    assert db.session.query(Hazard).filter_by(order_id=oid).count() == 0 and fresh_order(oid).visit is None
    # the page: no hazard or record form before the 签到, a message instead; a crafted post is refused
    client = as_user("expert_demo")
    page = _html(client.get(f"/expert/todo/handle/{oid}"))
    assert "请先签到，再记录隐患和服务过程" in page and 'id="azx-hazard-form"' not in page
    assert 'id="azx-record-form"' not in page and 'id="azx-signin-form"' in page
    client.post(f"/expert/todo/save/{oid}", data={"service_record": "越过签到"})
    assert "请先在施工现场签到，再填写服务过程记录" in _html(client.get(f"/expert/todo/handle/{oid}"))
    assert fresh_order(oid).visit is None
    visits.sign_in(oid, exp, site_photo())
    page = _html(client.get(f"/expert/todo/handle/{oid}"))
    assert 'id="azx-hazard-form"' in page and 'id="azx-record-form"' in page
    assert visits.add_hazard(oid, exp, hazard_data(), []).seq == 1


@pytest.mark.parametrize(
    "offset, accepted",
    [
        (dict(days=-3), False),  # days before the start date
        (dict(hours=-20), True),  # the evening before: within the tolerance
        (dict(days=10), True),  # within the dates
        (dict(days=8), False),  # days after the end date (the order's end moved to start + 5 below)
    ],
)
def test_sign_in_photo_time_must_lie_within_the_order_dates(app, ctx, offset, accepted):
    from datetime import datetime, time, timedelta

    from factories.prevention import jpeg_bytes, upload

    from app import clock
    from app.extensions import db
    from app.models import StoredFile
    from app.services import visits
    from app.services.base import Invalid

    start = clock.today() - timedelta(days=20)
    end = start + timedelta(days=30)
    oid, _p, _h = order_in("in_service", start_date=start.isoformat(), end_date=end.isoformat())
    if offset == dict(days=8):  # a service period already over (the dispatch form only takes future ends)
        end = start + timedelta(days=5)
        fresh_order(oid).end_date = end
        db.session.flush()
    taken = datetime.combine(start, time(9, 0)) + timedelta(**offset)  # Beijing wall clock, as a phone writes it
    photo = upload(jpeg_bytes(lat=45.75, lon=126.63, taken=taken), "signin.jpg")
    files = db.session.query(StoredFile).count()
    if accepted:
        assert visits.sign_in(oid, user("expert_demo"), photo).signin_time is not None
        return
    with pytest.raises(Invalid) as err:
        visits.sign_in(oid, user("expert_demo"), photo)
    message = str(err.value.message)
    assert "不在服务期" in message and start.isoformat() in message and end.isoformat() in message
    assert "前后 1 天" in message and taken.strftime("%Y-%m-%d %H:%M") in message
    assert db.session.query(StoredFile).count() == files and fresh_order(oid).visit is None


# --- 8. 事故 shows what the reviewer may see --------------------------------------------------------


def test_accidents_show_other_insurers_as_aggregates_only(app, ctx, as_user):
    from datetime import date

    from factories.api import pending_application
    from factories.chains import insured_chain

    from app import clock
    from app.extensions import db
    from app.models import Application, Expert, InsuranceCompany, Plan, PreventionOrg
    from app.services import policies

    app_id = pending_application(insurer="人保财险")
    application = db.session.get(Application, app_id)
    enterprise = application.enterprise
    companies = {c.short_name: c for c in db.session.query(InsuranceCompany)}
    plan = db.session.query(Plan).first()
    org, expert = db.session.query(PreventionOrg).first(), db.session.query(Expert).first()
    last = clock.today().year - 1

    def chain(key, insurer, submitted, deaths, injured, project):
        insured_chain(
            db.session, key=key, code="ACC", name=project, enterprise=enterprise, region=enterprise.region_code,
            insurer=companies[insurer], broker=None, plan=plan, org=org, expert=expert,
            extra={"Claim": dict(submitted_date=submitted, death_count=deaths, injured_count=injured,
                                 settled_amount=98765.43, estimated_loss=123456.78)},
        )  # fmt: skip

    chain("A", "人保财险", date(last, 5, 1), 0, 1, "本司承保项目")
    chain("B", "平安财险", date(last, 7, 1), 1, 2, "他司承保项目")
    chain("C", "平安财险", date(last - 1, 3, 1), 0, 3, "他司往年项目")
    db.session.commit()
    # the floating ratio reads every insurer's accidents of the previous year
    assert policies.prior_year_accidents(enterprise.id) == (1, 3)
    html = _html(as_user("insurer_picc").get(f"/applications/{app_id}/accidents"))
    years = re.search(r'id="accident-years".*?</table>', html, re.S).group(0)
    assert re.search(rf"<td>{last}</td><td>2</td><td>1</td><td>3</td><td>1 / 1 / 2</td>", years), years
    assert re.search(rf"<td>{last - 1}</td><td>1</td><td>0</td><td>3</td><td>1 / 0 / 3</td>", years), years
    listed = re.search(r'id="accident-list".*?</table>', html, re.S).group(0)
    assert "本司承保项目A" in listed
    assert "他司承保项目" not in html and "他司往年项目" not in html  # no foreign claim rows nor names
    assert "98765" not in html and "123456" not in html and "98,765" not in html  # no amounts
    assert "死亡 1 人，伤残 3 人" in html
    # a party that sees every row (the platform's administrator): nothing is "other"
    report = policies.accident_report(enterprise.id, user("admin"))
    assert len(report.own_claims) == 3 and report.years[0].count == 2
    assert (report.years[0].other_count, report.years[0].other_deaths, report.years[0].other_injuries) == (0, 0, 0)
    assert (report.deaths, report.injuries) == (1, 3)


def test_api_order_carries_the_newest_review(app, ctx):
    from factories.api import jwt_headers

    from app.services import reviews

    oid, _p, _h = order_in("org_review", hazards=0)
    reviews.review(oid, user("org_demo"), False, "请补充现场照片说明")
    with app.test_client() as api:
        for account in ("expert_demo", "insurer_picc"):
            body = api.get(f"/api/v1/orders/{oid}", headers=jwt_headers(api, account)).get_json()
            row = body.get("result", body)
            assert row["status"] == "in_service"
            review = row["latest_review"]
            assert (review["stage"], review["verdict"], review["opinion"]) == ("org", "fail", "请补充现场照片说明")
            assert review["created_at"]
