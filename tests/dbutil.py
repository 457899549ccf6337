"""Fresh PostgreSQL databases for test runs."""

import re
import uuid

from config import normalise_db_url


def create_pg_database(url):
    import psycopg

    base = normalise_db_url(url)
    name = f"azx_test_{uuid.uuid4().hex[:10]}"
    admin_dsn = re.sub(r"^postgresql\+psycopg://", "postgresql://", base)
    admin_dsn = re.sub(r"/[^/?]*(\?|$)", r"/postgres\1", admin_dsn, count=1) if admin_dsn.count("/") >= 3 else admin_dsn
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", base, count=1), admin_dsn, name


def drop_pg_database(admin_dsn, name):
    import psycopg

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
