"""What every rendered page takes from its request: the Content-Security-Policy nonce of the answer and
the page's language (``<html lang>``).

The nonce is made once per request, on first use, and the same value goes into the header
(app/web/hooks.py) and onto every ``<script>`` of the page: FAB's templates call ``csp_nonce()`` through
``baselib.get_nonce()``, ours too. A page that never asks for one gets a header without it.
"""

import secrets

from flask import g
from flask_babel import get_locale

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


def register_page_globals(app):
    app.jinja_env.globals.update(csp_nonce=csp_nonce, html_lang=html_lang, ui_locale=ui_locale)
