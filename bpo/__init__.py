"""The BPO operations platform: a Flask application built by :func:`create_app`."""

from bpo.app import create_app

__all__ = ["create_app"]
