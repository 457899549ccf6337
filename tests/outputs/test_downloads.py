"""Every download names itself twice (reports/download.py): the UTF-8 name in filename* and an ASCII twin
(pinyin plus the date) in filename, so that curl -OJ and old mail gateways save a real name; CSV says its
charset once."""

import re
from urllib.parse import unquote

from factories import insurance as f
from factories.prevention import ctx, order_in  # noqa: F401  (ctx is a fixture)

from app import clock
from app.models.insurance import APPLICATION_FILE_SLOTS
from app.reports.download import ascii_filename, content_disposition


def names(response):
    header = response.headers["Content-Disposition"]
    plain = re.search(r'filename="([^"]*)"', header).group(1)
    utf8 = unquote(re.search(r"filename\*=UTF-8''(\S+)", header).group(1))
    assert plain.isascii() and re.fullmatch(r"[a-z0-9-]+-\d{8}(\.[a-z0-9]+)?", plain), plain
    assert plain.endswith(clock.today().strftime("%Y%m%d") + plain[plain.rfind(".") :] if "." in plain else "")
    return header.split(";")[0], plain, utf8


def test_the_ascii_twin(app):
    with app.app_context():
        assert ascii_filename("保单台帐.xlsx").startswith("baodantaizhang-") and ascii_filename("()-.zip").startswith(
            "download-"
        )
        assert ascii_filename("用户协议-哈尔滨XX项目.pdf").startswith("yonghuxieyi-haerbin-xx-xiangmu-")
        assert content_disposition("a b.pdf", inline=True).startswith('inline; filename="a-b-')


def test_every_download_carries_both_names(app, as_user):
    with app.app_context():
        application = f.make_application("pending_review")
        app_id, project_id, project_name = application.id, application.project_id, application.project.name
        stored = getattr(application, APPLICATION_FILE_SLOTS[0] + "_file")
        stored_id, stored_name = stored.id, stored.original_name
    insurer, enterprise = as_user("insurer_picc"), as_user("enterprise_demo")

    bundle = insurer.get(f"/applications/{app_id}/bundle")
    kind, plain, utf8 = names(bundle)
    assert kind == "attachment" and plain.endswith(".zip") and utf8.endswith(".zip")

    agreement = enterprise.get(f"/applications/agreement/{project_id}")
    kind, plain, utf8 = names(agreement)
    assert kind == "inline" and plain.startswith("yonghuxieyi-") and utf8 == f"用户协议-{project_name}.pdf"

    kind, plain, utf8 = names(insurer.get(f"/files/{stored_id}"))
    assert kind == "attachment" and utf8 == stored_name

    for url in ("/ledger/export/?fmt=xlsx", "/ledger/export/?fmt=csv"):
        kind, plain, utf8 = names(insurer.get(url))
        assert plain.startswith("baodantaizhang-") and utf8.startswith("保单台帐.")
    csv = insurer.get("/ledger/export/?fmt=csv")
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv.data.startswith(b"\xef\xbb\xbf")


def test_the_report_pdf_carries_both_names(ctx, as_user):
    oid, _policy, _hazards = order_in("completed", hazards=0)
    kind, plain, utf8 = names(as_user("insurer_picc").get(f"/reports/pdf/{oid}"))
    assert kind == "attachment" and plain.startswith("shiguyufangfuwubaogao-")
    assert utf8.startswith("事故预防服务报告_")
