"""The expert's visit (签到 from EXIF GPS/time or the browser, hazards, report), the enterprise's
rectification, the expert's acceptance, both reviews and the 事故预防服务报告 PDF."""

import io
import os
import re
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta

import pytest
from factories.prevention import (  # noqa: F401  (ctx is a fixture)
    beijing_now,
    ctx,
    hazard_data,
    jpeg_bytes,
    order_in,
    signed_in_order,
    site_photo,
    upload,
    user,
)
from factories.prevention import (
    fresh_order as _order,
)
from PIL import Image

from app.models.enums import HazardStatus as H
from app.models.enums import OrderStatus as O
from app.services.base import Conflict, Forbidden, Invalid, NotFound


def _file_count():
    from app.extensions import db
    from app.models import StoredFile

    return db.session.query(StoredFile).count()


def _stored_keys(app):
    root = app.config["FILE_STORAGE_ROOT"]
    return {name for _d, _s, files in os.walk(root) for name in files}


# --- EXIF ---------------------------------------------------------------------------------------


def _exif(data):
    with Image.open(io.BytesIO(data)) as img:
        return img.getexif()


def test_exif_gps_position_and_original_time():
    from app.services.visits import read_exif_position

    taken = datetime(2026, 5, 20, 14, 30, 15)
    lat, lon, when = read_exif_position(_exif(jpeg_bytes(lat=45.7567, lon=126.6424, taken=taken)))
    assert lat == pytest.approx(45.7567, abs=1e-4)
    assert lon == pytest.approx(126.6424, abs=1e-4)
    assert when == (taken - timedelta(hours=8)).replace(tzinfo=UTC)  # the platform zone (+08:00) → UTC


def test_exif_southern_western_refs_and_gps_timestamp():
    from app.services.visits import read_exif_position

    img = Image.new("RGB", (32, 32), "white")
    exif = Image.Exif()
    exif[0x8825] = {1: "S", 2: (33.0, 52.0, 4.8), 3: "W", 4: (151.0, 12.0, 36.0), 7: (3.0, 4.0, 5.0), 29: "2026:01:02"}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    lat, lon, when = read_exif_position(_exif(buf.getvalue()))
    assert lat == pytest.approx(-33.868, abs=1e-3) and lon == pytest.approx(-151.21, abs=1e-3)
    assert when == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # the GPS stamp is UTC already


def test_exif_without_gps_or_time():
    from app.services.visits import read_exif_position

    assert read_exif_position(_exif(jpeg_bytes())) == (None, None, None)
    lat, lon, when = read_exif_position(_exif(jpeg_bytes(taken=datetime(2026, 3, 1, 8, 0, 0))))
    assert (lat, lon) == (None, None) and when == datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC)
    assert read_exif_position(None) == (None, None, None)


# --- sign-in ------------------------------------------------------------------------------------


def test_sign_in_reads_position_and_time_from_exif(ctx):
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    taken = beijing_now() - timedelta(minutes=5)
    visit = visits.sign_in(
        oid, user("expert_demo"), upload(jpeg_bytes(lat=45.75, lon=126.63, taken=taken)), lat="40.0", lon="116.0"
    )
    assert visit.signin_source == "exif"
    assert visit.signin_lat == pytest.approx(45.75, abs=1e-4) and visit.signin_lon == pytest.approx(126.63, abs=1e-4)
    assert abs((visit.signin_time - (taken - timedelta(hours=8)).replace(tzinfo=UTC)).total_seconds()) < 1
    assert visit.signin_photo_file.owner_type == "service_visit"
    assert visit.signin_photo_file.content_type == "image/jpeg"


def test_sign_in_falls_back_to_browser_geolocation(ctx):
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    visit = visits.sign_in(oid, user("expert_demo"), upload(jpeg_bytes()), lat="45.7601", lon="126.6502")
    assert visit.signin_source == "browser"
    assert (visit.signin_lat, visit.signin_lon) == (45.7601, 126.6502)
    assert visit.signin_time is not None


@pytest.mark.parametrize(
    "photo,lat,lon,message",
    [
        (lambda: upload(jpeg_bytes()), None, None, "位置"),
        (lambda: upload(jpeg_bytes()), "95", "126", "位置"),
        (lambda: upload(b"GIF89a not an allowed image", "a.gif", "image/gif"), "45", "126", "文件类型"),
        (lambda: upload(b"\xff\xd8\xff broken jpeg", "b.jpg"), "45", "126", "图片"),
        (lambda: None, "45", "126", "签到照片"),
        (lambda: upload(jpeg_bytes(lat=45.7, lon=126.6, taken=datetime(2020, 1, 1, 9, 0))), None, None, "不在服务期"),
    ],
)
def test_sign_in_bad_photo_saves_nothing(app, ctx, photo, lat, lon, message):
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    files, keys = _file_count(), _stored_keys(app)
    with pytest.raises(Invalid) as err:
        visits.sign_in(oid, user("expert_demo"), photo(), lat=lat, lon=lon)
    assert message in str(err.value.message)
    assert _file_count() == files and _stored_keys(app) == keys
    assert _order(oid).visit is None


def test_sign_in_only_by_the_assigned_expert_in_service(ctx):
    from app.services import visits

    oid, _p, _h = order_in("assigned")
    with pytest.raises(Conflict):  # not accepted yet
        visits.sign_in(oid, user("expert_demo"), site_photo())
    oid, _p, _h = order_in("in_service")
    with pytest.raises(Forbidden):  # an org never signs in: not one of its transitions
        visits.sign_in(oid, user("org_demo"), site_photo())
    with pytest.raises(NotFound):
        visits.sign_in(oid, user("insurer_pingan"), site_photo())


def test_new_sign_in_replaces_the_old_photo(app, ctx):
    from app.extensions import db
    from app.models import StoredFile
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    exp = user("expert_demo")
    first = visits.sign_in(oid, exp, site_photo()).signin_photo_file_id
    second = visits.sign_in(oid, exp, site_photo(lat=45.8, lon=126.7)).signin_photo_file_id
    assert first != second and db.session.get(StoredFile, first) is None
    assert _order(oid).visit.signin_lat == pytest.approx(45.8, abs=1e-4)


# --- report and hazards ----------------------------------------------------------------------------


def test_submit_without_sign_in_is_refused(ctx):
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    exp = user("expert_demo")
    with pytest.raises(Invalid) as err:
        visits.save_report(oid, exp, {"service_record": "检查完毕"})
    assert "签到" in str(err.value.message) and "signin" in err.value.errors
    with pytest.raises(Invalid) as err:
        visits.submit_report(oid, exp)
    assert "签到" in str(err.value.message)
    assert _order(oid).status == O.IN_SERVICE and _order(oid).visit is None


def test_submit_without_service_record_is_refused(ctx):
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    exp = user("expert_demo")
    visits.sign_in(oid, exp, site_photo())
    with pytest.raises(Invalid):
        visits.submit_report(oid, exp)


def test_report_without_hazards_goes_to_the_org_review(ctx):
    from app.services import visits

    oid, _p, _h = order_in("in_service")
    exp = user("expert_demo")
    visits.sign_in(oid, exp, site_photo())
    visits.save_report(oid, exp, {"service_record": "现场未发现隐患", "conclusion": "良好"})
    visits.submit_report(oid, exp)
    order = _order(oid)
    assert order.status == O.ORG_REVIEW and order.visit.submitted_at is not None


@pytest.mark.parametrize(
    "data,field",
    [
        (dict(level="unknown"), "level"),
        (dict(category_id="99999"), "category_id"),
        (dict(description=""), "description"),
        (dict(suggestion=" "), "suggestion"),
        (dict(standard_id="1"), "standard_id"),  # a 一般 hazard cannot cite the major-hazard standard
    ],
)
def test_hazard_bad_input_saves_nothing(app, ctx, data, field):
    from app.extensions import db
    from app.models import Hazard
    from app.services import visits

    oid = signed_in_order()
    files, keys = _file_count(), _stored_keys(app)
    with pytest.raises(Invalid) as err:
        visits.add_hazard(oid, user("expert_demo"), hazard_data(**data), [upload(jpeg_bytes())])
    assert field in err.value.errors
    assert db.session.query(Hazard).filter_by(order_id=oid).count() == 0
    assert _file_count() == files and _stored_keys(app) == keys


def test_hazard_with_a_non_image_photo_saves_nothing(app, ctx):
    from app.extensions import db
    from app.models import Hazard
    from app.services import visits

    oid = signed_in_order()
    keys = _stored_keys(app)
    with pytest.raises(Invalid):
        visits.add_hazard(
            oid,
            user("expert_demo"),
            hazard_data(),
            [upload(jpeg_bytes()), upload(b"%PDF-1.4 not a photo\n%%EOF", "x.pdf", "application/pdf")],
        )
    assert db.session.query(Hazard).filter_by(order_id=oid).count() == 0
    assert _stored_keys(app) == keys


def test_major_hazard_cites_the_standard_and_can_be_removed(ctx):
    from app.extensions import db
    from app.models import MajorHazardStandard
    from app.services import visits

    oid = signed_in_order()
    exp = user("expert_demo")
    standard = db.session.query(MajorHazardStandard).first()
    first = visits.add_hazard(oid, exp, hazard_data(), [])
    major = visits.add_hazard(
        oid,
        exp,
        hazard_data(level="major", category_code="10", standard_id=str(standard.id)),
        [upload(jpeg_bytes()), upload(jpeg_bytes(colour=(1, 2, 3)))],
    )
    assert (first.seq, major.seq) == (1, 2)
    assert major.standard_id == standard.id and len(major.photos) == 2
    visits.remove_hazard(first.id, exp)
    assert [h.seq for h in _order(oid).hazards] == [2]


# --- rectification and acceptance -----------------------------------------------------------------


def test_rectification_return_and_acceptance_loop(ctx):
    from app.services import visits

    oid, _p, hids = order_in("rectifying", hazards=2)
    ent, exp = user("enterprise_demo"), user("expert_demo")
    with pytest.raises(Invalid):  # both hazards need their 整改情况 first
        visits.submit_rectification(oid, ent)
    with pytest.raises(Invalid):
        visits.rectify(hids[0], ent, "  ", [])
    visits.rectify(hids[0], ent, "已加设防护栏杆", [upload(jpeg_bytes(colour=(0, 200, 0)))])
    with pytest.raises(Invalid) as err:
        visits.submit_rectification(oid, ent)
    assert "2" in str(err.value.message)
    visits.rectify(hids[1], ent, "已设置警戒区", [])
    visits.submit_rectification(oid, ent)
    assert _order(oid).status == O.VERIFYING
    with pytest.raises(Invalid):  # returning needs a note
        visits.verify(hids[0], exp, False, "")
    visits.verify(hids[0], exp, True, "")
    assert _order(oid).status == O.VERIFYING  # one still awaits acceptance
    visits.verify(hids[1], exp, False, "警戒区范围不足")
    order = _order(oid)
    assert order.status == O.RECTIFYING
    assert [h.status for h in order.hazards] == [H.PASSED, H.RETURNED]
    assert order.hazards[1].acceptance_note == "警戒区范围不足"
    visits.rectify(hids[1], ent, "已扩大警戒区", [])
    visits.submit_rectification(oid, ent)
    visits.verify(hids[1], exp, True, "复查合格")
    assert _order(oid).status == O.ORG_REVIEW


def test_other_enterprise_cannot_rectify(ctx):
    from app.services import visits

    oid, _p, hids = order_in("rectifying")
    with pytest.raises(NotFound):
        visits.rectify(hids[0], user("enterprise_demo2"), "越权", [])


# --- reviews --------------------------------------------------------------------------------------


def test_reviews_fail_back_to_the_expert_and_pass_to_completion(ctx):
    from app.extensions import db
    from app.models import Review
    from app.services import reviews, visits

    org, ins, exp = user("org_demo"), user("insurer_picc"), user("expert_demo")
    oid, _p, _h = order_in("org_review", hazards=0)
    with pytest.raises(Invalid):
        reviews.review(oid, org, False, "")
    with pytest.raises(Forbidden):  # the org's stage: its transitions are not the insurer's
        reviews.review(oid, ins, True, "")
    reviews.review(oid, org, False, "服务过程记录不完整")
    assert _order(oid).status == O.IN_SERVICE
    visits.save_report(oid, exp, {"service_record": "补充：检查了临时用电、消防设施"})
    visits.submit_report(oid, exp)
    reviews.review(oid, org, True, "")
    reviews.review(oid, ins, False, "请补充签到说明")
    assert _order(oid).status == O.IN_SERVICE
    visits.submit_report(oid, exp)
    reviews.review(oid, org, True, "同意")
    reviews.review(oid, ins, True, "同意")
    order = _order(oid)
    assert order.status == O.COMPLETED and order.completed_at is not None
    verdicts = [(r.stage, r.verdict) for r in db.session.query(Review).filter_by(order_id=oid).order_by(Review.id)]
    assert verdicts == [("org", "fail"), ("org", "pass"), ("insurer", "fail"), ("org", "pass"), ("insurer", "pass")]
    assert order.visit.report_file is not None and order.visit.report_file.kind == "report_pdf"


# --- the report PDF -------------------------------------------------------------------------------


def test_report_pdf_text_is_extractable_and_photos_embedded(app, ctx):
    from app.storage import get_storage

    oid, _p, _h = order_in("completed", hazards=2)
    order = _order(oid)
    pdf = get_storage().read(order.visit.report_file.key)
    assert pdf.startswith(b"%PDF")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "report.pdf")
        with open(path, "wb") as fh:
            fh.write(pdf)
        text = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", path, "-"], capture_output=True, check=True
        ).stdout.decode()
        images = subprocess.run(["pdfimages", "-list", path], capture_output=True, check=True).stdout.decode()
        fonts = subprocess.run(["pdffonts", path], capture_output=True, check=True).stdout.decode()
    flat = "".join(text.split())  # table cells wrap lines
    for needle in (
        "事故预防服务报告",
        order.order_no,
        order.project.name,
        "王建国",
        "注册安全工程师",
        "签到",
        "作业井四周封闭不严",
        "已整改",
        "验收合格",
        "事故预防机构审核",
    ):
        assert needle in flat, needle
    assert re.search(r"第1页/共\d+页", flat)
    # one sign-in photo, two hazard photos and two rectification photos
    image_rows = [line for line in images.splitlines()[2:] if line.strip()]
    assert len(image_rows) >= 5
    assert "WenQuanYi" in fonts and " yes " in fonts  # the CJK font is embedded
