"""In-app notifications: what the platform tells one staff member (SLA warnings and
breaches so far, written by :mod:`bpo.sla.sweep`)."""
