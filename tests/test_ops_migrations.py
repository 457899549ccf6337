"""Migrations (issue 10, item 4): the models and the Alembic chain agree, and `flask db upgrade` on a
populated database of the first release's schema keeps every row.

The first release is the base of the chain (today the only migration, so the upgrade is a no-op that
must keep the data; each later migration is exercised by the same test). It is populated through the
app as `flask init --demo` does. Once a second migration exists, the ORM of the newest code no longer
fits the first schema: then freeze the first release's data as a SQL fixture and load that instead.
"""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from ops_support import KINDS, dispose, flask_cmd, fresh_database, make_app, revisions, table_columns, table_digests


def _script(app):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", app.extensions["migrate"].directory)
    return ScriptDirectory.from_config(config)


def _differences(connection):
    from app.extensions import db

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app):
    """On the session's database (SQLite, or PostgreSQL with TEST_DATABASE_URL): no autogenerate diff."""
    from app.extensions import db

    with app.app_context(), db.engine.connect() as connection:
        assert _differences(connection) == []


def test_chain_has_one_base_and_one_head(app):
    script = _script(app)
    assert len(script.get_bases()) == 1
    assert len(script.get_heads()) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_upgrade_from_first_release_keeps_data(kind, tmp_path, monkeypatch):
    from flask_migrate import upgrade

    from app.cli import initialise
    from app.extensions import db

    storage = tmp_path / "files"
    with fresh_database(kind, tmp_path) as url:
        app = make_app(url, storage)
        with app.app_context():
            script = _script(app)
            first, head = script.get_bases()[0], script.get_current_head()
            upgrade(directory=app.extensions["migrate"].directory, revision=first)
            monkeypatch.setattr("app.cli.upgrade_database", lambda: None)  # stay on the first schema
            initialise(demo=True, echo=lambda m: None)
            with db.engine.connect() as connection:
                assert revisions(connection) == {first}
                before = table_digests(connection)
        dispose(app)
        assert sum(count for count, _d, _c in before.values()) > 100  # populated, not an empty schema

        # As in production (docs/deploy.md): commands and workers leave the permission tables alone.
        settings = tmp_path / "azx_config.py"
        settings.write_text("FAB_UPDATE_PERMS = False\nAZX_SYNC_ROLES = False\n")
        result = flask_cmd(["db", "upgrade"], url, storage, AZX_CONFIG=str(settings))
        assert result.returncode == 0, result.stderr[-3000:]

        with app.app_context(), db.engine.connect() as connection:
            assert revisions(connection) == {head}
            after = table_digests(connection, columns=table_columns(before))
            # alembic_version holds the revision itself, which the upgrade changes by design
            changed = [n for n in before if n != "alembic_version" and after.get(n, (None, None))[:2] != before[n][:2]]
            assert changed == []
            assert _differences(connection) == []
        dispose(app)
