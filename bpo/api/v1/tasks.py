"""API endpoints for tasks."""

from bpo.api.v1 import api_v1  # noqa: F401  (routes register on this blueprint)
