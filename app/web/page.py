"""What every rendered page takes from its request: the Content-Security-Policy nonce of the answer, the
page's language (``<html lang>``) and the menu bar.

The nonce is made once per request, on first use, and the same value goes into the header
(app/web/hooks.py) and onto every ``<script>`` of the page: FAB's templates call ``csp_nonce()`` through
``baselib.get_nonce()``, ours too. A page that never asks for one gets a header without it.
"""

import secrets
import threading

from flask import current_app, g, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

# the UI languages of config.LANGUAGES as BCP 47 tags
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def csp_nonce():
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = g.csp_nonce = secrets.token_urlsafe(18)
    return nonce


def html_lang(locale=None):
    code = str(locale or get_locale() or "zh").split("_")[0]
    return HTML_LANG.get(code, code)


def ui_locale():
    """The language the page is shown in, as a key of config.LANGUAGES."""
    return str(get_locale() or "zh").split("_")[0]


# The rendered menu bar per (permission set, language, script root, platform admin or not), per worker
_MENUS: dict = {}
_MENUS_MAX = 256
_menus_lock = threading.Lock()


def navbar_menu():
    """The menu bar's entries (appbuilder/navbar_menu.html), rendered once per permission set.

    What the bar shows is decided by the user's permissions alone (FAB's ``is_menu_visible`` is a
    ``menu_access`` check) and by whether the user is the platform administrator, who gets the business
    menus folded; its labels by the language, its links by the script root. The permission set is read
    on every request anyway (one query, app/security/manager.py), so a role edited on any worker
    changes the key at once: nothing goes stale, and the ~40 permission checks and the macro calls of
    the bar are skipped on every page after the first of its kind."""
    from app.security.roles import is_platform_admin

    sm = current_app.appbuilder.sm
    user = current_user._get_current_object()  # who FAB's has_access asks about (anonymous: the public role)
    key = (frozenset(sm.user_permissions(user)), ui_locale(), request.script_root, is_platform_admin(user))
    html = _MENUS.get(key)
    if html is None:
        html = Markup(render_template("appbuilder/navbar_menu.html", menu=current_app.appbuilder.menu))
        with _menus_lock:
            if len(_MENUS) >= _MENUS_MAX:
                _MENUS.clear()
            _MENUS[key] = html
    return html


def register_page_globals(app):
    app.jinja_env.globals.update(csp_nonce=csp_nonce, html_lang=html_lang, ui_locale=ui_locale, navbar_menu=navbar_menu)
