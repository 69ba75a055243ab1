"""Portal pages for CSV batches: upload, preview every bad row, confirm, export."""

from bpo.web.portal import portal  # noqa: F401  (routes register on this blueprint)
