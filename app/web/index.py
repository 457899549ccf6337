from flask import g, redirect
from flask_appbuilder import IndexView, expose
from flask_babel import lazy_gettext as _

from app.security.roles import MENU, is_platform_admin


class HomeView(IndexView):
    """The landing page: the platform administrator sees 平台概览; any other signed-in user goes to the
    first page of his or her menu."""

    route_base = ""
    index_template = "azx_index.html"

    @expose("/")
    def index(self):
        user = getattr(g, "user", None)
        if user is not None and user.is_authenticated:
            sm = self.appbuilder.sm
            if is_platform_admin(user):
                from app.services.overview import platform_overview

                return self.render_template(
                    "azx_overview.html",
                    overview=platform_overview(),
                    links=self._admin_links(),
                    appbuilder=self.appbuilder,
                )
            for item in self.appbuilder.menu.get_list():
                for child in item.childs or [item]:
                    if child.name in MENU and sm.has_access("menu_access", child.name) and child.get_url():
                        return redirect(child.get_url())
        return self.render_template(self.index_template, appbuilder=self.appbuilder)

    def _admin_links(self):
        """用户, 角色, 账号管理 and every 基础数据 page, from the menu (the role matrix names them)."""
        from flask import url_for

        sm = self.appbuilder.sm
        links = [
            (str(_("用户")), url_for(type(sm.user_view).__name__ + ".list")),
            (str(_("角色")), url_for(sm.rolemodelview.__name__ + ".list")),
        ]
        for item in self.appbuilder.menu.get_list():
            for child in item.childs or []:
                entry = MENU.get(child.name)
                if entry and entry[1] in ("cat_reference", "cat_audit") and child.get_url():
                    links.append((str(entry[0]), child.get_url()))
        return links
