"""The WSGI entry point: ``gunicorn wsgi:app``."""

from bpo import create_app

app = create_app()
