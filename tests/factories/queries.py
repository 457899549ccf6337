"""Counting the SQL a piece of code issues (query budgets are asserted, times are benchmarked)."""

from contextlib import contextmanager

from sqlalchemy import event

from app.extensions import db

_ISOLATION = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def counting(app):
    """The statements run on the app's engine inside the block, but the test's own savepoints."""
    with app.app_context():
        engine = db.engine
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith(_ISOLATION):  # the test's own transaction, not the page's
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
