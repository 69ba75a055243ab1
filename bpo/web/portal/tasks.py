"""Portal pages for tasks: submit each type, list and search, a task's page, cancel."""

from bpo.web.portal import portal  # noqa: F401  (routes register on this blueprint)
