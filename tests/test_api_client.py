"""A Python client generated from the served document by openapi-python-client, used as an insurer's
core system would: page its policies, sync the changes since a time, download a policy file. No
hand-written request: every call goes through the generated functions and models."""

import hashlib
import importlib
import shutil
import subprocess
import sys
from datetime import UTC, timedelta

import pytest
from api_helpers import build_world, issue_test_key, minimal_pdf
from api_live import LiveServer

from app.extensions import db
from app.models import Policy
from app.models.base import utcnow

GENERATOR_CONFIG = """\
content_type_overrides:
  application/pdf: application/octet-stream
  image/jpeg: application/octet-stream
  image/png: application/octet-stream
  application/problem+json: application/json
"""


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        return build_world()


@pytest.fixture(scope="module")
def server(app):
    live = LiveServer(app).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def generated(server, tmp_path_factory):
    """The client package generated from GET /api/v1/_openapi (fetched over HTTP, without a key)."""
    import httpx

    tool = shutil.which("openapi-python-client")
    if tool is None:
        pytest.fail("openapi-python-client is not installed (requirements-dev.txt)")
    root = tmp_path_factory.mktemp("client")
    spec = root / "openapi.json"
    r = httpx.get(server.url + "/api/v1/_openapi")
    assert r.status_code == 200
    spec.write_bytes(r.content)
    (root / "config.yaml").write_text(GENERATOR_CONFIG)
    out = subprocess.run(
        [
            tool,
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--output-path",
            str(root / "azx_client"),
            "--config",
            str(root / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Warning" not in out.stdout, out.stdout  # every operation and response was understood
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("azx_client")
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m == "azx_client" or m.startswith("azx_client.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def client_for(server, generated):
    def make(key):
        return generated.AuthenticatedClient(base_url=server.url, token=key, raise_on_unexpected_status=True)

    return make


def test_page_an_insurers_policies(app, world, client_for):
    from azx_client.api.policies import policies_list
    from azx_client.models import PoliciesListResponse200

    _id, key = issue_test_key(app, "人保财险")
    api = client_for(key)
    seen, page = [], 0
    while True:
        result = policies_list.sync(client=api, q=f"(page:{page},page_size:1,order_column:id,order_direction:asc)")
        assert isinstance(result, PoliciesListResponse200), result
        seen += [row.id for row in result.result]
        if result.next_ is None:
            break
        page += 1
    assert len(seen) == result.count == len(set(seen))
    with app.app_context():
        expected = {p.id for p in db.session.query(Policy).filter_by(insurer_id=_company(app, "人保财险"))}
    assert set(seen) == expected
    assert world["A"]["Policy"] in seen and world["B"]["Policy"] not in seen
    # the generated models carry numbers as numbers and timestamps as datetimes with their offset
    row = policies_list.sync(client=api, q="(page_size:1)").result[0]
    assert isinstance(row.premium, float)
    assert row.updated_at.utcoffset() == timedelta(hours=8)


def _company(app, short):
    from app.models import InsuranceCompany

    return db.session.query(InsuranceCompany.id).filter_by(short_name=short).scalar()


def test_sync_changes_since_a_time(app, world, client_for):
    from azx_client.api.policies import policies_changes

    _id, key = issue_test_key(app, "平安财险")
    api = client_for(key)
    app.config["API_SYNC_SETTLE_SECONDS"] = 0
    try:
        mark = utcnow()
        with app.app_context():
            policy = db.session.get(Policy, world["B"]["Policy"])
            policy.premium_deviation_reason = "核心系统同步测试"
            db.session.commit()
        since = (mark - timedelta(seconds=1)).replace(microsecond=0)
        changed, cursor = [], None
        while True:
            kwargs = {"cursor": cursor} if cursor else {"since": since.replace(tzinfo=UTC)}
            page = policies_changes.sync(client=api, page_size=50, **kwargs)
            changed += page.result
            cursor = page.next_cursor or cursor
            if not page.has_more:
                break
        assert world["B"]["Policy"] in [row.id for row in changed]
        assert all(row.updated_at >= since.replace(tzinfo=UTC) for row in changed)
        assert policies_changes.sync(client=api, cursor=cursor).result == []
    finally:
        app.config["API_SYNC_SETTLE_SECONDS"] = 2


def test_download_a_policy_file(app, world, client_for):
    from azx_client.api.policies import policies_file_download, policies_files, policies_get
    from azx_client.models import Problem

    from app.storage import attach, store_bytes

    pdf = minimal_pdf(b"% generated client\n")
    with app.app_context():
        policy = db.session.get(Policy, world["A"]["Policy"])
        stored = store_bytes(db.session, pdf, "保单.pdf", "policy_file", validate=False)
        db.session.flush()
        attach(stored, policy)
        policy.policy_file = stored
        db.session.commit()
        stored_id = stored.id
    _id, key = issue_test_key(app, "人保财险")
    api = client_for(key)
    pk = world["A"]["Policy"]
    row = policies_get.sync(pk, client=api).result
    assert row.policy_file_id == stored_id
    listing = policies_files.sync(pk, client=api).result
    assert [f.slot for f in listing if f.id == row.policy_file_id] == ["policy"]
    response = policies_file_download.sync_detailed(pk, row.policy_file_id, client=api)
    assert response.status_code == 200
    body = response.parsed.payload.read()
    assert body == pdf and response.headers["etag"] == f'"{hashlib.sha256(pdf).hexdigest()}"'
    # another company's key: the file does not exist for it
    _id, other = issue_test_key(app, "平安财险")
    answer = policies_file_download.sync(pk, row.policy_file_id, client=client_for(other).with_headers({}))
    assert isinstance(answer, Problem) and answer.code == "not_found"
