"""The role matrix and the views agree: every permission a built-in role holds is mapped by a method of a
registered view (none is granted for nothing), and every permission a view maps is held by some built-in
role, unless the view is the platform administrators' own (they hold every permission)."""

from app.security.roles import ROLES, SELF_SERVICE, role_permission_pairs

# Views only platform administrators use: reference data, audit, accounts, API keys.
# UserDBModelView: FAB's user pages (app/views/auth.py subclasses them only to show "—" for empty
# values); every role holds just its self-service pair (can_userinfo, resetmypassword).
ADMIN_ONLY = {"ReferenceData", "FlowEvent", "AuditLog", "Account", "ApiKeyAdmin", "UserDBModelView"}


def _mapped(app, ours_only=False):
    """{(can_<name>, resource)} that the registered views' methods require (``ours_only``: the platform's
    views, not FAB's own security pages)."""
    pairs = set()
    for view in app.appbuilder.baseviews:
        if ours_only and not type(view).__module__.startswith("app."):
            continue
        resource = getattr(view, "class_permission_name", None)
        mapping = getattr(view, "method_permission_name", None) or {}
        for method in dir(type(view)):
            # FAB's has_access/protect mark a method with the permission it needs (unless mapped)
            # (a view that maps its methods serves the unmapped ones — FAB's generic forms — as 404)
            own = getattr(getattr(type(view), method, None), "_permission_name", None)
            if own is not None and (method in mapping or not mapping):
                pairs.add(("can_" + mapping.get(method, own), resource))
        for perm in getattr(view, "base_permissions", None) or []:
            if perm.startswith("can_") and perm[4:] in mapping.values():
                pairs.add((perm, resource))
    return pairs


def test_every_granted_permission_is_mapped_by_a_view_method(app):
    mapped = _mapped(app)
    for role in ROLES:
        granted = {p for p in role_permission_pairs(role) if p[0] != "menu_access"} - set(SELF_SERVICE)
        unmapped = sorted(p for p in granted if p not in mapped)
        assert unmapped == [], (role, unmapped)


def test_every_mapped_permission_is_held_by_some_role(app):
    held = set().union(*(role_permission_pairs(role) for role in ROLES))
    orphans = sorted(p for p in _mapped(app, ours_only=True) if p not in held and p[1] not in ADMIN_ONLY)
    assert orphans == []


def test_fab_reports_no_permission_mapped_to_nothing(app, caplog):
    """FAB warns at start about a permission a view's method map names but no method uses."""
    with app.app_context():
        for view in app.appbuilder.baseviews:
            mapping = getattr(view, "method_permission_name", None) or {}
            methods = {name for name in dir(type(view)) if callable(getattr(type(view), name, None))}
            stale = [m for m in mapping if m not in methods]
            assert stale == [], (type(view).__name__, stale)
