"""Signed-challenge CA login in a real browser: the user picks a key file, WebCrypto signs the nonce in
the page, only certificate and signature are posted, and the enterprise lands on its 企业信息.

The harness's run.py server cannot be told which CA to trust, so this module serves the test session's
app in a thread with CA_BUNDLE pointing at a CA made here; the browser is the harness's."""

import socket
import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app.cli.ca import make_ca, make_client_certificate, pem_certificate, pem_private_key
from app.demo.data import make_credit_code

# commits: the test app itself is served from a thread, whose requests need their own connections
pytestmark = [pytest.mark.browser, pytest.mark.commits]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ca_files(db_url, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ca-browser")
    ca_cert, ca_key = make_ca("浏览器测试CA")
    (folder / "ca.pem").write_bytes(pem_certificate(ca_cert))
    files = {"ca": str(folder / "ca.pem")}
    for kind in ("rsa", "ec"):
        code = make_credit_code("230102", 70000000 + (1 if kind == "rsa" else 2))
        cert, key = make_client_certificate(
            ca_cert, ca_key, code, f"浏览器测试{kind.upper()}建设有限公司", key_type=kind
        )
        (folder / f"{kind}.pem").write_bytes(pem_certificate(cert))
        (folder / f"{kind}-key.pem").write_bytes(pem_private_key(key))
        files[kind] = (str(folder / f"{kind}.pem"), str(folder / f"{kind}-key.pem"), code)
    return files


@pytest.fixture(scope="module")
def ca_live_url(app, ca_files):
    previous = app.config.get("CA_BUNDLE")
    app.config["CA_BUNDLE"] = ca_files["ca"]
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    app.config["CA_BUNDLE"] = previous


@pytest.fixture
def ca_page(browser, ca_live_url):
    """A page on this module's own server (its app trusts the test CA); `browser` is the harness's."""
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(ca_live_url) else route.abort())
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_challenge_login_with_key_file(ca_page, ca_live_url, ca_files, kind):
    cert_file, key_file, code = ca_files[kind]
    posted = []
    ca_page.on("request", lambda r: posted.append(r.post_data or "") if r.method == "POST" else None)
    ca_page.goto(ca_live_url + "/login/")
    assert ca_page.locator("#ca-login").is_visible()
    ca_page.click("#challenge-login-link")
    ca_page.set_input_files("#ca-files", [cert_file, key_file])
    with ca_page.expect_navigation(url="**/my/enterprise/"):
        ca_page.click("#ca-sign")
    body = ca_page.content()
    assert "请完善企业信息" in body and code in body
    # the private key never left the browser: only certificate and signature were posted
    assert posted and all("PRIVATE" not in p for p in posted)


def test_key_file_without_certificate_explains(ca_page, ca_live_url, ca_files):
    _cert_file, key_file, _code = ca_files["rsa"]
    ca_page.goto(ca_live_url + "/login/ca/")
    ca_page.set_input_files("#ca-files", [key_file])
    ca_page.click("#ca-sign")
    # the files are read and checked in the page's script, after the click returns
    expect(ca_page.locator("#ca-error")).to_contain_text("没有证书")
