"""People and credentials: staff, client users, tenant memberships, API tokens."""
