from flask import g, redirect
from flask_appbuilder import IndexView, expose

from app.security.roles import MENU


class HomeView(IndexView):
    """The landing page: a signed-in user goes to the first page of his or her menu."""

    route_base = ""
    index_template = "azx_index.html"

    @expose("/")
    def index(self):
        user = getattr(g, "user", None)
        if user is not None and user.is_authenticated:
            sm = self.appbuilder.sm
            for item in self.appbuilder.menu.get_list():
                for child in item.childs or [item]:
                    if child.name in MENU and sm.has_access("menu_access", child.name) and child.get_url():
                        return redirect(child.get_url())
        return self.render_template(self.index_template, appbuilder=self.appbuilder)
