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
