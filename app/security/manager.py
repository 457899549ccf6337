"""The security manager: the extended user model and permission checks cached per request."""
from flask import g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager

from app.models import AppUser


class PlatformSecurityManager(SecurityManager):
    user_model = AppUser

    def _user_permissions(self, user):
        """Every (permission, view) the user holds: one query per role, once per request."""
        key = ("_perm_cache", getattr(user, "id", None))
        if has_request_context():
            cached = g.get("_perm_cache")
            if cached is not None and cached[0] == key:
                return cached[1]
        perms = self.get_user_permissions(user)
        if has_request_context():
            g._perm_cache = (key, perms)
        return perms

    def _has_view_access(self, user, permission_name, view_name):
        return (permission_name, view_name) in self._user_permissions(user)

    def _get_user_permission_view_menus(self, user, permission_name, view_menus_name):
        if user is None:
            return super()._get_user_permission_view_menus(user, permission_name, view_menus_name)
        perms = self._user_permissions(user)
        names = set(view_menus_name) if view_menus_name is not None else None
        return {v for p, v in perms if p == permission_name and (names is None or v in names)}

    # REST API keys (app/api/keys.py): FAB's protect() asks these two when FAB_API_KEY_ENABLED is on.
    @staticmethod
    def extract_api_key_from_request():
        from app.api.keys import key_from_request

        return key_from_request()

    def validate_api_key(self, api_key_string):
        from app.api.keys import authenticate

        return authenticate(api_key_string)
