"""事故预防服务报告 as PDF (WeasyPrint): project, experts and qualifications, sign-in, service record,
hazards with their photos and rectification, reviews. The CJK font is embedded, photos are inlined
as data URIs (no URL fetching), pages are numbered, tagged PDF/UA-1 (reports/pdf.py)."""

import base64

from flask import render_template

from app.storage import get_storage

FONT_FAMILY = '"WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif'


def data_uri(stored_file):
    if stored_file is None or not stored_file.is_image:
        return None
    data = get_storage().read(stored_file.key)
    return f"data:{stored_file.content_type};base64," + base64.b64encode(data).decode("ascii")


def _data_only(url, *args, **kwargs):
    """Inline data: URIs only; the report never fetches files or network resources."""
    from weasyprint.urls import default_url_fetcher

    if not url.startswith("data:"):
        raise ValueError("the report fetches no external resources")
    return default_url_fetcher(url, *args, **kwargs)


def report_html(order, draft=False):
    from app.models.enums import HazardLevel, HazardStatus, OrderStatus, ReviewStage, Verdict

    return render_template(
        "prevention/report_pdf.html",
        order=order,
        visit=order.visit,
        hazards=order.hazards,
        reviews=order.reviews,
        data_uri=data_uri,
        font_family=FONT_FAMILY,
        HazardLevel=HazardLevel,
        HazardStatus=HazardStatus,
        OrderStatus=OrderStatus,
        ReviewStage=ReviewStage,
        Verdict=Verdict,
        draft=draft,
    )


def render_service_report(order, draft=False) -> bytes:
    """The report of ``order`` (already fetched through the scope by the caller) as PDF bytes; a
    ``draft`` (before the insurer's verdict) says 草稿 in its title and across every page."""
    from .pdf import write_pdf

    return write_pdf(report_html(order, draft), url_fetcher=_data_only)
