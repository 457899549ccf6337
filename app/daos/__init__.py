"""Queries that more than one page needs, as functions of explicit values (a filtered query, ids, a party),
never of ``request.args`` (Superset's ``daos/``). Every one goes through ``security/scope.py``."""
