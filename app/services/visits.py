"""The expert's site visit: 签到, hazards, the service record and report; the enterprise's rectification;
the expert's acceptance (验收) of each rectified hazard.

Each function takes the acting user, fetches through the scope and commits once; bad input raises
Invalid and leaves nothing behind (files written meanwhile are deleted on rollback).
"""

from datetime import UTC, datetime, time, timedelta, timezone

from flask_babel import lazy_gettext as _
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import DispatchOrder, Hazard, HazardCategory, HazardPhoto, MajorHazardStandard, ServiceVisit
from app.models.base import utcnow
from app.models.enums import HazardLevel
from app.models.enums import HazardStatus as H
from app.models.enums import OrderStatus as O
from app.storage import UploadError, attach, discard, store_merged_upload, store_upload
from app.workflows import HAZARD, ORDER

from .base import Conflict, Invalid, check_allowed, fetch, record_flow, transition, unit_of_work

GPS_IFD, EXIF_IFD = 0x8825, 0x8769
TAG_DATETIME, TAG_DATETIME_ORIGINAL, TAG_OFFSET_ORIGINAL = 0x0132, 0x9003, 0x9011
MAX_PHOTOS = 9
# A 签到 photo's EXIF time must lie within the order's dates, widened by this much on each side: a
# visit the evening before the start or the morning after the end, or a phone clock somewhat off, is
# still this visit; a photo from another week is not.
SIGNIN_TOLERANCE = timedelta(days=1)


# --- EXIF -----------------------------------------------------------------------------------------


def _degrees(value, ref):
    d, m, s = (float(x) for x in value)
    deg = d + m / 60 + s / 3600
    return -deg if str(ref).upper().startswith(("S", "W")) else deg


def _exif_datetime(text, offset=None):
    try:
        local = datetime.strptime(str(text).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except (TypeError, ValueError):
        return None
    tz = clock.zone()  # EXIF local times without an offset are the platform zone's wall clock
    if offset:
        try:
            sign = -1 if str(offset).startswith("-") else 1
            hh, mm = str(offset).lstrip("+-").split(":")
            tz = timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
        except ValueError:
            pass
    return local.replace(tzinfo=tz).astimezone(UTC)


def read_exif_position(exif):
    """(lat, lon, taken_at) from a Pillow Exif; each None when absent. taken_at is an aware UTC instant.

    The time is the GPS time stamp (UTC) when present, else DateTimeOriginal (with its offset, or
    the platform zone's time), else DateTime.
    """
    lat = lon = taken = None
    if exif is None:
        return lat, lon, taken
    try:
        gps = exif.get_ifd(GPS_IFD) or {}
    except Exception:  # a damaged IFD is no position
        gps = {}
    try:
        if gps.get(2) and gps.get(4):
            lat, lon = _degrees(gps[2], gps.get(1, "N")), _degrees(gps[4], gps.get(3, "E"))
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
                lat = lon = None
    except (TypeError, ValueError, ZeroDivisionError):
        lat = lon = None
    try:
        if gps.get(29) and gps.get(7):
            h, m, s = (float(x) for x in gps[7])
            day = datetime.strptime(str(gps[29]).strip("\x00 "), "%Y:%m:%d")
            taken = (day + timedelta(hours=h, minutes=m, seconds=s)).replace(tzinfo=UTC)
    except (TypeError, ValueError, ZeroDivisionError):
        taken = None
    if taken is None:
        try:
            sub = exif.get_ifd(EXIF_IFD) or {}
        except Exception:
            sub = {}
        taken = (
            _exif_datetime(sub.get(TAG_DATETIME_ORIGINAL), sub.get(TAG_OFFSET_ORIGINAL))
            if sub.get(TAG_DATETIME_ORIGINAL)
            else _exif_datetime(exif.get(TAG_DATETIME))
        )
    return lat, lon, taken


# --- guards ---------------------------------------------------------------------------------------


def _guard(order, user, transition_name):
    """Allow an edit exactly when ``transition_name`` could fire now (same parties, states and guard)."""
    check_allowed(order, ORDER, transition_name, user)


def _files(photos):
    files = [p for p in (photos or []) if p is not None and getattr(p, "filename", "")]
    if len(files) > MAX_PHOTOS:
        raise Invalid(_("每次最多上传 %(n)s 张照片", n=MAX_PHOTOS), errors={"photos": [_("照片过多")]})
    return files


def _store_photos(files, kind, hazard, photo_kind, user):
    for fs in files:
        try:
            stored = store_upload(db.session, fs, kind, user_id=user.id)
        except UploadError as exc:
            raise Invalid(
                _("照片 %(name)s：%(msg)s", name=fs.filename, msg=exc.message), errors={"photos": [exc.message]}
            ) from exc
        db.session.flush()
        attach(stored, hazard)
        db.session.add(HazardPhoto(hazard_id=hazard.id, file_id=stored.id, kind=photo_kind))


def _visit(order):
    visit = db.session.execute(select(ServiceVisit).where(ServiceVisit.order_id == order.id)).scalar()
    if visit is None:
        visit = ServiceVisit(order_id=order.id)
        db.session.add(visit)
        db.session.flush()
    return visit


def _coord(value, low, high):
    if value in (None, ""):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if low <= v <= high else None


# --- the expert's visit ---------------------------------------------------------------------------


def signin_window(order):
    """(earliest, latest) aware UTC instants a 签到 photo of ``order`` may have been taken: its start
    date's first and end date's last moment in the platform's zone, widened by SIGNIN_TOLERANCE."""
    zone = clock.zone()
    first = datetime.combine(order.start_date, time.min, tzinfo=zone) - SIGNIN_TOLERANCE
    last = datetime.combine(order.end_date, time.max, tzinfo=zone) + SIGNIN_TOLERANCE
    return first.astimezone(UTC), last.astimezone(UTC)


def _check_signin_time(order, taken):
    first, last = signin_window(order)
    if not first <= taken <= last:
        raise Invalid(
            _(
                "照片拍摄时间 %(taken)s 不在服务期 %(start)s 至 %(end)s（前后 %(days)s 天）内，请在现场重新拍照签到",
                taken=clock.fmt(taken),
                start=order.start_date.isoformat(),
                end=order.end_date.isoformat(),
                days=SIGNIN_TOLERANCE.days,
            ),
            errors={"photo": [_("拍摄时间不在服务期内")]},
        )


def _require_signin(order, what):
    """Hazards and the service record belong to a visit: they need its 签到 first."""
    visit = order.visit
    if visit is None or visit.signin_time is None:
        raise Invalid(_("请先在施工现场签到，再%(what)s", what=what), errors={"signin": [_("未签到")]})


def sign_in(order_id, user, photo, lat=None, lon=None):
    """签到 with a site photo: position and time from its EXIF, else the browser's geolocation."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        _guard(order, user, "submit_report")
        if photo is None or not getattr(photo, "filename", ""):
            raise Invalid(_("请拍摄或选择签到照片"), errors={"photo": [_("请上传签到照片")]})
        try:
            stored = store_upload(db.session, photo, "signin_photo", user_id=user.id, keep_exif=True)
        except UploadError as exc:
            raise Invalid(_("签到照片：%(msg)s", msg=exc.message), errors={"photo": [exc.message]}) from exc
        e_lat, e_lon, taken = read_exif_position(getattr(stored, "_exif", None))
        now = utcnow()
        if e_lat is not None:
            source, lat, lon = "exif", e_lat, e_lon
        else:
            lat, lon = _coord(lat, -90, 90), _coord(lon, -180, 180)
            if lat is None or lon is None:
                raise Invalid(
                    _(
                        "签到照片不含位置信息（EXIF GPS），且未获取到浏览器定位：请开启手机定位后重新拍照或允许网页获取位置"  # noqa: E501
                    ),
                    errors={"photo": [_("无法确定签到位置")]},
                )
            source = "browser"
        if taken is not None:
            if taken > now + timedelta(hours=1):
                raise Invalid(_("照片拍摄时间晚于当前时间，请检查手机时间"), errors={"photo": [_("拍摄时间无效")]})
            _check_signin_time(order, taken)
        visit = _visit(order)
        old = visit.signin_photo_file
        attach(stored, visit)
        visit.signin_photo_file = stored
        visit.signin_lat, visit.signin_lon, visit.signin_source = lat, lon, source
        visit.signin_time = taken or now
        if old is not None:
            discard(db.session, old)
        record_flow(
            ORDER.entity_type,
            order.id,
            "sign_in",
            order.status,
            order.status,
            user,
            comment=f"{lat:.6f}, {lon:.6f} ({source})",
        )
    return visit


def save_report(order_id, user, data):
    """保存 the service record and conclusion (any time while in service)."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        _guard(order, user, "submit_report")
        _require_signin(order, _("填写服务过程记录"))
        record = (data.get("service_record") or "").strip()
        conclusion = (data.get("conclusion") or "").strip()
        address = (data.get("signin_address") or "").strip()
        if len(record) > 20000 or len(conclusion) > 5000 or len(address) > 255:
            raise Invalid(_("内容过长"))
        visit = _visit(order)
        visit.service_record, visit.conclusion = record, conclusion
        if address:
            visit.signin_address = address
    return visit


def upload_signed_report(order_id, user, files):
    """上传 the signed report (manual 四.1): one PDF, or the pages of a stamped paper report as images
    merged into one PDF. Until the report goes to review it may be replaced; the replaced one stays
    attached to the visit (the order's history, and the 流程 names both)."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        _guard(order, user, "submit_report")
        try:
            stored = store_merged_upload(
                db.session, files or [], "report_scan", f"事故预防服务报告_签字版_{order.order_no}.pdf", user_id=user.id
            )
        except UploadError as exc:
            raise Invalid(_("签字报告：%(msg)s", msg=exc.message), errors={"signed_report": [exc.message]}) from exc
        visit = _visit(order)
        old = visit.signed_scan_file
        db.session.flush()
        attach(stored, visit)
        visit.signed_scan_file = stored
        comment = str(_("签字报告 %(name)s", name=stored.original_name))
        if old is not None:
            comment += str(_("（替换 %(name)s，原版本保留）", name=old.original_name))
        record_flow(ORDER.entity_type, order.id, "upload_report", order.status, order.status, user, comment=comment)
    return visit


def add_hazard(order_id, user, data, photos):
    """Record a hazard (级别, 隐患类别, 隐患描述, 整改建议, photos; a 重大 one may cite the standard)."""
    files = _files(photos)
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        _guard(order, user, "submit_report")
        _require_signin(order, _("记录隐患"))
        errors = {}
        level = data.get("level")
        if level not in HazardLevel.values():
            errors["level"] = [_("请选择隐患级别")]
        category = (
            db.session.get(HazardCategory, int(data["category_id"]))
            if str(data.get("category_id") or "").isdigit()
            else None
        )
        if category is None or not category.active:
            errors["category_id"] = [_("请选择隐患类别")]
        description = (data.get("description") or "").strip()
        if not description:
            errors["description"] = [_("请填写隐患描述")]
        suggestion = (data.get("suggestion") or "").strip()
        if not suggestion:
            errors["suggestion"] = [_("请填写整改建议")]
        standard = None
        if str(data.get("standard_id") or "").isdigit():
            standard = db.session.get(MajorHazardStandard, int(data["standard_id"]))
            if standard is None or not standard.active:
                errors["standard_id"] = [_("判定标准条款不存在")]
            elif level != HazardLevel.MAJOR:
                errors["standard_id"] = [_("只有重大事故隐患可引用判定标准")]
        if len(description) > 2000 or len(suggestion) > 2000:
            errors["description"] = [_("内容过长")]
        if errors:
            raise Invalid(_("隐患信息有误，请检查后重新提交"), errors=errors)
        seq = (db.session.execute(select(func.max(Hazard.seq)).where(Hazard.order_id == order.id)).scalar() or 0) + 1
        hazard = Hazard(
            order_id=order.id,
            region_code=order.region_code,
            seq=seq,
            level=level,
            category_id=category.id,
            standard_id=standard.id if standard else None,
            description=description,
            suggestion=suggestion,
            status=H.OPEN,
        )
        db.session.add(hazard)
        db.session.flush()
        _store_photos(files, "hazard_photo", hazard, "hazard", user)
    return hazard


def remove_hazard(hazard_id, user):
    """Delete a hazard recorded during this round of service (not yet sent for rectification)."""
    with unit_of_work():
        hazard = fetch(Hazard, hazard_id, user)
        order = hazard.order
        _guard(order, user, "submit_report")
        if hazard.status != H.OPEN or hazard.rectification:
            raise Conflict(_("该隐患已进入整改流程，不能删除"))
        for photo in list(hazard.photos):
            discard(db.session, photo.file)
            db.session.delete(photo)
        db.session.delete(hazard)
    return order


def submit_report(order_id, user):
    """提交报告: with open hazards to the enterprise (待整改), else to the review."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        _guard(order, user, "submit_report")
        visit = order.visit
        if visit is None or visit.signin_time is None:
            raise Invalid(_("请先在施工现场签到，再提交报告"), errors={"signin": [_("未签到")]})
        if not (visit.service_record or "").strip():
            raise Invalid(
                _("请填写服务过程记录并保存后再提交报告"), errors={"service_record": [_("请填写服务过程记录")]}
            )
        open_hazards = [h for h in order.hazards if h.status != H.PASSED]
        if open_hazards:
            target = O.RECTIFYING
        else:
            target = O.ORG_REVIEW if order.org_id else O.INSURER_REVIEW
        visit.submitted_at = utcnow()
        transition(
            order, ORDER, "submit_report", user, target=target, comment=str(_("隐患 %(n)s 项", n=len(open_hazards)))
        )
    return order


# --- the enterprise's rectification ---------------------------------------------------------------


def rectify(hazard_id, user, text, photos):
    """整改情况 of one hazard, with photos (the enterprise; the order is 待整改)."""
    files = _files(photos)
    text = (text or "").strip()
    with unit_of_work():
        hazard = fetch(Hazard, hazard_id, user)
        _guard(hazard.order, user, "submit_rectification")
        if not text:
            raise Invalid(_("请填写整改情况"), errors={"text": [_("请填写整改情况")]})
        if len(text) > 2000:
            raise Invalid(_("整改情况过长"))
        transition(
            hazard, HAZARD, "rectify", user, comment=text, values={"rectification": text, "rectified_at": utcnow()}
        )
        _store_photos(files, "rectification_photo", hazard, "rectification", user)
    return hazard


def submit_rectification(order_id, user):
    """提交整改: every hazard not yet accepted must carry its 整改情况; the expert then verifies."""
    with unit_of_work():
        order = fetch(DispatchOrder, order_id, user)
        _guard(order, user, "submit_rectification")
        missing = [h.seq for h in order.hazards if h.status in (H.OPEN, H.RETURNED)]
        if missing:
            raise Invalid(_("第 %(seq)s 项隐患尚未填写整改情况", seq="、".join(map(str, missing))))
        transition(order, ORDER, "submit_rectification", user)
    return order


# --- the expert's acceptance ----------------------------------------------------------------------


def verify(hazard_id, user, passed: bool, note):
    """验收 one rectified hazard. When none awaits acceptance, the order moves on: back to the
    enterprise if any was returned, else to the review."""
    note = (note or "").strip()
    with unit_of_work():
        hazard = fetch(Hazard, hazard_id, user)
        order = hazard.order
        _guard(order, user, "verify")
        if not passed and not note:
            raise Invalid(_("验收不合格时请填写意见"), errors={"note": [_("请填写意见")]})
        transition(
            hazard,
            HAZARD,
            "pass" if passed else "return",
            user,
            comment=note or None,
            values={"acceptance_note": note or None, "accepted_at": utcnow()},  # the status says 验收合格
        )
        db.session.flush()
        statuses = db.session.scalars(select(Hazard.status).where(Hazard.order_id == order.id)).all()
        if H.SUBMITTED not in statuses:
            if H.RETURNED in statuses or H.OPEN in statuses:
                target = O.RECTIFYING
            else:
                target = O.ORG_REVIEW if order.org_id else O.INSURER_REVIEW
            transition(order, ORDER, "verify", user, target=target)
    return hazard
