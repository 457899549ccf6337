"""Extension singletons. AppBuilder itself is created per app in create_app (see FAB_NOTES)."""

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

db = SQLA(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()
