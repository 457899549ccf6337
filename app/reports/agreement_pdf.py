"""《用户协议》 as a PDF, pre-filled with the enterprise's and the project's data, to print, stamp, scan
and upload (manual 附件 1). WeasyPrint with the WenQuanYi Micro Hei font embedded, tagged PDF/UA-1 (reports/pdf.py)."""

from flask import render_template

from app import clock


def agreement_html(enterprise, project, insurer=None, broker=None, plan=None, today=None):
    return render_template(
        "insurance/agreement_pdf.html",
        enterprise=enterprise,
        project=project,
        insurer=insurer,
        broker=broker,
        plan=plan,
        today=today or clock.today(),
    )


def agreement_pdf(enterprise, project, insurer=None, broker=None, plan=None, today=None) -> bytes:
    from .pdf import write_pdf

    return write_pdf(agreement_html(enterprise, project, insurer, broker, plan, today))
