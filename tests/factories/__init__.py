"""Test setup shared by the test areas, one module per area (``from factories.insurance import …``):

- ``database`` — test databases: the built database (schema, reference and demo data) cached per
  Alembic head and code hash, PostgreSQL template databases, fresh empty databases;
- ``chains`` — the insured chain (project → application → policy → claim → order) as plain rows;
- ``api`` — the two-chain world of the REST API tests, JWT and API-key clients;
- ``insurance`` — projects, applications and policies brought to a state through the services;
- ``prevention`` — policies, orders brought to a state through the services, photos with EXIF;
- ``departments`` — the hand-built 漠河 world of the departments' statistics;
- ``ops`` — fresh databases, extra apps, table digests and ``flask`` subprocesses.
"""

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
