"""Queue names: one per kind of work, plus ``sla`` and ``default``."""

DATA_ENTRY = "data_entry"
ACCOUNTING = "accounting"
SUPPORT = "support"
SLA = "sla"
DEFAULT = "default"

ALL = (DATA_ENTRY, ACCOUNTING, SUPPORT, SLA, DEFAULT)
