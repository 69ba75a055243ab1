"""Cross-tenant reports, read from the shared schema only (work index, sessions, rollups)."""
