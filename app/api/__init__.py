"""The REST API (/api/v1/…) for insurers' and brokers' core systems: see docs/api.md and /swagger/v1."""
