"""docs/api.md's quick start, run as written: its Python blocks, in order, against the app served on
127.0.0.1, with a webhook receiver (HTTPS, 127.0.0.1) standing in for the insurer's endpoint. After
the blocks ran, an event of the insurer arrives and the quick start's own ``verify_webhook`` accepts
its signature (and refuses a forged one)."""

import os
import re
from datetime import timedelta

import pytest
from api_helpers import issue_test_key
from api_live import LiveServer, Receiver, make_certificate
from sqlalchemy import select

from app.extensions import db
from app.models import InsuranceCompany, Policy
from app.models.enums import PolicyStatus

DOC = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "api.md")


def quickstart_blocks():
    text = open(DOC, encoding="utf-8").read()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_quickstart_has_every_step():
    code = "\n".join(quickstart_blocks())
    for needle in (
        "AZX_API_KEY",
        "/api/v1/policies/",
        '["next"]',
        "/changes",
        "next_cursor",
        "deletions",
        "/files",
        "If-None-Match",
        "/api/v1/webhooks/",
        "def verify_webhook",
    ):
        assert needle in code, needle


@pytest.fixture
def live(app, tmp_path, monkeypatch):
    cert, key = make_certificate(str(tmp_path))
    receiver = Receiver(cert, key)
    server = LiveServer(app).start()
    saved = {
        k: app.config.get(k) for k in ("WEBHOOK_CA_BUNDLE", "WEBHOOK_ALLOW_PRIVATE_NETWORKS", "API_SYNC_SETTLE_SECONDS")
    }
    app.config.update(WEBHOOK_CA_BUNDLE=cert, WEBHOOK_ALLOW_PRIVATE_NETWORKS=True, API_SYNC_SETTLE_SECONDS=0)
    _id, raw = issue_test_key(app, "人保财险")
    monkeypatch.setenv("AZX_BASE", server.url)
    monkeypatch.setenv("AZX_API_KEY", raw)
    monkeypatch.setenv("AZX_WEBHOOK_URL", receiver.url + "/core-system/hooks")
    yield receiver
    app.config.update(saved)
    server.stop()
    receiver.stop()


def test_quickstart_runs(app, live):
    namespace = {"__name__": "quickstart"}
    for block in quickstart_blocks():
        exec(compile(block, "docs/api.md (quick start)", "exec"), namespace)
    assert namespace["WEBHOOK_SECRET"].startswith("whsec_")
    assert namespace["first_page"]["count"] >= 1 and namespace["changed_policies"]
    # an event of the insurer: one of its policies ends within the month
    from app.api.webhooks import scan_expiring

    with app.app_context():
        picc = db.session.execute(select(InsuranceCompany.id).filter_by(short_name="人保财险")).scalar_one()
        policy = (
            db.session.execute(
                select(Policy)
                .where(Policy.insurer_id == picc, Policy.status == PolicyStatus.ACTIVE)
                .order_by(Policy.id)
            )
            .scalars()
            .first()
        )
        assert scan_expiring(policy.end_date - timedelta(days=5)) >= 1
    arrived = [r for r in live.requests if r["path"] == "/core-system/hooks"]
    assert arrived, "the registered endpoint received the event"
    verify = namespace["verify_webhook"]
    request = arrived[-1]
    assert verify(namespace["WEBHOOK_SECRET"], request["headers"], request["body"])
    assert not verify(namespace["WEBHOOK_SECRET"], request["headers"], request["body"].replace(b"policy", b"POLICY"))
    assert not verify("whsec_" + "A" * 32, request["headers"], request["body"])
