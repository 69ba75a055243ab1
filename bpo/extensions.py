"""Flask extensions, created unbound; ``create_app`` binds them."""

from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from tenants.db import SharedModel

# Flask-SQLAlchemy owns the engine and its pool. Sessions are not its scoped
# session: every unit of work makes its own, bound to one tenant (bpo.core.uow).
db = SQLAlchemy(metadata=SharedModel.metadata)
login_manager = LoginManager()
csrf = CSRFProtect()
