"""Thin blueprints, one per audience, plus health checks and error pages."""

from flask import Flask


def register_web(app: Flask) -> None:
    from bpo.web import errors, filters, health
    from bpo.web.admin import admin
    from bpo.web.agent import agent
    from bpo.web.auth import auth
    from bpo.web.portal import portal
    from bpo.web.supervisor import supervisor

    errors.register(app)
    filters.register(app)
    app.register_blueprint(health.health)
    for blueprint in (auth, portal, agent, supervisor, admin):
        app.register_blueprint(blueprint)
