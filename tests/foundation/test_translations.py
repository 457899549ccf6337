"""Every string the code and templates mark for translation has its English translation, and a
translated page really is English."""

import os
import subprocess
import sys

from babel.messages.pofile import read_po

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_marked_string_has_an_english_translation(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "lazy_gettext",
            "-k",
            "_",
            "-k",
            "N_",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(pot, "rb") as fh:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    with open(os.path.join(ROOT, "app", "translations", "en", "LC_MESSAGES", "messages.po"), "rb") as fh:
        english = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in read_po(fh) if m.id}
    missing = sorted(w for w in wanted if w not in english or not english[w].string or english[w].fuzzy)
    assert not missing, (
        f"{len(missing)} strings without English (run pybabel update, translate, compile): {missing[:10]}"
    )


def test_english_pages_speak_english(as_user):
    client = as_user("insurer_picc")
    client.get("/lang/en")
    page = client.get("/applications/list/").get_data(as_text=True)
    for text in ("Statistics", "Total", "per page", "Export"):
        assert text in page, text
    client.get("/lang/zh")
    assert "统计" in client.get("/applications/list/").get_data(as_text=True)


def _placeholders(text):
    # %(name)s-style fields and %% escapes; a lone % is an error once the string is formatted (Jinja's
    # _() formats every string, with or without variables)
    import re

    field = r"%\([a-z_]+\)[-#0 +]*\d*(?:\.\d+)?[sdf]|%%"
    return sorted(re.findall(field, text)), re.sub(field, "", text).count("%")


def test_translations_keep_their_placeholders():
    problems = []
    for lang in ("en", "zh"):
        with open(os.path.join(ROOT, "app", "translations", lang, "LC_MESSAGES", "messages.po"), "rb") as fh:
            for m in read_po(fh):
                if not m.id or not m.string or not isinstance(m.string, str):
                    continue
                wanted, _lone = _placeholders(m.id)
                got, lone = _placeholders(m.string)
                if lone or [p for p in got if p != "%%"] != [p for p in wanted if p != "%%"]:
                    problems.append(f"{lang}: {m.id[:40]!r} → {m.string[:60]!r}")
    assert problems == []
