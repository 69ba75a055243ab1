"""Imports every model module so both metadata objects are complete."""

from bpo.audit import models as audit_models
from bpo.identity import models as identity_models
from bpo.sla import models as sla_models
from bpo.work import models as work_models
from bpo.workforce import models as workforce_models
from tenants import models as tenant_models

__all__ = [
    "audit_models",
    "identity_models",
    "sla_models",
    "tenant_models",
    "work_models",
    "workforce_models",
]
